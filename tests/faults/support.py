"""Helpers for the fault-injection suite: the article corpus and its expected alerts, a paced feeder,
worker progress, and readers for what the pipeline produced (search index, alert store, JSONL, topics).

Everything is read from the outside (the SQLite files, the broker), never from the worker's memory.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from connectors import KafkaPublisher, MemoryPublisher
from connectors.replay import replay_paths
from pipeline.alerts.rules import compile_watches, match_watch
from pipeline.broker import group_offsets
from pipeline.config import FeedConfig, load_watches
from pipeline.enrich.dedupe_store import StoryIndex
from pipeline.enrich.enricher import load_enricher
from pipeline.models import Alert, Article
from pipeline.settings import Settings
from tests.integration.support import REPO, Worker, eventually, make_config, worker_env

FEEDS = REPO / "tests" / "fixtures" / "feeds"
# every bundled publisher feed (the synthetic seed article is left out): 11 files, 125 articles
FEED_FILES = sorted(p for p in FEEDS.glob("*/*.xml") if p.parent.name != "seed")

# watches on frequent entities and topics of the fixture feeds, so that about half the articles alert
WATCHES = """
watches:
  - id: iran
    entities: [Q794]
    channels: [jsonl]
  - id: trump
    entities: [Q22686]
    channels: [jsonl]
  - id: economy
    topics: [economy]
    channels: [jsonl]
  - id: gaza
    entities: [rasd:gaza-strip, rasd:gaza-city, rasd:rafah, rasd:khan-younis, rasd:rafah-crossing]
    channels: [jsonl]
  - id: ceasefire
    words: ["وقف إطلاق النار", "هدنة", "تبادل الأسرى"]
    channels: [jsonl]
"""

PROGRESS = re.compile(r"progress enriched=(\d+) indexed=(\d+) checked=(\d+) alerts=(\d+) dlq=(\d+)")


@dataclass(frozen=True)
class Corpus:
    """Real articles, the test config, and the alerts the pipeline must fire: id → (watch, article)."""

    articles: list[Article]
    config_dir: Path
    expected_alerts: dict[str, tuple[str, str]]

    @property
    def ids(self) -> set[str]:
        return {a.id for a in self.articles}


def build_corpus(tmp: Path) -> Corpus:
    """Parse the fixture feeds and compute the expected alerts in-process with the worker's own code.

    Each article must be its own story (checked in both stream orders), so the expected alert ids do
    not depend on the order in which the two partitions are consumed.
    """
    config_dir = make_config(tmp, WATCHES)
    settings = Settings(config_dir=config_dir, data_dir=tmp / "corpus")
    publisher = MemoryPublisher()
    replay_paths(FEED_FILES, publisher=publisher, settings=settings)
    articles = publisher.articles
    assert len(articles) == len({a.id for a in articles}) >= 100
    enricher = load_enricher(settings)
    enriched = enricher.enrich_many(articles)
    for order in (enriched, enriched[::-1]):
        stories = StoryIndex.in_memory()
        assert all(stories.assign(a).duplicate_of is None for a in order), "corpus must be distinct stories"
    watches = compile_watches(
        load_watches(settings.watchlists_file), enricher.registry, enricher.topics.topics
    )
    expected: dict[str, tuple[str, str]] = {}
    for article in enriched:
        story = article.model_copy(update={"story_id": article.id})  # a new story is named by its id
        for cw in watches:
            alert = match_watch(cw, story, enricher.analyzer)
            if alert is not None:
                expected[alert.id] = (cw.watch.id, article.id)
    assert expected.keys() == {
        Alert.make_id(w, a) for w, a in expected.values()
    }  # one alert per (watch, story)
    assert len(expected) >= 30, "the watches should fire for a good part of the corpus"
    return Corpus(articles=articles, config_dir=config_dir, expected_alerts=expected)


class FeedServer:
    """The fixture feed files over real HTTP on 127.0.0.1, one URL per file (`feeds` gives their configs)."""

    EMPTY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>soon</title></channel></rss>'

    def __init__(self, files: Sequence[Path] = FEED_FILES) -> None:
        bodies = {f"/{i}.xml": path.read_bytes() for i, path in enumerate(files)}
        self.requests = 0
        self.hidden: set[str] = set()  # paths served as a feed with no item yet
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = FeedServer.EMPTY if self.path in server.hidden else bodies.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self._http.server_address[1]
        self.feeds = [
            FeedConfig(id=f"{path.parent.name}-{i}", url=f"http://127.0.0.1:{port}/{i}.xml", name=path.name)
            for i, path in enumerate(files)
        ]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def hide(self, feeds: Sequence[FeedConfig]) -> None:
        self.hidden = {str(f.url.path) for f in feeds}

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


# -- running workers -----------------------------------------------------------------------------


def start_worker(bootstrap: str, data_dir: Path, config_dir: Path, log_path: Path, **extra: str) -> Worker:
    env = worker_env(bootstrap, data_dir, config_dir, RASD_DELIVERY_BACKOFF_S="0.1", **extra)
    return Worker(env, log_path)


@dataclass(frozen=True)
class Progress:
    enriched: int
    indexed: int
    checked: int
    alerts: int
    dlq: int


def progress(worker: Worker) -> Progress | None:
    """The worker's last `progress …` log line (logged every 2 s when a counter changed)."""
    found = PROGRESS.findall(worker.log())
    return Progress(*(int(x) for x in found[-1])) if found else None


def print_logs(workers: Sequence[Worker], chars: int = 5000) -> None:
    """The end of each worker's log, for a failing test's output."""
    for w in workers:
        print(f"--- {w.log_path.name}\n{w.log()[-chars:]}")


def kill(worker: Worker) -> None:
    """SIGKILL: no shutdown code runs (no commit, no flush, no outbox clean-up)."""
    worker.proc.kill()
    worker.proc.wait(timeout=30)
    worker.stop()  # closes the log file


class Feeder(threading.Thread):
    """The connector side of a stream: publishes articles in small acknowledged batches, paced."""

    def __init__(
        self, bootstrap: str, articles: Sequence[Article], *, chunk: int = 5, pause_s: float = 0.4
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.articles = list(articles)
        self.chunk = chunk
        self.pause_s = pause_s
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with KafkaPublisher(self.bootstrap) as publisher:
                for i in range(0, len(self.articles), self.chunk):
                    self.sent += publisher.publish(self.articles[i : i + self.chunk])
                    time.sleep(self.pause_s)
        except BaseException as exc:
            self.error = exc

    def finish(self, timeout: float = 120.0) -> int:
        self.join(timeout)
        assert not self.is_alive(), "the feeder did not finish"
        assert self.error is None, f"the feeder failed: {self.error!r}"
        return self.sent


# -- what the pipeline produced ------------------------------------------------------------------


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)


def index_rows(data_dir: Path) -> tuple[int, int, set[str]]:
    """(rows, distinct ids, ids) of the search index, read from the SQLite file itself."""
    path = data_dir / "index.sqlite3"
    if not path.exists():
        return 0, 0, set()
    conn = _ro(path)
    try:
        rows, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM articles").fetchone()
        ids = {str(r[0]) for r in conn.execute("SELECT id FROM articles")}
    except sqlite3.OperationalError:  # schema not created yet
        return 0, 0, set()
    finally:
        conn.close()
    return int(rows), int(distinct), ids


def alert_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    """(alert id, watch id, article id) of every alert the store recorded."""
    path = data_dir / "alerts.sqlite3"
    if not path.exists():
        return []
    conn = _ro(path)
    try:
        return [
            (str(a), str(w), str(r))
            for a, w, r in conn.execute("SELECT id, watch_id, article_id FROM alerts")
        ]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def jsonl_ids(data_dir: Path) -> list[str]:
    """Alert ids in delivery order from the JSONL channel file (complete lines only)."""
    path = data_dir / "alerts.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    return [str(json.loads(line)["id"]) for line in lines]


def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[tuple[bytes | None, bytes]]:
    """Every record of `topic` as (key, value), read until caught up (two idle polls past the ends)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    out: list[tuple[bytes | None, bytes]] = []
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or set())
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return out
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        idle = 0
        while time.monotonic() < deadline and idle < 2:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                out.extend((r.key, r.value) for r in records)
            behind = any(consumer.position(tp) < ends[tp] for tp in tps)
            idle = 0 if batch or behind else idle + 1
    finally:
        consumer.close()
    return out


def wait_for_index(
    data_dir: Path, ids: set[str], *, stall_s: float = 30.0, timeout: float = 150.0
) -> set[str]:
    """Wait until every id is indexed; the ids still missing once the index stopped growing for
    `stall_s` seconds (or after `timeout`), empty when complete."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while True:
        indexed = index_rows(data_dir)[2]
        missing = ids - indexed
        if not missing:
            return set()
        if len(indexed) != last:
            last, since = len(indexed), time.monotonic()
        if time.monotonic() - since > stall_s or time.monotonic() > deadline:
            return missing
        time.sleep(0.5)


def committed_offsets(bootstrap: str, group: str = "rasd") -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        found = group_offsets(admin, group)
    finally:
        admin.close()
    return {(tp.topic, tp.partition): offset for tp, offset in found.items()}


def skipped_behind_commit(
    bootstrap: str, missing: set[str], topic: str = "articles.raw"
) -> dict[int, list[int]]:
    """Partition → offsets of `missing` articles on `topic` that the group has committed past
    (never processed, and never to be: a restart resumes after them)."""
    committed = committed_offsets(bootstrap)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    out: dict[int, list[int]] = {}
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        idle = 0
        while idle < 2:
            batch = consumer.poll(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for r in records:
                    if (
                        r.key
                        and r.key.decode() in missing
                        and r.offset < committed.get((topic, r.partition), -1)
                    ):
                        out.setdefault(r.partition, []).append(r.offset)
    finally:
        consumer.close()
    return out


def outbox_ids(data_dir: Path) -> set[str]:
    """Alerts still on the alert store's delivery outbox."""
    path = data_dir / "alerts.sqlite3"
    if not path.exists():
        return set()
    conn = _ro(path)
    try:
        return {str(r[0]) for r in conn.execute("SELECT alert_id FROM outbox")}
    except sqlite3.OperationalError:
        return set()
    finally:
        conn.close()


def delivered_not_acknowledged(data_dir: Path) -> set[str]:
    """Read right after a kill: alerts already appended to the JSONL file but still on the outbox.

    That is the at-least-once window of `pipeline/agents/alert.py::_deliver_pending` (deliver the
    batch, then `AlertStore.delivered`): the restarted worker delivers these again, by design.
    """
    return outbox_ids(data_dir) & set(jsonl_ids(data_dir))


@dataclass
class Outcome:
    """The counts a scenario reports: N in, N indexed, duplicates, alerts."""

    scenario: str
    n_in: int
    index_rows: int = 0
    index_distinct: int = 0
    alerts: int = 0
    alerts_expected: int = 0
    jsonl_lines: int = 0
    jsonl_duplicates: dict[str, int] = field(default_factory=dict)
    unexplained_duplicates: dict[str, int] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.extra.items())
        repeated = sum(self.jsonl_duplicates.values()) - len(self.jsonl_duplicates)
        return (
            f"[faults] {self.scenario}: in={self.n_in} indexed={self.index_distinct} "
            f"duplicates={self.index_rows - self.index_distinct} alerts={self.alerts}/{self.alerts_expected} "
            f"jsonl={self.jsonl_lines} jsonl_duplicates={repeated}"
            f" (outside the crash window: {len(self.unexplained_duplicates)}) {extra}"
        ).rstrip()


def wait_until_complete(
    data_dir: Path, corpus: Corpus, articles: Sequence[Article] | None = None, *, timeout: float = 150.0
) -> None:
    """Every article indexed, every expected alert recorded and written to the JSONL file."""
    ids = {a.id for a in articles} if articles is not None else corpus.ids
    expected = {k for k, (_, a) in corpus.expected_alerts.items() if a in ids}
    eventually(lambda: index_rows(data_dir)[2] >= ids, timeout=timeout, interval=0.5)
    eventually(lambda: {a for a, _, _ in alert_rows(data_dir)} >= expected, timeout=60, interval=0.5)
    eventually(lambda: set(jsonl_ids(data_dir)) >= expected and not outbox_ids(data_dir), timeout=60)


def check_exactly_once(
    scenario: str,
    data_dir: Path,
    corpus: Corpus,
    bootstrap: str,
    *,
    crash_window: set[str] | frozenset[str] = frozenset(),
    articles: Sequence[Article] | None = None,
) -> Outcome:
    """After the workers stopped: N indexed once each, each expected alert recorded once.

    JSONL lines are checked by the caller with the outcome: a line written twice is expected only
    for an alert of `crash_window` (delivered, not yet acknowledged when a worker was killed).
    """
    wanted = list(articles) if articles is not None else corpus.articles
    wanted_ids = {a.id for a in wanted}
    expected_alerts = {k: v for k, v in corpus.expected_alerts.items() if v[1] in wanted_ids}
    rows, distinct, ids = index_rows(data_dir)
    alerts = alert_rows(data_dir)
    lines = jsonl_ids(data_dir)
    dup_lines = {k: v for k, v in Counter(lines).items() if v > 1}
    enriched = read_topic(bootstrap, "articles.enriched")
    outcome = Outcome(
        scenario,
        n_in=len(wanted),
        index_rows=rows,
        index_distinct=distinct,
        alerts=len(alerts),
        alerts_expected=len(expected_alerts),
        jsonl_lines=len(lines),
        jsonl_duplicates=dup_lines,
        unexplained_duplicates={k: v for k, v in dup_lines.items() if k not in crash_window or v > 2},
        extra={"enriched_messages": len(enriched), "crash_window": len(crash_window)},
    )
    print(outcome.line())
    assert ids == wanted_ids
    assert rows == distinct == len(wanted)
    assert {a: (w, r) for a, w, r in alerts} == expected_alerts
    assert len(alerts) == len(expected_alerts)
    assert set(lines) == set(expected_alerts)
    enriched_ids = {k.decode() for k, _ in enriched if k}
    assert enriched_ids >= wanted_ids  # redeliveries may add copies, never lose one
    return outcome
