"""What the API and the web UI share in one process: the catalogue, the search backend and the stores.

Built once at start-up (`Services.load`) from `Settings` and kept on `app.state`; request handlers
get it through the `services` dependency. Nothing global.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request

from pipeline.alerts.manage import Catalogue, WatchManager
from pipeline.alerts.store import AlertStore
from pipeline.alerts.watchstore import WATCHES_FILE, WatchStore
from pipeline.config import load_feeds
from pipeline.enrich.registry import EntityRegistry, load_registry
from pipeline.enrich.topics import TopicDef, load_topics
from pipeline.errors import ConfigError
from pipeline.search import open_backend
from pipeline.search.base import SearchBackend
from pipeline.settings import Settings

__all__ = ["ALERTS_FILE", "Services", "services"]

ALERTS_FILE = "alerts.sqlite3"  # under the data dir, as the worker writes it


@dataclass
class Services:
    """The long-lived objects of one API process."""

    settings: Settings
    catalogue: Catalogue
    topics: dict[str, TopicDef]
    feed_names: dict[str, str]
    backend: SearchBackend
    alerts: AlertStore
    watch_store: WatchStore
    closed: bool = field(default=False, init=False)
    _set_up: bool = field(default=False, init=False)
    _setup_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    @classmethod
    def load(cls, settings: Settings) -> Services:
        """Read config data and open the stores (the backend is set up by `search_backend`)."""
        topic_defs = load_topics(settings.topics_file)
        catalogue = Catalogue(load_registry(settings.entities_dir), frozenset(t.id for t in topic_defs))
        try:
            feeds = load_feeds(settings.feeds_file) if settings.feeds_file.is_file() else []
        except ConfigError:  # the feed list only gives display names here; the connector reports it
            feeds = []
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            catalogue=catalogue,
            topics={t.id: t for t in topic_defs},
            feed_names={f.id: f.name for f in feeds},
            backend=open_backend(settings, catalogue.registry.analyzer, writer=False),
            alerts=AlertStore(settings.data_dir / ALERTS_FILE),
            watch_store=WatchStore(settings.data_dir / WATCHES_FILE),
        )

    @property
    def registry(self) -> EntityRegistry:
        return self.catalogue.registry

    async def search_backend(self) -> SearchBackend:
        """The backend, set up on first use: the API starts (and `/healthz` answers 503) while the
        search engine is still down, and is ready as soon as it answers.

        Raises:
            SearchUnavailable: the backend cannot be set up now (tried again on the next call).
        """
        if not self._set_up:
            async with self._setup_lock:
                if not self._set_up:
                    await self.backend.setup()
                    self._set_up = True
        return self.backend

    def watches(self) -> WatchManager:
        """A manager over the shared store and catalogue (cheap; nothing to close)."""
        return WatchManager(self.settings, store=self.watch_store, catalogue=self.catalogue)

    async def close(self) -> None:
        """Close the backend and the stores (once)."""
        if self.closed:
            return
        self.closed = True
        await self.backend.close()
        self.alerts.close()
        self.watch_store.close()


def services(request: Request) -> Services:
    """FastAPI dependency: the services of the app handling this request."""
    svc: Services = request.app.state.services
    return svc
