"""Surge alerts through the real broker: enriched articles → `rasd worker` (Faust windowed tables on
Tansu) → exactly one surge alert, and none more when the same messages are sent again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.alerts.store import AlertStore
from pipeline.broker import EmbeddedBroker
from pipeline.models import Alert, Article, EntityMention, utcnow
from pipeline.topics import ARTICLES_DLQ, ARTICLES_ENRICHED, SURGE_MENTIONS
from tests.integration.support import Worker, eventually, make_config, worker_env

pytestmark = pytest.mark.integration

# two watches on the same subject: the second (min_count 7) shows when the re-sent copies were counted
WATCHES = """
watches:
  - id: putin-surge
    name: Putin surge
    entities: ["بوتين"]
    surge: {window: 1h, baseline_windows: 2, factor: 3, min_count: 5}
  - id: putin-surge-7
    entities: ["بوتين"]
    surge: {window: 1h, baseline_windows: 2, factor: 3, min_count: 7}
"""
PUTIN = EntityMention(
    type="PER",
    surface="بوتين",
    canonical_id="Q7747",
    canonical_name="فلاديمير بوتين",
    field="title",
    start=0,
    end=5,
)


def _article(n: int, published: object) -> Article:
    return Article.model_validate(
        dict(
            id=f"surge-article-{n:03d}",
            source="test",
            url=f"https://example.com/surge/{n}",
            title=f"بوتين يتحدث {n}",
            language="ar",
            published=published,
            entities=[PUTIN],
            story_id=f"story-{n}",
        )
    )


def _send(bootstrap: str, articles: list[Article]) -> None:
    """One partition, so the worker sees the articles in this order."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for a in articles:
        producer.send(ARTICLES_ENRICHED, key=a.id.encode(), value=a.to_json(), partition=0)
    producer.flush()
    producer.close()


def _read(bootstrap: str, topic: str, timeout_ms: int = 2000) -> list[tuple[int, bytes]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=timeout_ms,
        group_id=None,
    )
    try:
        return [(m.timestamp, m.value) for m in consumer]
    finally:
        consumer.close()


def test_surge_fires_once_and_resending_adds_nothing(broker: EmbeddedBroker, tmp_path: Path) -> None:
    config_dir = make_config(tmp_path, WATCHES)
    data_dir = tmp_path / "data"
    at = (utcnow() - timedelta(seconds=2)).replace(microsecond=0)
    # one article in each of the two baseline hours, then six in the current hour
    baseline = [_article(1, at - timedelta(hours=2)), _article(2, at - timedelta(hours=1))]
    burst = [_article(n, at) for n in range(10, 16)]
    worker = Worker(worker_env(broker.bootstrap, data_dir, config_dir), tmp_path / "worker.log")
    store: AlertStore | None = None

    def alerts(watch_id: str) -> list[Alert]:
        nonlocal store
        if store is None and (data_dir / "alerts.sqlite3").exists():
            store = AlertStore(data_dir / "alerts.sqlite3")
        return store.recent(50, watch_id=watch_id) if store else []

    try:
        _send(broker.bootstrap, [*baseline, *burst])
        (alert,) = eventually(lambda: alerts("putin-surge"), timeout=40)
        assert alert.kind == "surge"
        ev = alert.evidence[0]
        assert (ev.kind, ev.value, ev.count) == ("surge", "Q7747", 5)
        assert ev.surface == "5 articles in 1h (baseline 1.0)"
        assert alert.article_id == burst[4].id  # the article that crossed min_count
        start = at.replace(minute=0, second=0).isoformat()
        assert alert.id == Alert.make_id("putin-surge", f"surge:entity:Q7747:{start}")

        # the same messages again, then one new article: only the new one may count (6 → 7)
        extra = _article(99, at)
        _send(broker.bootstrap, [*baseline, *burst, extra])
        (seventh,) = eventually(lambda: alerts("putin-surge-7"), timeout=30)
        assert (seventh.evidence[0].count, seventh.article_id) == (7, extra.id)
        assert [a.id for a in alerts("putin-surge")] == [alert.id]  # no new alert for the first watch

        stamps = {ts for ts, _ in _read(broker.bootstrap, SURGE_MENTIONS)}
        assert int(at.timestamp() * 1000) in stamps  # the message timestamp is the event time
        letters = [v for _, v in _read(broker.bootstrap, ARTICLES_DLQ)]
        assert not [v for v in letters if b'"stage":"surge' in v]
    except BaseException:
        print(worker.log()[-6000:])
        raise
    finally:
        if store is not None:
            store.close()
        worker.stop()
