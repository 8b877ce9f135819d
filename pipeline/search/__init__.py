"""Full-text search over enriched articles: one contract, two backends, a factory.

`open_backend` picks the backend named in `Settings.search_backend` (embedded SQLite FTS5, or
Elasticsearch from `pipeline.search.elasticsearch`, imported only when chosen); callers then
`setup()` it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError
from pipeline.search.base import (
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    FacetCount,
    Facets,
    IndexReport,
    SearchBackend,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from pipeline.search.query import MAX_QUERY_TERMS, ParsedQuery, Phrase, parse_user_query
from pipeline.search.sqlite import SqliteBackend

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from pipeline.text import Analyzer

__all__ = [
    "HIGHLIGHT_POST",
    "HIGHLIGHT_PRE",
    "MAX_QUERY_TERMS",
    "FacetCount",
    "Facets",
    "IndexReport",
    "ParsedQuery",
    "Phrase",
    "SearchBackend",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "SqliteBackend",
    "connected",
    "open_backend",
    "parse_user_query",
]


def open_backend(settings: Settings, analyzer: Analyzer, *, writer: bool = True) -> SearchBackend:
    """The search backend the settings name, not yet set up; creates the index directory for SQLite.

    `writer=False` for processes that only read (the API, searches and backtests from the command
    line): their setup leaves the Elasticsearch template, which records the writers' analyzer, alone.

    Raises:
        ConfigError: the backend named is not available in this build.
    """
    if settings.search_backend == "sqlite":
        path = settings.index_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteBackend(path, analyzer, window=settings.search_window)
    if settings.search_backend == "elasticsearch":
        if not settings.elasticsearch_url:
            raise ConfigError(
                "RASD_SEARCH_BACKEND=elasticsearch needs RASD_ELASTICSEARCH_URL (e.g. https://localhost:9200)"
            )
        try:
            from pipeline.search.elasticsearch import ElasticsearchBackend
        except ImportError as exc:  # pragma: no cover - the client is a core dependency
            raise ConfigError(
                f"the Elasticsearch backend needs the 'elasticsearch>=9,<10' package: {exc}"
            ) from exc
        return ElasticsearchBackend.from_settings(
            settings,
            analyzer,
            stopwords=_stopwords(settings.config_dir / "stopwords" / "ar.txt"),
            writer=writer,
        )
    raise ConfigError(
        f"unknown search backend {settings.search_backend!r}; expected 'sqlite' or 'elasticsearch'"
    )


def _stopwords(path: Path) -> list[str]:
    """Stop words for the Elasticsearch Arabic analyzer, normalised; none when the list is missing."""
    if not path.is_file():
        return []
    from pipeline.search.elasticsearch.analysis import read_stopwords

    return read_stopwords(path.read_text(encoding="utf-8").splitlines())


@asynccontextmanager
async def connected(
    settings: Settings, analyzer: Analyzer, *, writer: bool = True
) -> AsyncIterator[SearchBackend]:
    """The configured backend, set up for the block and closed after it (one-shot CLI and test use)."""
    backend = open_backend(settings, analyzer, writer=writer)
    await backend.setup()
    try:
        yield backend
    finally:
        await backend.close()
