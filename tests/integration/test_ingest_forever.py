"""`rasd ingest --forever`, the connector of a cluster deployment: keeps polling on each feed's own
schedule, publishes new articles once, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from pipeline.broker import EmbeddedBroker
from tests.integration.support import REPO, eventually, make_config, worker_env

pytestmark = pytest.mark.integration
SEED_FEED = REPO / "tests" / "fixtures" / "feeds" / "seed" / "seed-article.xml"


@pytest.fixture()
def feed_url() -> Iterator[tuple[str, list[str]]]:
    body = SEED_FEED.read_bytes()
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml", hits
    server.shutdown()
    server.server_close()


def _raw_count(bootstrap: str) -> int:
    consumer = KafkaConsumer(
        "articles.raw",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=2000,
    )
    try:
        return sum(1 for _ in consumer)
    finally:
        consumer.close()


def test_polls_repeatedly_publishes_once_and_stops_on_sigterm(
    broker: EmbeddedBroker, feed_url: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, hits = feed_url
    config = make_config(tmp_path, "watches: []\n")
    (config / "feeds.yaml").write_text(
        f"feeds:\n  - id: seed\n    url: {url}\n    fulltext: never\n", encoding="utf-8"
    )
    env = worker_env(
        broker.bootstrap,
        tmp_path / "data",
        config,
        RASD_FETCH_ALLOWED_HOSTS='["127.0.0.1"]',
        RASD_POLL_INTERVAL_S="1",
    )
    log = (tmp_path / "connector.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.main", "ingest", "--forever"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=log,
    )
    try:
        eventually(lambda: len(hits) >= 3, timeout=60)  # polled again and again, on its 1 s schedule
        assert _raw_count(broker.bootstrap) == 1  # the one article, published once
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert "polling 1 feeds until stopped" in (tmp_path / "connector.log").read_text(encoding="utf-8")
