"""The walking skeleton end to end through the real broker: feed over HTTP → connector → Kafka →
Faust worker → search index → search by word and by entity, and a watchlist alert."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from connectors import KafkaPublisher, poll_once
from pipeline.alerts.store import AlertStore
from pipeline.broker import EmbeddedBroker
from pipeline.config import FeedConfig
from pipeline.enrich.registry import load_registry
from pipeline.models import Alert, DeadLetter
from pipeline.search import connected
from pipeline.search.base import SearchQuery, SearchResult
from pipeline.settings import Settings
from tests.integration.support import REPO, Worker, eventually, make_config, worker_env

pytestmark = pytest.mark.integration

SEED_FEED = REPO / "tests" / "fixtures" / "feeds" / "seed" / "seed-article.xml"
WATCHES = """
watches:
  - id: putin
    name: Putin (by Arabic name)
    entities: ["بوتين"]
  - id: space
    name: Space
    topics: [space]
  - id: satellites
    name: Satellites phrase
    words: ["أقمار صناعية"]
  - id: never
    name: Something absent
    words: ["مباراة كرة القدم"]
"""


def _read_topic(bootstrap: str, topic: str, timeout_ms: int = 5000) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=timeout_ms,
        group_id=None,
    )
    try:
        return [m.value for m in consumer]
    finally:
        consumer.close()


@pytest.fixture()
def feed_server() -> Iterator[str]:
    body = SEED_FEED.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()
    server.server_close()


def test_feed_to_search_and_alert(broker: EmbeddedBroker, feed_server: str, tmp_path: Path) -> None:
    config_dir = make_config(tmp_path, WATCHES)
    data_dir = tmp_path / "data"
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        data_dir=data_dir,
        config_dir=config_dir,
        fetch_allowed_hosts=["127.0.0.1"],
        topic_partitions=2,
    )
    worker = Worker(worker_env(broker.bootstrap, data_dir, config_dir), tmp_path / "worker.log")
    try:
        poison = KafkaProducer(bootstrap_servers=broker.bootstrap)
        poison.send("articles.raw", key=b"poison", value=b"\xff\xfe this is not an article")
        poison.flush()
        poison.close()

        feed = FeedConfig(id="seed", url=feed_server, name="Seed (local server)")
        publisher = KafkaPublisher(broker.bootstrap)
        report = asyncio.run(poll_once([feed], settings=settings, publisher=publisher))
        publisher.close()
        assert report.published == 1

        registry = load_registry(config_dir / "entities")
        putin = registry.resolve("بوتين")
        assert putin is not None

        def search(query: SearchQuery) -> SearchResult:
            async def go() -> SearchResult:
                async with connected(settings, registry.analyzer) as backend:
                    return await backend.search(query)

            return (
                asyncio.run(go()) if (data_dir / "index.sqlite3").exists() else SearchResult(total=0, hits=[])
            )

        by_word = eventually(lambda: search(SearchQuery(text="بوتين")).hits, timeout=90)
        assert "بوتين" in by_word[0].article.title + by_word[0].article.body
        assert any("<mark>" in f for frags in by_word[0].highlights.values() for f in frags)
        for variant in ("وبوتين", "لبوتين", "بوتينُ"):
            assert search(SearchQuery(text=variant)).total == 1, variant
        by_entity = search(SearchQuery(entities=[putin.id]))
        assert [h.article.id for h in by_entity.hits] == [by_word[0].article.id]

        store = AlertStore(data_dir / "alerts.sqlite3")
        expected = {"putin", "space", "satellites"}

        def fired() -> dict[str, Alert]:
            got = {a.watch_id: a for a in store.recent(50)}
            return got if got.keys() >= expected else {}

        alerts = eventually(fired, timeout=60)
        assert "never" not in alerts
        ev = alerts["putin"].evidence[0]
        assert ev.kind == "entity" and ev.value == putin.id and "بوتين" in ev.surface and ev.snippet
        assert alerts["satellites"].evidence[0].surface  # as written in the article
        sink = data_dir / "alerts.jsonl"

        def delivered() -> set[str]:
            # the delivery task writes the outbox to the sink after the alert is recorded
            lines = sink.read_text(encoding="utf-8").splitlines() if sink.exists() else []
            got = {json.loads(line)["watch_id"] for line in lines}
            return got if got >= expected else set()

        assert eventually(delivered, timeout=30) == expected
        store.close()

        letters = _read_topic(broker.bootstrap, "articles.dlq")
        poisoned = [DeadLetter.model_validate_json(v) for v in letters]
        assert [(d.stage, d.key) for d in poisoned] == [("decode", "poison")]
        assert "this is not an article" in poisoned[0].payload
    except BaseException:
        print(worker.log()[-5000:])
        raise
    finally:
        worker.stop()
