from __future__ import annotations

import pytest

from pipeline.alerts.rules import compile_watch, match_watch, snippet
from pipeline.enrich.registry import Entity, EntityRegistry
from pipeline.errors import ConfigError
from pipeline.models import Article, EntityMention, TopicScore, Watch

REGISTRY = EntityRegistry.build(
    [
        Entity(
            id="Q7747", type="PER", name_ar="فلاديمير بوتين", name_en="Vladimir Putin", aliases_ar=("بوتين",)
        )
    ]
)
TOPICS = {"space", "sport"}


def _article(**kw: object) -> Article:
    body = "وقال وبوتين إن الهدنة في غزة ستبدأ غداً بعد اتفاق وقف إطلاق النار."
    base: dict[str, object] = dict(
        id="a" * 32,
        source="rt_arabic",
        title="عنوان",
        body=body,
        language="ar",
        entities=[
            EntityMention(
                type="PER",
                surface="بوتين",
                canonical_id="Q7747",
                canonical_name="فلاديمير بوتين",
                field="body",
                start=6,
                end=11,
            )
        ],
        topics=[TopicScore(id="space", score=0.6)],
    )
    base.update(kw)
    return Article.model_validate(base)


def test_entity_watch_given_by_arabic_name_fires_with_evidence() -> None:
    cw = compile_watch(Watch(id="putin", entities=["بوتين"]), REGISTRY, TOPICS)
    alert = match_watch(cw, _article(), REGISTRY.analyzer)
    assert alert is not None
    ev = alert.evidence[0]
    assert (ev.kind, ev.value, ev.surface, ev.field) == ("entity", "Q7747", "بوتين", "body")
    assert "بوتين" in ev.snippet


@pytest.mark.parametrize(
    ("phrase", "surface"),
    [("وقف إطلاق النار", "وقف إطلاق النار"), ("هدنة", "الهدنة"), ("غزه", "غزة")],
)
def test_phrase_watch_matches_normalised_text_with_clitics(phrase: str, surface: str) -> None:
    cw = compile_watch(Watch(id="w", words=[phrase]), REGISTRY, TOPICS)
    alert = match_watch(cw, _article(), REGISTRY.analyzer)
    assert alert is not None and alert.evidence[0].surface == surface


def test_phrase_must_be_contiguous() -> None:
    cw = compile_watch(Watch(id="w", words=["وقف النار"]), REGISTRY, TOPICS)
    assert match_watch(cw, _article(), REGISTRY.analyzer) is None


def test_topic_source_and_pause_conditions() -> None:
    a = _article()
    assert match_watch(compile_watch(Watch(id="t", topics=["space"]), REGISTRY, TOPICS), a, REGISTRY.analyzer)
    assert not match_watch(
        compile_watch(Watch(id="t", topics=["sport"]), REGISTRY, TOPICS), a, REGISTRY.analyzer
    )
    other_source = Watch(id="t", topics=["space"], sources=["aljazeera"])
    assert not match_watch(compile_watch(other_source, REGISTRY, TOPICS), a, REGISTRY.analyzer)
    paused = Watch(id="t", topics=["space"], paused=True)
    assert not match_watch(compile_watch(paused, REGISTRY, TOPICS), a, REGISTRY.analyzer)


def test_alert_id_is_per_watch_and_article() -> None:
    cw = compile_watch(Watch(id="putin", entities=["Q7747"]), REGISTRY, TOPICS)
    first = match_watch(cw, _article(), REGISTRY.analyzer)
    again = match_watch(cw, _article(), REGISTRY.analyzer)
    assert first is not None and again is not None and first.id == again.id


@pytest.mark.parametrize(
    ("watch", "message"),
    [
        (Watch(id="w", entities=["قطة"]), "entities: unknown entity"),
        (Watch(id="w", topics=["gardening"]), "topics: unknown topic"),
        (Watch(id="w", words=["؟!"]), "words:"),
        (Watch(id="w"), "needs at least one"),
    ],
)
def test_invalid_watches_name_the_field(watch: Watch, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_watch(watch, REGISTRY, TOPICS)


def test_snippet_is_short_and_marks_cuts() -> None:
    text = "كلمة " * 50 + "بوتين" + " كلمة" * 50
    start = text.index("بوتين")
    s = snippet(text, start, start + 5)
    assert "بوتين" in s and s.startswith("…") and s.endswith("…") and len(s) < 150
