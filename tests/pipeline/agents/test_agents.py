"""Agent bodies without a broker: per-message error handling, DLQ routing, batch indexing, alert dedupe."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import pytest

from pipeline.agents import alert as alert_agent
from pipeline.agents.alert import _alert_one, _deliver_pending
from pipeline.agents.enrich import _enrich_batch, _enrich_one
from pipeline.agents.index import _index_batch, _warn_if_stale
from pipeline.agents.surge import SurgeTables, _count_one, _fan_out_one
from pipeline.alerts import surge as surge_rules
from pipeline.alerts.delivery import Deliverer
from pipeline.alerts.rules import compile_watch
from pipeline.alerts.surge import SurgeCheck, SurgeMention, window_start
from pipeline.app import Topics
from pipeline.ids import article_id
from pipeline.models import Alert, Article, DeadLetter, Surge, Watch
from pipeline.runtime import Runtime
from pipeline.search.base import SearchQuery
from pipeline.settings import Settings

pytestmark = pytest.mark.anyio

T = TypeVar("T")

ENTITIES = """
entities:
  - {id: Q7747, type: PER, name_ar: فلاديمير بوتين, name_en: Vladimir Putin, aliases_ar: [بوتين]}
  - {id: Q423, type: LOC, name_ar: كوريا الشمالية, name_en: North Korea}
"""
TOPICS = """
topics:
  - {id: space, label_ar: الفضاء, label_en: Space, terms: {أقمار صناعية: 3, فضائية: 2}}
"""
WATCHES = """
watches:
  - {id: putin, entities: [بوتين]}
"""


class FakeTopic:
    """Records what an agent sends, like a Faust topic's `send`."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, *, key: bytes | None, value: bytes) -> None:
        self.sent.append((key, value))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    config = tmp_path / "config"
    (config / "entities").mkdir(parents=True)
    (config / "entities" / "test.yaml").write_text(ENTITIES, encoding="utf-8")
    (config / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    (config / "watchlists.yaml").write_text(WATCHES, encoding="utf-8")
    return Runtime.load(Settings(config_dir=config, data_dir=tmp_path / "data"))


@pytest.fixture
def topics() -> Topics:
    return Topics(raw=FakeTopic(), enriched=FakeTopic(), dlq=FakeTopic(), alerts=FakeTopic())


def _article(n: int = 1) -> Article:
    url = f"https://example.com/{n}"
    return Article(
        id=article_id(url),
        source="test",
        url=url,
        title="بوتين يعد ببناء أقمار صناعية",
        body="قال الرئيس الروسي فلاديمير بوتين إن روسيا ستساعد كوريا الشمالية.",
    )


def _breaks_on(
    article: Article, call: Callable[[list[Article]], list[T]], exc: Exception
) -> Callable[[list[Article]], list[T]]:
    """`call`, raising `exc` for any batch that holds `article`: one bad article in a stream batch."""

    def wrapped(articles: list[Article]) -> list[T]:
        if any(a.id == article.id for a in articles):
            raise exc
        return call(articles)

    return wrapped


def _dead_letters(topics: Topics) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(v) for _, v in topics.dlq.sent]


async def test_enrich_forwards_enriched_article(runtime: Runtime, topics: Topics) -> None:
    await _enrich_one(_article().id.encode(), _article().to_json(), topics, runtime)
    [(key, value)] = topics.enriched.sent
    enriched = Article.model_validate_json(value)
    assert key == enriched.id.encode()
    assert {m.canonical_id for m in enriched.entities} == {"Q7747", "Q423"}
    assert [t.id for t in enriched.topics] == ["space"]
    assert enriched.language == "ar" and enriched.enriched_at is not None
    assert runtime.counters.enriched == 1 and not topics.dlq.sent


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe not json",
        b'{"id": "short", "source": "x"}',
        json.dumps({**json.loads(_article().to_json()), "schema_version": 99}).encode(),
    ],
)
async def test_poison_messages_go_to_the_dlq_and_the_stream_goes_on(
    runtime: Runtime, topics: Topics, payload: bytes
) -> None:
    await _enrich_one(b"k1", payload, topics, runtime)
    await _enrich_one(_article().id.encode(), _article().to_json(), topics, runtime)
    [letter] = _dead_letters(topics)
    assert letter.stage == "decode" and letter.error and letter.key == "k1"
    assert len(topics.enriched.sent) == 1  # the next article still went through


class LimitedTopic(FakeTopic):
    """A topic whose broker refuses values over `limit` bytes, as Kafka does past message.max.bytes."""

    def __init__(self, limit: int, broken: bool = False) -> None:
        super().__init__()
        self.limit, self.broken = limit, broken

    async def send(self, *, key: bytes | None, value: bytes) -> None:
        if self.broken or len(value) > self.limit:
            raise RuntimeError(f"MessageSizeTooLarge: {len(value)} bytes")
        await super().send(key=key, value=value)


def _limited(limit: int, *, dlq_broken: bool = False) -> Topics:
    return Topics(
        raw=LimitedTopic(limit),
        enriched=LimitedTopic(limit),
        dlq=LimitedTopic(limit, broken=dlq_broken),
        alerts=LimitedTopic(limit),
    )


async def test_an_enriched_article_past_the_record_limit_is_cut_to_fit(runtime: Runtime) -> None:
    # its raw record fits, but thousands of entity mentions make the enriched one several times larger
    limit = 64 * 1024
    runtime.settings = runtime.settings.model_copy(update={"max_record_bytes": limit})
    topics = _limited(limit)
    big = _article(2).model_copy(update={"body": "التقى بوتين نظيره. " * 1_500})
    assert len(big.to_json()) < limit
    batch = [(a.id.encode(), a.to_json()) for a in (_article(1), big, _article(3))]
    await _enrich_batch(batch, topics, runtime)
    sent = [Article.model_validate_json(v) for _, v in topics.enriched.sent]
    assert [a.id for a in sent] == [_article(1).id, big.id, _article(3).id] and not topics.dlq.sent
    fitted = sent[1]
    assert fitted.truncated and len(fitted.to_json()) <= limit and len(fitted.entities) > 100
    assert all(m.end <= len(fitted.text_of(m.field)) for m in fitted.entities)
    assert all(fitted.text_of(m.field)[m.start : m.end] == m.surface for m in fitted.entities)


async def test_a_huge_poison_message_is_parked_cut_and_the_batch_goes_on(runtime: Runtime) -> None:
    # 200 kB of NULs: as JSON text each is 6 bytes, so the letter was 6x the record limit and failed
    limit = 64 * 1024
    runtime.settings = runtime.settings.model_copy(update={"max_record_bytes": limit})
    topics = _limited(limit)
    batch = [(b"bad", b"\0" * 200_000), *((a.id.encode(), a.to_json()) for a in (_article(1), _article(2)))]
    await _enrich_batch(batch, topics, runtime)
    [letter] = _dead_letters(topics)
    assert (letter.key, letter.stage, letter.payload_truncated) == ("bad", "decode", True)
    assert len(topics.dlq.sent[0][1]) <= limit and letter.payload == "\0" * len(letter.payload)
    assert len(topics.enriched.sent) == 2 and runtime.counters.dead_lettered == 1
    await runtime.backend.setup()
    await _index_batch(batch, topics, runtime)
    assert runtime.counters.indexed == 2 and len(topics.dlq.sent) == 2
    await runtime.backend.close()


async def test_a_dead_letter_the_broker_refuses_is_counted_lost_and_the_batch_goes_on(
    runtime: Runtime,
) -> None:
    topics = _limited(10**9, dlq_broken=True)
    batch = [(b"bad", b"not json"), (_article(1).id.encode(), _article(1).to_json())]
    await _enrich_batch(batch, topics, runtime)
    assert len(topics.enriched.sent) == 1
    assert (runtime.counters.dead_lettered, runtime.counters.dead_letters_lost) == (0, 1)
    assert "dlq_lost=1" in runtime.counters.line()


async def test_batch_with_poison_and_a_crashing_article_keeps_the_rest(
    runtime: Runtime, topics: Topics
) -> None:
    bad = _article(2)
    many = _breaks_on(bad, runtime.enricher.enrich_many, RuntimeError("one article breaks the tagger"))
    runtime.enricher = SimpleNamespace(enrich_many=many, enrich=lambda a: many([a])[0])  # type: ignore[assignment]
    batch = [
        (b"k0", b"not json"),
        (None, _article(1).to_json()),
        (None, bad.to_json()),
        (None, _article(3).to_json()),
    ]
    await _enrich_batch(batch, topics, runtime)
    assert sorted(Article.model_validate_json(v).id for _, v in topics.enriched.sent) == sorted(
        [_article(1).id, _article(3).id]
    )
    assert sorted((d.stage, d.key) for d in _dead_letters(topics)) == [("decode", "k0"), ("enrich", bad.id)]


async def test_story_index_failure_in_a_batch_dead_letters_only_that_article(
    runtime: Runtime, topics: Topics
) -> None:
    bad = _article(2)
    assign_many = _breaks_on(bad, runtime.stories.assign_many, OSError("disk I/O error"))
    runtime.stories = SimpleNamespace(assign_many=assign_many)  # type: ignore[assignment]
    await _enrich_batch([(None, _article(n).to_json()) for n in (1, 2, 3)], topics, runtime)
    published = [Article.model_validate_json(v) for _, v in topics.enriched.sent]
    assert [a.id for a in published] == [_article(1).id, _article(3).id]
    # the same text: the second joins the first's story (assigned one by one after the failure)
    assert [a.story_id for a in published] == [_article(1).id] * 2 and all(a.entities for a in published)
    letters = [(d.stage, d.key, d.error) for d in _dead_letters(topics)]
    assert letters == [("enrich", bad.id, "disk I/O error")]


async def test_batch_enrichment_equals_one_by_one(runtime: Runtime, topics: Topics) -> None:
    articles = [_article(n) for n in range(1, 4)]
    await _enrich_batch([(None, a.to_json()) for a in articles], topics, runtime)
    batched = [Article.model_validate_json(v) for _, v in topics.enriched.sent]
    one_by_one = [runtime.enricher.enrich(a) for a in articles]
    assert [(a.entities, a.topics, a.keywords) for a in batched] == [
        (a.entities, a.topics, a.keywords) for a in one_by_one
    ]


async def test_enricher_crash_is_dead_lettered_with_the_reason(runtime: Runtime, topics: Topics) -> None:
    class Broken:
        def enrich(self, article: Article) -> Article:
            raise RuntimeError("tagger exploded")

    runtime.enricher = Broken()  # type: ignore[assignment]
    await _enrich_one(_article().id.encode(), _article().to_json(), topics, runtime)
    [letter] = _dead_letters(topics)
    assert (letter.stage, letter.error_type, letter.error) == ("enrich", "RuntimeError", "tagger exploded")
    assert letter.key == _article().id and Article.model_validate_json(letter.payload).id == _article().id


async def test_index_batch_upserts_and_dead_letters_bad_payloads(runtime: Runtime, topics: Topics) -> None:
    good = [(None, runtime.enricher.enrich(_article(n)).to_json()) for n in (1, 2)]
    await runtime.backend.setup()
    await _index_batch([*good, (b"k9", b"{broken")], topics, runtime)
    await _index_batch(good, topics, runtime)  # redelivery is an upsert
    assert await runtime.backend.count() == 2
    hits = await runtime.backend.search(SearchQuery(entities=["Q7747"]))
    assert hits.total == 2
    assert [(d.stage, d.key) for d in _dead_letters(topics)] == [("index-decode", "k9")]
    await runtime.backend.close()


async def test_a_worker_started_after_a_registry_edit_warns_of_stale_terms(
    runtime: Runtime, topics: Topics, caplog: pytest.LogCaptureFixture
) -> None:
    await runtime.backend.setup()
    await _index_batch(
        [(None, runtime.enricher.enrich(_article(n)).to_json()) for n in (1, 2)], topics, runtime
    )
    await _warn_if_stale(runtime)
    assert "rasd reindex" not in caplog.text
    await runtime.backend.close()
    entities = runtime.settings.entities_dir / "test.yaml"
    entities.write_text(
        ENTITIES + "  - {id: Q822, type: LOC, name_ar: لبنان, name_en: Lebanon}\n", encoding="utf-8"
    )
    edited = Runtime.load(runtime.settings)
    await edited.backend.setup()
    await _warn_if_stale(edited)
    assert "2 indexed articles were analysed with another entity registry" in caplog.text
    assert "rasd reindex" in caplog.text
    await edited.backend.close()


async def test_alert_fires_once_per_watch_and_article(runtime: Runtime, topics: Topics) -> None:
    enriched = runtime.enricher.enrich(_article()).to_json()
    for _ in range(3):  # redelivered after a restart
        await _alert_one(None, enriched, topics, runtime)
    [(key, value)] = topics.alerts.sent
    alert = Alert.model_validate_json(value)
    assert alert.watch_id == "putin" and key == alert.id.encode()
    assert alert.evidence[0].surface == "بوتين"
    assert not runtime.settings.alerts_path.exists()  # delivery is the outbox task's job
    deliverer = Deliverer.from_settings(runtime.settings)
    assert await _deliver_pending(runtime, deliverer) == 1
    assert await _deliver_pending(runtime, deliverer) == 0  # delivered once, outbox empty
    await deliverer.close()
    lines = runtime.settings.alerts_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["id"] == alert.id


async def test_outbox_claims_are_renewed_while_a_delivery_runs(
    runtime: Runtime, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow delivery keeps its claim past the lease, so another worker does not send it too."""
    monkeypatch.setattr(alert_agent, "_OUTBOX_LEASE_S", 0.3)
    assert await _alert_one(None, runtime.enricher.enrich(_article()).to_json(), topics, runtime)
    started, release = asyncio.Event(), asyncio.Event()

    class Slow:
        name = "slow"

        async def send(self, alert: Alert) -> None:
            started.set()
            await release.wait()

    deliverer = Deliverer({name: Slow() for name in ("log", "jsonl")})
    delivering = asyncio.create_task(_deliver_pending(runtime, deliverer))
    await started.wait()
    await asyncio.sleep(0.8)  # well past the first lease
    assert runtime.alert_store.claim("another-worker") == []
    release.set()
    assert await delivering == 1
    assert runtime.alert_store.claim("another-worker") == []  # delivered: off the outbox


async def test_copy_of_an_alerted_story_is_merged_not_fired(runtime: Runtime, topics: Topics) -> None:
    first = runtime.enricher.enrich(_article()).model_copy(update={"story_id": "story-1"})
    copy = first.model_copy(update={"id": "c" * 32, "source": "other_feed", "url": "https://b.example/x"})
    assert await _alert_one(None, first.to_json(), topics, runtime)
    assert not await _alert_one(None, copy.to_json(), topics, runtime)
    assert not await _alert_one(None, copy.to_json(), topics, runtime)
    [(_, value)] = topics.alerts.sent
    stored = runtime.alert_store.get(Alert.model_validate_json(value).id)
    assert stored is not None and stored.article_id == first.id
    assert [(a.article_id, a.source) for a in stored.also] == [(copy.id, "other_feed")]


async def test_syndicated_copy_joins_the_first_story(runtime: Runtime, topics: Topics) -> None:
    body = (
        "تعهد الرئيس الروسي فلاديمير بوتين بمساعدة كوريا الشمالية في بناء أقمار صناعية، بينما اصطحب الزعيم "
        "الكوري الشمالي في جولة لاستعراض أحدث منشأة إطلاق فضائية روسية قبل بدء محادثات من المتوقع أن تشمل "
        "قضايا عسكرية. ووصل الزعيم إلى القاعدة مستقلا القطار بعد العبور إلى روسيا أمس الثلاثاء."
    )
    first = Article(id=article_id("https://a.example/1"), source="a", title="بوتين وكيم", body=body)
    copy = Article(
        id=article_id("https://b.example/9"), source="b", title="عنوان آخر", body="(رويترز) " + body
    )
    other = _article(3)
    for a in (first, copy, other):
        await _enrich_one(None, a.to_json(), topics, runtime)
    out = {e.id: e for e in (Article.model_validate_json(v) for _, v in topics.enriched.sent)}
    assert out[first.id].story_id == first.id and out[first.id].duplicate_of is None
    assert out[copy.id].story_id == first.id and out[copy.id].duplicate_of == first.id
    assert out[other.id].story_id == other.id


class StampedTopic(FakeTopic):
    """A topic whose sends carry a timestamp, as the surge fan-out's do."""

    async def send(self, *, key: bytes | None, value: bytes, timestamp: float | None = None) -> None:
        self.sent.append((key, value))


async def test_surge_fan_out_decodes_only_when_a_surge_watch_counts(runtime: Runtime, topics: Topics) -> None:
    topics = dataclasses.replace(topics, surge_mentions=StampedTopic())
    enriched = runtime.enricher.enrich(_article()).to_json()
    await _fan_out_one(None, enriched, topics, runtime)
    await _fan_out_one(b"k1", b"not json", topics, runtime)  # not even decoded: nothing counts
    assert not topics.surge_mentions.sent and not topics.dlq.sent
    watch = Watch(id="putin-surge", entities=["بوتين"], surge=Surge())
    runtime.watches.append(compile_watch(watch, runtime.enricher.registry, runtime.enricher.topics.topics))
    await _fan_out_one(None, enriched, topics, runtime)
    await _fan_out_one(b"k1", b"not json", topics, runtime)
    [(key, _)] = topics.surge_mentions.sent
    assert key is not None and b"Q7747" in key
    assert [(d.stage, d.key) for d in _dead_letters(topics)] == [("surge-decode", "k1")]


# -- surge counting and checking, on fake Faust tables ------------------------------------------------


class FakeWindows:
    """One key of a fake tumbling table: `current`/`delta` read by the event's time, `+=` counts."""

    def __init__(self, table: FakeWindowTable, key: str) -> None:
        self.table, self.key = table, key

    def _at(self, ts: float) -> int:
        return self.table.data.get((self.key, window_start(ts, self.table.size)), 0)

    def current(self, event: SimpleNamespace) -> int:
        return self._at(event.message.timestamp)

    def delta(self, seconds: float, event: SimpleNamespace) -> int:
        return self._at(event.message.timestamp - seconds)

    def __iadd__(self, n: int) -> FakeWindows:
        slot = (self.key, window_start(self.table.now, self.table.size))
        self.table.data[slot] = self.table.data.get(slot, 0) + n
        return self


class FakeWindowTable:
    """A Faust tumbling table, relative to the stream: writes go to the current event's window."""

    def __init__(self, size: float) -> None:
        self.size, self.now = size, 0.0
        self.data: dict[tuple[str, float], int] = {}

    def __getitem__(self, key: str) -> FakeWindows:
        return FakeWindows(self, key)

    def __setitem__(self, key: str, value: FakeWindows) -> None:
        pass  # Faust ignores the window set written back after `+=`


def _surge_setup(runtime: Runtime, *watches: Watch) -> SurgeTables:
    registry, known = runtime.enricher.registry, runtime.enricher.topics.topics
    runtime.watches = [compile_watch(w, registry, known) for w in watches]
    specs = [w.surge for w in watches if w.surge is not None]
    sizes = {s.window_s for s in specs}
    history = {size: max(s.baseline_windows for s in specs if s.window_s == size) for size in sizes}
    return SurgeTables({size: FakeWindowTable(size) for size in sizes}, FakeWindowTable(min(sizes)), history)


async def _deliver_mention(
    tables: SurgeTables, topics: Topics, runtime: Runtime, article: str, at: datetime
) -> None:
    mention = SurgeMention(subject="entity:Q7747", label="بوتين", at=at, article_id=article, source="s")
    for table in [*tables.counts.values(), tables.seen]:
        table.now = at.timestamp()
    event = SimpleNamespace(
        key=mention.subject.encode(),
        value=mention.to_json(),
        message=SimpleNamespace(timestamp=at.timestamp()),
    )
    await _count_one(event, tables, topics, runtime)


def _this_hour() -> datetime:
    return datetime.fromtimestamp(window_start(time.time(), 3600.0), UTC)


async def test_one_failing_surge_watch_does_not_stop_the_others(
    runtime: Runtime, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = Watch(id="a-broken", entities=["بوتين"], surge=Surge(min_count=4, baseline_windows=2))
    healthy = Watch(id="b-ok", entities=["بوتين"], surge=Surge(min_count=5, baseline_windows=2))
    tables = _surge_setup(runtime, broken, healthy)
    real_evaluate = surge_rules.evaluate

    def evaluate(counts: list[int], spec: Surge) -> SurgeCheck | None:
        if spec.min_count == 4:  # the broken watch's check fails, every time
            raise ArithmeticError("boom")
        return real_evaluate(counts, spec)

    monkeypatch.setattr("pipeline.agents.surge.evaluate", evaluate)
    hour = _this_hour()
    for n in range(5):
        await _deliver_mention(tables, topics, runtime, f"a{n}", hour + timedelta(seconds=n))
    assert [a.watch_id for a in runtime.alert_store.recent(10)] == ["b-ok"]
    assert not topics.dlq.sent  # counted fine: nothing to replay


async def test_late_articles_of_the_previous_window_do_not_fire_a_surge_twice(
    runtime: Runtime, topics: Topics
) -> None:
    watch = Watch(
        id="putin-surge", entities=["بوتين"], surge=Surge(baseline_windows=2, factor=3, min_count=5)
    )
    tables = _surge_setup(runtime, watch)
    hour = _this_hour()
    for n in range(5):  # the surge, seen in the current hour
        await _deliver_mention(tables, topics, runtime, f"now{n}", hour + timedelta(seconds=n))
    for n in range(5):  # then a slow feed's articles of the previous hour: the same surge, begun earlier
        await _deliver_mention(tables, topics, runtime, f"late{n}", hour - timedelta(minutes=40 - n))
    assert [a.evidence[0].count for a in runtime.alert_store.recent(10)] == [5]


def test_each_surge_table_keeps_only_what_its_own_watches_need(runtime: Runtime) -> None:
    declared: dict[str, tuple[float, float]] = {}

    class FakeTable:
        def __init__(self, name: str) -> None:
            self.name = name

        def tumbling(self, size: timedelta, expires: timedelta) -> FakeTable:
            declared[self.name] = (size.total_seconds(), expires.total_seconds())
            return self

        def relative_to_stream(self) -> FakeTable:
            return self

    app = SimpleNamespace(Table=lambda name, **kw: FakeTable(name))
    registry, known = runtime.enricher.registry, runtime.enricher.topics.topics
    weekly = Watch(id="weekly", entities=["بوتين"], surge=Surge(window="7d", baseline_windows=2))
    hourly = Watch(id="hourly", entities=["بوتين"], surge=Surge(window="1h", baseline_windows=800))
    tables = SurgeTables.declare(app, [compile_watch(w, registry, known) for w in (weekly, hourly)])  # type: ignore[arg-type]
    day, hour = 86400.0, 3600.0
    assert declared == {
        "surge-counts-3600s": (hour, 802 * hour),
        "surge-counts-604800s": (7 * day, 28 * day),  # not 802 weeks
        "surge-seen": (hour, 802 * hour),
    }
    longer = Watch(id="weekly3", entities=["بوتين"], surge=Surge(window="7d", baseline_windows=3))
    assert tables.table_for(compile_watch(longer, registry, known)) is None  # needs a restart
