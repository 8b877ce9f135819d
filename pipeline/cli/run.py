"""`rasd run`: the whole pipeline on one machine (embedded broker, worker, connector), with progress.

Without `RASD_KAFKA_BOOTSTRAP` it starts the bundled Tansu broker on a free loopback port. The
worker runs as a child process (`rasd worker`), the connector in this process; without `--once` the
HTTP API and web UI (`rasd api`) run as another child process. When no feed can
be reached (no network), the bundled sample feeds are replayed instead, so the demo works offline.

The embedded broker keeps everything in memory, so a fresh one holds none of the articles or dead
letters of an earlier run: the connector's seen ids and validators and the saved DLQ replay position
are dropped when it starts (re-publishing is harmless: downstream writes are upserts). SIGTERM and
SIGHUP stop it like Ctrl-C, so the worker, the API and the broker never outlive it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from pipeline.alerts.store import AlertStore
from pipeline.broker import EmbeddedBroker, ensure_topics, stop_process, unconsumed
from pipeline.cli.common import broker_file, write_broker_file
from pipeline.config import FeedConfig, load_feeds
from pipeline.enrich.registry import load_registry
from pipeline.errors import BrokerError
from pipeline.models import Article
from pipeline.search import connected
from pipeline.settings import Settings
from pipeline.text import Analyzer
from pipeline.topics import ARTICLES_ENRICHED, topic_plan

__all__ = ["add_parser", "run_main"]

log = logging.getLogger("rasd.run")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run broker (embedded unless RASD_KAFKA_BOOTSTRAP), worker and connector")
    p.add_argument(
        "--once",
        action="store_true",
        help="poll (or replay) once, wait until every new article is indexed, then stop",
    )
    p.add_argument("--samples", action="store_true", help="also replay the bundled sample feeds")
    p.add_argument("--no-feeds", action="store_true", help="do not poll config/feeds.yaml (samples only)")
    p.add_argument("--wait", type=float, default=180.0, help="with --once: seconds to wait for indexing")


class _Tracking:
    """Wraps a publisher to remember which article ids went out (for `--once` to wait on)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.ids: list[str] = []

    def publish(self, articles: Iterable[Article]) -> int:
        batch = list(articles)
        n: int = self.inner.publish(batch)  # type: ignore[attr-defined]
        self.ids.extend(a.id for a in batch)
        return n

    def close(self) -> None:
        self.inner.close()  # type: ignore[attr-defined]


def _start_worker(settings: Settings, bootstrap: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        RASD_KAFKA_BOOTSTRAP=bootstrap,
        RASD_DATA_DIR=str(settings.data_dir.resolve()),
        RASD_CONFIG_DIR=str(settings.config_dir.resolve()),
    )
    # own session: Ctrl-C reaches only this process, which then stops the worker with SIGTERM
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.main", "worker"], env=env, start_new_session=True
    )


def _start_api(settings: Settings, bootstrap: str) -> subprocess.Popen[bytes]:
    """`rasd api` as a child process on RASD_API_HOST:RASD_API_PORT (the web UI and the HTTP API)."""
    env = dict(os.environ)
    env.update(
        RASD_KAFKA_BOOTSTRAP=bootstrap,
        RASD_DATA_DIR=str(settings.data_dir.resolve()),
        RASD_CONFIG_DIR=str(settings.config_dir.resolve()),
    )
    cmd = [sys.executable, "-m", "pipeline.cli.main", "api"]
    cmd += ["--host", settings.api_host, "--port", str(settings.api_port)]
    return subprocess.Popen(cmd, env=env, start_new_session=True)


def _ingest(
    settings: Settings, publisher: _Tracking, samples_publisher: _Tracking, *, replay: bool, feeds: bool
) -> None:
    from connectors import poll_once, replay_paths

    offline = not feeds
    if feeds:
        configured = [f for f in load_feeds(settings.feeds_file) if f.enabled]
        report = asyncio.run(poll_once(configured, settings=settings, publisher=publisher))
        log.info(
            "polled %d feeds: %d new articles published, %d failed",
            len(configured),
            report.published,
            report.failed,
        )
        offline = report.all_network_failed
        if offline:
            log.warning("no feed could be reached (offline?): replaying the bundled samples instead")
    if replay or offline:
        rep = replay_paths([settings.resolved_samples_dir()], publisher=samples_publisher, settings=settings)
        log.info("replayed samples from %s: %d published", settings.resolved_samples_dir(), rep.published)


def _wait_indexed(
    settings: Settings,
    analyzer: Analyzer,
    ids: list[str],
    deadline_s: float,
    worker: subprocess.Popen[bytes],
) -> int:
    """Poll the search backend until every published id is searchable; returns how many are missing."""

    async def loop() -> int:
        async with connected(settings, analyzer, writer=False) as backend:
            deadline = time.monotonic() + deadline_s
            left = list(ids)
            while True:
                left = [i for i in left if await backend.get(i) is None]
                if not left or time.monotonic() > deadline or worker.poll() is not None:
                    return len(left)
                await asyncio.sleep(0.5)

    return asyncio.run(loop())


def _wait_alerts_done(
    settings: Settings, bootstrap: str, deadline: float, worker: subprocess.Popen[bytes]
) -> None:
    """Wait until the alert agent has matched every enriched article and the outbox is delivered.

    Indexing and alert matching read `articles.enriched` independently, so "all indexed" said nothing
    about alerts: the summary's count was short by the last alerts in some runs.
    """
    store = AlertStore(settings.data_dir / "alerts.sqlite3")
    try:
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                behind = unconsumed(bootstrap, settings.consumer_group, ARTICLES_ENRICHED)
            except BrokerError as exc:  # the articles are indexed: report them, say what is unknown
                log.warning("cannot tell whether the alert agent is done (%s)", exc)
                return
            if behind == 0 and not store.pending(limit=1):
                return
            time.sleep(0.5)
    finally:
        store.close()
    log.warning("stopped waiting for the alert agent: some alerts may not be counted yet")


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Unwind like Ctrl-C; later signals are ignored so the cleanup that follows can finish."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP raise KeyboardInterrupt while inside: the children run in their own sessions,
    so only unwinding the ExitStack stops them. The previous handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _forget_old_broker(settings: Settings) -> None:
    """A fresh embedded broker holds nothing published before: forget what says otherwise."""
    from connectors.state import forget_published

    changed = forget_published(settings.state_dir)
    if changed:
        log.info("fresh embedded broker: %d feed(s) will publish their current articles again", changed)
    (settings.data_dir / "dlq-replayed.json").unlink(missing_ok=True)


def run_main(settings: Settings, args: argparse.Namespace) -> int:
    from connectors import KafkaPublisher
    from connectors.fulltext.route import FullTextRouter

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with _stop_on_signals(), ExitStack() as stack:
        bootstrap = settings.kafka_bootstrap
        if not bootstrap:
            broker = stack.enter_context(EmbeddedBroker(log_path=settings.data_dir / "tansu.log"))
            bootstrap = broker.bootstrap
            _forget_old_broker(settings)
            path = broker_file(settings)
            write_broker_file(path, {"bootstrap": bootstrap, "pid": os.getpid()})
            stack.callback(path.unlink, missing_ok=True)
        created = ensure_topics(bootstrap, plan=topic_plan(settings))
        if created:
            log.info("created topics: %s", ", ".join(created))
        worker = _start_worker(settings, bootstrap)
        stack.callback(stop_process, worker, 15)
        if not args.once:
            api = _start_api(settings, bootstrap)
            stack.callback(stop_process, api, 10)
            host = f"[{settings.api_host}]" if ":" in settings.api_host else settings.api_host
            print(f"web UI: http://{host}:{settings.api_port}/ui/  (API docs: /docs)", flush=True)
        # live feeds: short items go by articles.fulltext to be completed with their page's text;
        # the bundled samples go straight to articles.raw (offline, there is no page to fetch)
        feeds = [f for f in load_feeds(settings.feeds_file) if f.enabled]
        polled = [] if args.no_feeds else feeds
        publisher = _Tracking(FullTextRouter.kafka(bootstrap, feeds=feeds, settings=settings))
        stack.callback(publisher.close)
        samples = _Tracking(KafkaPublisher(bootstrap, max_record_bytes=settings.max_record_bytes))
        stack.callback(samples.close)
        _ingest(settings, publisher, samples, replay=args.samples, feeds=not args.no_feeds)
        publisher.ids.extend(samples.ids)
        if args.once:
            print(
                f"published {len(publisher.ids)} new article(s); waiting for the worker to index them…",
                flush=True,
            )
            deadline = time.monotonic() + args.wait
            # the registry's analyzer: setting up a backend with another would record it (or, for
            # Elasticsearch, put its protected names into the index template)
            analyzer = load_registry(settings.entities_dir).analyzer
            left = _wait_indexed(settings, analyzer, publisher.ids, args.wait, worker)
            if left == 0:
                _wait_alerts_done(settings, bootstrap, deadline, worker)
            _summary(settings, analyzer, len(publisher.ids), left)
            return 0 if left == 0 else 1
        return _forever(settings, publisher, worker, polled)
    return 0


def _forever(
    settings: Settings, publisher: _Tracking, worker: subprocess.Popen[bytes], feeds: list[FeedConfig]
) -> int:
    """Poll `feeds` (none with `--no-feeds`) on their interval until Ctrl-C or SIGTERM."""
    from connectors import poll_once

    print(f"running: {len(feeds)} feeds every {settings.poll_interval_s:.0f}s; Ctrl-C to stop", flush=True)
    try:
        while worker.poll() is None:
            time.sleep(settings.poll_interval_s)
            if feeds:
                asyncio.run(poll_once(feeds, settings=settings, publisher=publisher))
    except KeyboardInterrupt:
        print("stopping…", flush=True)
        return 0
    raise BrokerError(f"the worker exited with code {worker.returncode}")


def _summary(settings: Settings, analyzer: Analyzer, published: int, missing: int) -> None:
    async def count() -> int:
        async with connected(settings, analyzer, writer=False) as backend:
            return await backend.count()

    alerts_db = settings.data_dir / "alerts.sqlite3"
    alerts = AlertStore(alerts_db).count() if alerts_db.is_file() else 0
    print(
        f"done: published={published} indexed_total={asyncio.run(count())} missing={missing} alerts={alerts}",
        flush=True,
    )
    print(
        f"index: {Path(settings.index_path).resolve()}  alerts: {settings.alerts_path.resolve()}", flush=True
    )
