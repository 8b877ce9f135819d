"""What the worker's agents share: the enricher, the search backend, the watches and the alert log.

Built once from `Settings` by the worker command and passed to the agents; nothing global.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pipeline.alerts.rules import CompiledWatch, compile_watches
from pipeline.alerts.store import AlertStore
from pipeline.config import load_watches
from pipeline.enrich.dedupe_store import StoryIndex
from pipeline.enrich.enricher import Enricher, load_enricher
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
    dead_lettered: int = 0

    def line(self) -> str:
        return (
            f"enriched={self.enriched} indexed={self.indexed} alerts={self.alerted} dlq={self.dead_lettered}"
        )


@dataclass
class Runtime:
    settings: Settings
    enricher: Enricher
    backend: SearchBackend
    watches: list[CompiledWatch]
    alert_store: AlertStore
    stories: StoryIndex
    counters: Counters = field(default_factory=Counters)

    @classmethod
    def load(cls, settings: Settings) -> Runtime:
        """Load config data and open stores; bad config raises ConfigError before any agent starts."""
        enricher = load_enricher(settings)
        watches = compile_watches(
            load_watches(settings.watchlists_file) if settings.watchlists_file.is_file() else [],
            enricher.registry,
            enricher.topics.topics,
        )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        backend = open_backend(settings, enricher.analyzer)
        store = AlertStore(settings.data_dir / "alerts.sqlite3")
        stories = StoryIndex.open(settings.data_dir / "stories.sqlite3")
        log.info(
            "runtime ready: %d entities, %d topics, %d watches",
            len(enricher.registry),
            len(enricher.topics.topics),
            len(watches),
        )
        return cls(settings, enricher, backend, watches, store, stories)
