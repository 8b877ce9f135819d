"""The broker unavailable at start, then for a while in the middle of the stream.

The worker and the connector start before anything listens on the broker's port; the broker comes up
later on that port. Then, mid-stream, the broker process is frozen (SIGSTOP) for 10 s while new
articles are being fetched and published, and thawed (SIGCONT): Tansu keeps everything in memory, so
it is never restarted mid-test. The connector runs `rasd ingest` rounds one after another; the worker
runs under a supervisor that would restart it if it exited, as a process manager would — it must not
need to: it waits for the broker with backoff. Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from connectors import KafkaPublisher, poll_once
from pipeline.broker import EmbeddedBroker, ensure_topics, free_port
from pipeline.errors import PublishError
from pipeline.settings import Settings
from tests.faults.support import (
    Corpus,
    FeedServer,
    check_exactly_once,
    index_rows,
    print_logs,
    progress,
    start_worker,
    wait_until_complete,
)
from tests.integration.support import Worker, eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

PAUSE_S = 10.0


class Supervisor(threading.Thread):
    """Keeps one `rasd worker` running: restarts it 1 s after it exits, recording each exit."""

    def __init__(self, bootstrap: str, data_dir: Path, config_dir: Path, log_dir: Path) -> None:
        super().__init__(daemon=True)
        self.args = (bootstrap, data_dir, config_dir)
        self.log_dir = log_dir
        self.workers: list[Worker] = [self._start()]
        self.exits: list[tuple[int, str]] = []  # (exit code, log tail)
        self._halt = threading.Event()

    def _start(self) -> Worker:
        return start_worker(*self.args, self.log_dir / f"worker-{len(getattr(self, 'workers', [])) + 1}.log")

    @property
    def current(self) -> Worker:
        return self.workers[-1]

    def run(self) -> None:
        while not self._halt.wait(0.5):
            code = self.current.proc.poll()
            if code is not None:
                self.exits.append((code, self.current.log()[-3000:]))
                self.current.stop()
                if not self._halt.wait(1.0):
                    self.workers.append(self._start())

    def stop(self) -> None:
        self._halt.set()
        self.join(30)
        for w in self.workers:
            w.stop()


class Connector(threading.Thread):
    """A `rasd ingest` round (connect, poll every feed once, publish, close) every `interval_s`, a
    failed round reported and retried at the next one."""

    def __init__(self, settings: Settings, server: FeedServer, interval_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.server = server
        self.interval_s = interval_s
        self.rounds: list[tuple[float, float, int, list[str]]] = []  # (start, end, published, errors)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            start = time.monotonic()
            published, errors = 0, []
            try:
                publisher = KafkaPublisher(str(self.settings.kafka_bootstrap))
                try:
                    report = asyncio.run(
                        poll_once(self.server.feeds, settings=self.settings, publisher=publisher)
                    )
                finally:
                    publisher.close()
                published = report.published
                errors = [f"{o.feed_id}: {o.error}" for o in report.outcomes if o.error]
            except PublishError as exc:
                errors = [str(exc)]
            self.rounds.append((start, time.monotonic(), published, errors))
            self._halt.wait(self.interval_s)

    @property
    def published(self) -> int:
        return sum(r[2] for r in self.rounds)

    def errors(self) -> list[str]:
        return [e for r in self.rounds for e in r[3]]

    def stop(self) -> None:
        self._halt.set()
        self.join(120)


def test_broker_unavailable_at_start_then_frozen_mid_stream(
    corpus: Corpus, feed_server: FeedServer, tmp_path: Path
) -> None:
    n = len(corpus.articles)
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "tansu.log")  # not started yet
    data_dir = tmp_path / "data"
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        data_dir=tmp_path / "connector",
        config_dir=corpus.config_dir,
        fetch_allowed_hosts=["127.0.0.1"],
        topic_partitions=2,
        poll_interval_s=1.0,  # a publish that failed is retried a second later
    )
    later = feed_server.feeds[6:]  # these feeds get their items only during the outage
    feed_server.hide(later)
    supervisor = Supervisor(broker.bootstrap, data_dir, corpus.config_dir, tmp_path)
    connector = Connector(settings, feed_server)
    try:
        supervisor.start()
        connector.start()
        # 1. nothing listens yet: the worker says so and keeps waiting; the connector's round waits
        #    for the broker (or fails, to be retried)
        eventually(lambda: "not reachable" in supervisor.current.log(), timeout=90)
        assert broker.bootstrap in supervisor.current.log() and not supervisor.exits
        assert connector.published == 0
        broker.start()
        ensure_topics(broker.bootstrap, partitions=2, replication=1)
        first = eventually(lambda: connector.published, timeout=90)
        eventually(lambda: (p := progress(supervisor.current)) is not None and p.indexed > 0, timeout=120)

        # 2. mid-stream, the broker freezes for a while as the other feeds get their items
        pid = broker._proc.pid if broker._proc is not None else 0
        assert pid
        os.kill(pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            feed_server.hidden = set()
            time.sleep(PAUSE_S)  # the outage itself, not an assertion
        finally:
            os.kill(pid, signal.SIGCONT)
        thawed_at = time.monotonic()

        eventually(lambda: connector.published >= n, timeout=150)
        wait_until_complete(data_dir, corpus)
        connector.stop()
        supervisor.stop()
        outcome = check_exactly_once("broker down at start + frozen 10 s", data_dir, corpus, broker.bootstrap)
        during = [r for r in connector.rounds if r[0] < thawed_at and r[1] > frozen_at]
        restarts = len(supervisor.workers) - 1
        print(
            f"[faults]   worker exits={[c for c, _ in supervisor.exits]} restarts={restarts} "
            f"connector rounds={len(connector.rounds)} published={connector.published} (first {first}) "
            f"rounds spanning the freeze={[(round(e - s, 1), p, len(err)) for s, e, p, err in during]} "
            f"errors={connector.errors()[:3]}"
        )
        assert index_rows(data_dir)[0] == n
        assert not outcome.jsonl_duplicates
    except BaseException:
        print_logs(supervisor.workers, chars=4000)
        raise
    finally:  # each step on its own: a failing one must not leave a worker or the broker running
        for cleanup in (connector.stop, supervisor.stop, broker.stop):
            with contextlib.suppress(Exception):
                cleanup()
    assert not supervisor.exits, f"the worker exited while waiting for the broker: {supervisor.exits}"
