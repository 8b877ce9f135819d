"""Surge rules without Faust: a synthetic stream of timestamps counted per window, as the agent does."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.alerts.rules import CompiledWatch, compile_watch
from pipeline.alerts.surge import (
    SurgeMention,
    check,
    counts_subject,
    evaluate,
    event_time,
    is_recent,
    mentions,
    route,
    scope_of,
    subjects_of,
    surge_alert,
    window_start,
)
from pipeline.enrich.registry import Entity, EntityRegistry
from pipeline.models import Alert, Article, EntityMention, Surge, TopicScore, Watch

REGISTRY = EntityRegistry.build(
    [
        Entity(
            id="Q7747", type="PER", name_ar="فلاديمير بوتين", name_en="Vladimir Putin", aliases_ar=("بوتين",)
        ),
        Entity(id="Q423", type="LOC", name_ar="كوريا الشمالية", name_en="North Korea"),
    ]
)
TOPICS = {"space", "sport"}
PUTIN = "entity:Q7747"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
HOUR = 3600.0


def _mention(entity_id: str, name: str) -> EntityMention:
    return EntityMention(
        type="PER", surface=name, canonical_id=entity_id, canonical_name=name, field="title", start=0, end=1
    )


def _article(n: int = 1, *, entities: tuple[str, ...] = ("Q7747",), **kw: object) -> Article:
    names = {"Q7747": "فلاديمير بوتين", "Q423": "كوريا الشمالية"}
    base: dict[str, object] = dict(
        id=f"article-{n:04d}",
        source="rt_arabic",
        title=f"عنوان {n}",
        url=f"https://example.com/{n}",
        language="ar",
        published=T0,
        fetched=T0,
        entities=[_mention(e, names[e]) for e in entities],
    )
    base.update(kw)
    return Article.model_validate(base)


def _watch(surge: Surge | None = None, **kw: object) -> CompiledWatch:
    fields: dict[str, object] = {"id": "putin-surge", "name": "Putin surge", "entities": ["بوتين"]}
    fields.update(kw)
    return compile_watch(Watch.model_validate({**fields, "surge": surge or Surge()}), REGISTRY, TOPICS)


def _run(cw: CompiledWatch, timestamps: list[float], subject: str = PUTIN) -> list[Alert]:
    """Count each article in its window and keep the first alert per id, as the agent and store do."""
    spec = cw.watch.surge
    assert spec is not None
    size = spec.window_s
    counts: defaultdict[float, int] = defaultdict(int)
    alerts: dict[str, Alert] = {}
    for n, ts in enumerate(timestamps):
        start = window_start(ts, size)
        counts[start] += 1
        history = [counts[start - i * size] for i in range(spec.baseline_windows + 2)]
        result = evaluate(history, spec)
        if result is not None:
            at = datetime.fromtimestamp(ts, UTC)
            article = _article(n, published=at, fetched=at)
            (mention,) = mentions(article, route(article, [cw]), event_time(article, at))
            alert = surge_alert(cw.watch, subject, start, result, mention)
            alerts.setdefault(alert.id, alert)
    return list(alerts.values())


def _hour(h: int, n: int) -> list[float]:
    """`n` articles spread over hour `h` after T0."""
    return [T0.timestamp() + h * HOUR + (i + 1) * HOUR / (n + 1) for i in range(n)]


def _surge_id(watch_id: str, hour: int, subject: str = PUTIN) -> str:
    start = (T0 + timedelta(hours=hour)).isoformat()
    return Alert.make_id(watch_id, f"surge:{subject}:{start}")


def test_one_alert_per_surge_across_windows_and_a_second_surge_after_calm() -> None:
    stream = [
        *[ts for h, n in enumerate([1, 2, 1, 2, 1, 2]) for ts in _hour(h, n)],  # baseline 1.5/h
        *_hour(6, 12),  # surge
        *_hour(7, 10),  # still surging: no second alert
        *[ts for h in range(8, 13) for ts in _hour(h, 1)],  # calm
        *_hour(13, 9),  # a new surge
    ]
    alerts = _run(_watch(), stream)

    assert [a.id for a in alerts] == [_surge_id("putin-surge", 6), _surge_id("putin-surge", 13)]
    first, second = alerts
    assert first.kind == "surge"
    ev = first.evidence[0]
    # fires on the 5th article of hour 6 (min_count 5 > 3 × 1.5)
    assert (ev.kind, ev.value, ev.count) == ("surge", "Q7747", 5)
    assert ev.surface == "5 articles in 1h (baseline 1.5)"
    assert ev.snippet == "فلاديمير بوتين"
    assert first.article_id == "article-0013"  # 9 baseline articles, then the 5th of the surge
    # hour 13: baseline (10 + 5 × 1) / 6 = 2.5, threshold 7.5 → the 8th article crosses
    assert (second.evidence[0].count, second.evidence[0].surface) == (8, "8 articles in 1h (baseline 2.5)")
    assert (second.watch_id, second.watch_name) == ("putin-surge", "Putin surge")


def test_redelivered_and_later_articles_of_the_window_give_the_same_id() -> None:
    stream = [*_hour(0, 6), *_hour(0, 3)]  # a replay of part of the hour
    alerts = _run(_watch(), stream)
    assert [a.id for a in alerts] == [_surge_id("putin-surge", 0)]


def test_min_count_is_respected() -> None:
    cw = _watch(Surge(min_count=5, baseline_windows=2))
    assert _run(cw, _hour(3, 4)) == []
    assert [a.evidence[0].count for a in _run(cw, _hour(3, 5))] == [5]


def test_all_zero_baseline_lets_min_count_decide() -> None:
    spec = Surge(min_count=3, factor=10.0, baseline_windows=4)
    result = check(3, [0, 0, 0, 0], spec)
    assert (result.baseline, result.threshold, result.surging) == (0.0, 3.0, True)
    assert not check(2, [], spec).surging


@pytest.mark.parametrize(
    ("count", "previous", "threshold", "surging"),
    [
        (9, [3, 3, 3], 9.0, True),  # factor × mean
        (8, [3, 3, 3], 9.0, False),
        (5, [1, 1, 1], 5.0, True),  # min_count above factor × mean
        (9, [3, 3, 3, 100], 9.0, True),  # only baseline_windows count
        (9, [9], 9.0, True),  # missing windows count as 0: mean 3
    ],
)
def test_check(count: int, previous: list[int], threshold: float, surging: bool) -> None:
    result = check(count, previous, Surge(factor=3.0, min_count=5, baseline_windows=3))
    assert (result.threshold, result.surging) == (threshold, surging)


def test_a_surge_needs_a_calm_previous_window() -> None:
    spec = Surge(factor=2.0, min_count=4, baseline_windows=2)
    assert evaluate([8, 1, 1, 1], spec) is not None
    assert evaluate([8, 8, 1, 1], spec) is None  # the previous window already surged
    assert evaluate([8], spec) is not None  # nothing before: all zero


def test_a_subject_the_watch_does_not_name_is_ignored() -> None:
    cw = _watch()
    korea = _article(entities=("Q423",))
    assert route(korea, [cw]) == {}
    assert not counts_subject(cw, "entity:Q423")
    assert not counts_subject(cw, "topic:space")
    # only what some watch counts is routed to the counts
    both = _article(entities=("Q7747", "Q423"))
    assert list(route(both, [cw])) == [PUTIN]


def test_a_watch_without_subjects_counts_every_entity_and_topic() -> None:
    cw = compile_watch(Watch(id="all", surge=Surge()), REGISTRY, TOPICS)
    article = _article(entities=("Q7747", "Q423"), topics=[TopicScore(id="space", score=0.5)])
    assert route(article, [cw]) == {PUTIN: [""], "entity:Q423": [""], "topic:space": [""]}


def test_paused_and_plain_watches_route_nothing() -> None:
    paused = _watch(paused=True)
    plain = compile_watch(Watch(id="plain", entities=["بوتين"]), REGISTRY, TOPICS)
    assert route(_article(), [paused, plain]) == {}


def test_source_restricted_watches_count_in_their_own_scope() -> None:
    everywhere = _watch()
    hespress = _watch(id="hespress", sources=["hespress"], languages=["ar"])
    assert scope_of(hespress.watch) == "sources=hespress;languages=ar"
    assert route(_article(source="hespress"), [everywhere, hespress]) == {
        PUTIN: ["", "sources=hespress;languages=ar"]
    }
    assert route(_article(source="other"), [everywhere, hespress]) == {PUTIN: [""]}


def test_subjects_are_counted_once_per_article() -> None:
    article = _article(
        entities=("Q7747", "Q7747", "Q423"),
        topics=[TopicScore(id="space", score=0.9), TopicScore(id="space", score=0.8)],
    )
    assert subjects_of(article) == [PUTIN, "entity:Q423", "topic:space"]


def test_event_time_is_published_clamped_then_fetched() -> None:
    now = T0 + timedelta(hours=2)
    fetched = T0 + timedelta(hours=1)
    assert event_time(_article(published=T0, fetched=fetched), now) == T0
    future = T0 + timedelta(days=1)
    assert event_time(_article(published=future, fetched=fetched), now) == fetched
    assert event_time(_article(published=None, fetched=fetched), now) == fetched
    assert event_time(_article(published=future, fetched=future), now) == now


def test_windows_are_aligned_to_the_epoch() -> None:
    ts = (T0 + timedelta(hours=5, minutes=59, seconds=59)).timestamp()
    assert window_start(ts, HOUR) == (T0 + timedelta(hours=5)).timestamp()
    assert window_start(ts, 900) == (T0 + timedelta(hours=5, minutes=45)).timestamp()


def test_only_the_current_and_previous_windows_alert() -> None:
    now = (T0 + timedelta(hours=5, minutes=10)).timestamp()
    assert is_recent((T0 + timedelta(hours=5)).timestamp(), HOUR, now)
    assert is_recent((T0 + timedelta(hours=4)).timestamp(), HOUR, now)
    assert not is_recent((T0 + timedelta(hours=3)).timestamp(), HOUR, now)


def test_mention_message_is_utf8_json_with_the_alert_fields() -> None:
    article = _article(story_id="story-1")
    (mention,) = mentions(article, route(article, [_watch()]), T0)
    raw = mention.to_json()
    assert "فلاديمير".encode() in raw  # not ASCII-escaped
    data = json.loads(raw)
    assert data["subject"] == PUTIN and data["article_id"] == article.id and data["story_id"] == "story-1"
    assert SurgeMention.model_validate_json(raw) == mention


def test_a_count_exactly_factor_times_the_mean_surges() -> None:
    spec = Surge(factor=1.1, min_count=5, baseline_windows=3)  # 1.1 × 50 is 55.00000000000001 in floats
    assert check(55, [50, 50, 50], spec).surging
    assert not check(54, [50, 50, 50], spec).surging
    assert check(7, [2, 2, 3], Surge(factor=3.0, min_count=5, baseline_windows=3)).surging  # 3 × 7/3
