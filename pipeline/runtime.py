"""What the worker's agents share: the enricher, the search backend, the watches and the alert log.

Built once from `Settings` by the worker command and passed to the agents; nothing global. The
watches are those of the config file with the run-time changes of the watch store on top;
`refresh_watches` picks up new changes (from `rasd watch …` in another process) without a restart.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.alerts.rules import CompiledWatch, compile_watch, compile_watches
from pipeline.alerts.store import AlertStore
from pipeline.alerts.watchstore import WATCHES_FILE, Origin, WatchStore, effective_watches
from pipeline.config import load_watches
from pipeline.enrich.dedupe_store import StoryIndex
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.errors import ConfigError
from pipeline.metrics import MetricsRecorder
from pipeline.models import Article, Watch, utcnow
from pipeline.search import open_backend
from pipeline.search.base import SearchBackend
from pipeline.settings import Settings

__all__ = ["Counters", "Runtime"]

log = logging.getLogger("rasd.worker")


@dataclass
class Counters:
    """Progress the worker reports: articles enriched / indexed / alerted, and DLQ'd."""

    enriched: int = 0
    indexed: int = 0
    alerted: int = 0
    checked: int = 0  # enriched articles the alert agent has matched against the watches
    dead_lettered: int = 0
    dead_letters_lost: int = 0  # letters the broker refused too: logged, not parked

    def line(self) -> str:
        lost = f" dlq_lost={self.dead_letters_lost}" if self.dead_letters_lost else ""
        return (
            f"enriched={self.enriched} indexed={self.indexed} checked={self.checked} alerts={self.alerted} "
            f"dlq={self.dead_lettered}{lost}"
        )


@dataclass
class Runtime:
    settings: Settings
    enricher: Enricher
    backend: SearchBackend
    watches: list[CompiledWatch]
    alert_store: AlertStore
    stories: StoryIndex
    watch_store: WatchStore
    config_watches: list[Watch] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    metrics: MetricsRecorder | None = None  # written to the data dir by the progress timer
    _watch_version: int | None = field(default=None, init=False, repr=False)
    _config_compiled: dict[str, CompiledWatch] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def load(cls, settings: Settings) -> Runtime:
        """Load config data and open stores; bad config raises ConfigError before any agent starts.

        Watches of the config file must all compile; a run-time watch that no longer compiles
        is logged and skipped (see `refresh_watches`).
        """
        enricher = load_enricher(settings)
        config_watches = load_watches(settings.watchlists_file) if settings.watchlists_file.is_file() else []
        compiled = compile_watches(config_watches, enricher.registry, enricher.topics.topics)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        backend = open_backend(settings, enricher.analyzer)
        store = AlertStore(settings.data_dir / "alerts.sqlite3")
        stories = StoryIndex.open(settings.data_dir / "stories.sqlite3")
        watch_store = WatchStore(settings.data_dir / WATCHES_FILE)
        runtime = cls(
            settings=settings,
            enricher=enricher,
            backend=backend,
            watches=compiled,
            alert_store=store,
            stories=stories,
            watch_store=watch_store,
            config_watches=config_watches,
            metrics=MetricsRecorder(settings.data_dir, "worker"),
        )
        runtime._config_compiled = {cw.watch.id: cw for cw in compiled}
        runtime.refresh_watches()
        log.info(
            "runtime ready: %d entities, %d topics, %d watches",
            len(enricher.registry),
            len(enricher.topics.topics),
            len(runtime.watches),
        )
        return runtime

    def observe_latency(self, name: str, article: Article) -> None:
        """Seconds from the article's fetch to now, into the named latency histogram."""
        if self.metrics is not None:
            self.metrics.observe(name, (utcnow() - article.fetched).total_seconds())

    def flush_metrics(self) -> None:
        """Copy the counters into the metrics snapshot and write it (the API sums every process's)."""
        if self.metrics is None:
            return
        c, m = self.counters, self.metrics
        for name, value in (
            ("articles_enriched", c.enriched),
            ("articles_indexed", c.indexed),
            ("articles_checked", c.checked),
            ("alerts_fired", c.alerted),
            ("dead_letters", c.dead_lettered),
            ("dead_letters_lost", c.dead_letters_lost),
        ):
            m.set(name, value)
        try:
            m.flush()
        except OSError as exc:
            log.warning("cannot write metrics to %s: %s", m.path, exc)

    def refresh_watches(self) -> bool:
        """Recompile the watches when the watch store changed since the last call; True when it did.

        Cheap when nothing changed (one `PRAGMA`), so the alert agent calls it for every batch.
        Never raises: an unreadable store keeps the current watches, and a run-time watch that no
        longer compiles (an entity gone from the registry, say) is logged with the reason and skipped.
        """
        try:
            version = self.watch_store.version()
            if version == self._watch_version:
                return False
            overrides = self.watch_store.overrides()  # after version(): a write in between is seen next time
        except sqlite3.Error as exc:
            log.warning("watch store unreadable, keeping %d watches: %s", len(self.watches), exc)
            return False
        self._watch_version = version
        self.watches = self._compile(effective_watches(self.config_watches, overrides))
        log.info("watches loaded: %d (%d run-time changes)", len(self.watches), len(overrides))
        return True

    def _compile(self, watches: Sequence[tuple[Watch, Origin]]) -> list[CompiledWatch]:
        registry, topics = self.enricher.registry, self.enricher.topics.topics
        out: list[CompiledWatch] = []
        for watch, _origin in watches:
            ready = self._config_compiled.get(watch.id)
            if ready is not None and ready.watch == watch:  # unchanged config watch: compiled at load
                out.append(ready)
                continue
            try:
                out.append(compile_watch(watch, registry, topics))
            except (ConfigError, ValueError) as exc:
                log.warning("watch %s skipped: %s", watch.id, exc, extra={"watch_id": watch.id})
        return out
