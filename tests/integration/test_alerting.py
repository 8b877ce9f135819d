"""Alerting end to end through the real broker and a `rasd worker`: entity, topic, phrase and surge
watches over real Arabic articles fire exactly the expected alerts, once per story; syndicated
copies are listed on the alert, not re-fired; a redelivered stream fires nothing new; the webhook
channel survives a server that fails twice; a watch added at run time reaches the running worker."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors import KafkaPublisher, MemoryPublisher
from connectors.replay import replay_paths
from pipeline.alerts.channels.webhook import verify_signature
from pipeline.alerts.rules import compile_watches, match_watch
from pipeline.alerts.store import AlertStore
from pipeline.broker import EmbeddedBroker
from pipeline.cli.main import main
from pipeline.config import load_watches
from pipeline.enrich.enricher import load_enricher
from pipeline.ids import article_id
from pipeline.metrics import collect
from pipeline.models import Alert, Article
from pipeline.settings import Settings
from tests.integration.support import REPO, Worker, eventually, make_config, worker_env

pytestmark = pytest.mark.integration

FEEDS = REPO / "tests" / "fixtures" / "feeds"
SECRET = "test-hook-secret"
WATCHES = """
watches:
  - id: putin
    name: Putin (by Arabic name)
    entities: ["بوتين"]
    channels: [jsonl, hook]
  - id: space
    topics: [space]
    channels: [jsonl]
  - id: satellites
    words: ["أقمار صناعية"]
    channels: [jsonl]
  - id: putin-surge
    name: Surge in Putin coverage
    any_of: {entities: [Q7747]}
    surge: {window: 1h, baseline_windows: 3, factor: 2, min_count: 3}
    channels: [jsonl]
  - id: never
    words: ["مباراة كرة القدم"]
"""
CHANNELS = """
channels:
  - name: hook
    type: webhook
    url: {url}
    secret_env: RASD_TEST_HOOK_SECRET
"""


class FlakyHook:
    """A webhook receiver (real socket) that answers 503 twice, then 200, recording every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 503 if len(hook.requests) < 2 else 200
                hook.requests.append((status, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for status, headers, body in self.requests if status == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def hook() -> Iterator[FlakyHook]:
    server = FlakyHook()
    yield server
    server.close()


def _stream(config_dir: Path, tmp_path: Path) -> tuple[list[Article], list[Article], int]:
    """Seed-article copies from 7 sources timed to make a Putin surge, plus real feed articles that
    (enriched in-process with the same config) match no watch: the expected alerts are then known."""
    settings = Settings(config_dir=config_dir, data_dir=tmp_path / "replay")
    seed_pub = MemoryPublisher()
    replay_paths([FEEDS / "seed"], publisher=seed_pub, settings=settings)
    [seed] = seed_pub.articles
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    times = [hour - timedelta(hours=h, minutes=-10) for h in (3, 2, 1)]  # one a window: the baseline
    times += [hour + timedelta(minutes=m) for m in (5, 10, 15, 20)]  # four in the last full hour
    copies = [
        seed.model_copy(
            update={
                "id": article_id(f"https://copy{k}.example/seed"),
                "url": f"https://copy{k}.example/seed",
                "source": f"copy{k}",
                "published": when,
            }
        )
        for k, when in enumerate(times)
    ]
    other_pub = MemoryPublisher()
    replay_paths(
        [FEEDS / d for d in ("aljazeera", "hespress", "skynewsarabia")],
        publisher=other_pub,
        settings=settings,
    )
    enricher = load_enricher(settings)
    watches = compile_watches(
        load_watches(config_dir / "watchlists.yaml"), enricher.registry, enricher.topics.topics
    )
    quiet = []
    for article in other_pub.articles:
        enriched = enricher.enrich(article)
        if "Q7747" in {m.canonical_id for m in enriched.entities}:
            continue
        if all(match_watch(cw, enriched, enricher.analyzer) is None for cw in watches):
            quiet.append(article)
    assert len(quiet) >= 10, "fixture feeds should hold articles no watch cares about"
    return copies, quiet[:12], len(copies) + len(quiet[:12])


def test_watches_fire_once_per_story_with_evidence_and_redelivery_fires_nothing(
    broker: EmbeddedBroker, hook: FlakyHook, tmp_path: Path
) -> None:
    config_dir = make_config(tmp_path, WATCHES)
    (config_dir / "channels.yaml").write_text(CHANNELS.format(url=hook.url), encoding="utf-8")
    copies, quiet, n = _stream(config_dir, tmp_path)
    data_dir = tmp_path / "data"
    env = worker_env(
        broker.bootstrap,
        data_dir,
        config_dir,
        RASD_TEST_HOOK_SECRET=SECRET,
        RASD_DELIVERY_BACKOFF_S="0.1",
    )
    worker = Worker(env, tmp_path / "worker.log")
    try:
        publisher = KafkaPublisher(broker.bootstrap)
        publisher.publish(copies[:1])  # the first copy founds the story
        eventually(lambda: "checked=1 " in worker.log(), timeout=90)
        publisher.publish(copies[1:] + quiet)
        eventually(lambda: f"checked={n} " in worker.log(), timeout=90)
        metrics = eventually(lambda: (m := collect(data_dir)).counters.get("articles_checked") == n and m)
        assert metrics.roles == {"worker": 1} and metrics.histograms["indexed_latency_seconds"].count == n

        store = AlertStore(data_dir / "alerts.sqlite3")
        expected = {"putin", "space", "satellites", "putin-surge"}

        def fired() -> list[Alert]:
            got = store.recent(100)
            return got if {a.watch_id for a in got} >= expected else []

        alerts = eventually(fired, timeout=60)
        by_watch = {a.watch_id: a for a in alerts}
        assert sorted(a.watch_id for a in alerts) == sorted(expected)  # one each; `never` silent

        putin = by_watch["putin"]
        assert putin.article_id == copies[0].id
        assert {a.article_id for a in putin.also} == {c.id for c in copies[1:]}  # the other sources
        ev = putin.evidence[0]
        assert (ev.kind, ev.value) == ("entity", "Q7747") and "بوتين" in ev.surface and "بوتين" in ev.snippet
        phrase = by_watch["satellites"].evidence[0]
        assert phrase.kind == "word" and phrase.surface in copies[0].title + copies[0].body
        surge = by_watch["putin-surge"]
        assert surge.kind == "surge" and surge.evidence[0].value == "Q7747"
        assert surge.evidence[0].count == 3  # the count when it crossed min_count (3 >= 2 x baseline 1)

        accepted = eventually(hook.accepted, timeout=30)
        assert len(hook.requests) == 3  # 503, 503, then delivered
        [(headers, body)] = accepted
        assert json.loads(body)["id"] == putin.id
        assert verify_signature(SECRET, headers["X-Rasd-Timestamp"], body, headers["X-Rasd-Signature"])

        def jsonl_ids() -> list[str]:
            path = data_dir / "alerts.jsonl"
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            ids = [json.loads(line)["id"] for line in lines]
            return ids if len(ids) >= len(expected) else []

        first_lines = eventually(jsonl_ids, timeout=30)
        assert sorted(first_lines) == sorted(a.id for a in alerts)

        # redelivery: the same messages again (as after a connector or worker restart)
        publisher.publish(copies + quiet)
        publisher.close()
        eventually(lambda: f"checked={2 * n} " in worker.log(), timeout=90)
        again = store.recent(100)
        assert sorted(a.id for a in again) == sorted(a.id for a in alerts)
        assert {a.article_id for a in next(a for a in again if a.watch_id == "putin").also} == {
            c.id for c in copies[1:]
        }
        assert sorted(jsonl_ids()) == sorted(first_lines)
        assert len(hook.accepted()) == 1

        # a watch added at run time reaches the running worker, no restart
        cli_env = {"RASD_DATA_DIR": str(data_dir), "RASD_CONFIG_DIR": str(config_dir)}
        with pytest.MonkeyPatch.context() as mp:
            for k, v in cli_env.items():
                mp.setenv(k, v)
            assert main(["watch", "add", "dates-festival", "--word", "مهرجان التمور"]) == 0
        fresh = Article(
            id=article_id("https://local.example/dates"),
            source="local",
            url="https://local.example/dates",
            title="افتتاح مهرجان التمور في القصيم",
            body="افتتح أمير المنطقة مهرجان التمور السنوي بمشاركة مئات المزارعين.",
            language="ar",
        )
        late = KafkaPublisher(broker.bootstrap)
        late.publish([fresh])
        late.close()
        runtime_alert = eventually(lambda: store.recent(5, watch_id="dates-festival"), timeout=60)
        assert runtime_alert[0].article_id == fresh.id
        assert runtime_alert[0].evidence[0].surface == "مهرجان التمور"
        store.close()
    except BaseException:
        print(worker.log()[-6000:])
        raise
    finally:
        worker.stop()
