"""Stored articles enriched again after the configuration changed (`pipeline.enrich.refresh`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.enrich.refresh import RefreshProgress, reenrich
from pipeline.models import Article
from pipeline.search import SqliteBackend
from pipeline.search.base import SearchQuery
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]
PUTIN = "Q7747"


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=REPO / "config"))


@pytest.fixture
def backend(tmp_path: Path, enricher: Enricher) -> AsyncIterator[SqliteBackend]:
    store = SqliteBackend(tmp_path / "index.sqlite3", enricher.analyzer)
    asyncio.run(store.setup())
    yield store
    asyncio.run(store.close())


def _articles(enricher: Enricher) -> list[Article]:
    """Three enriched articles; the first and last as an older registry left them (no entities)."""
    titles = ["بوتين يستقبل وفدا في موسكو", "أمطار غزيرة على الساحل", "رسالة من بوتين إلى القمة"]
    fresh = enricher.enrich_many(
        [
            Article(id=f"article-{n}", source="t", title=t, body="وصل الوفد صباح اليوم")
            for n, t in enumerate(titles)
        ]
    )
    return [
        fresh[0].model_copy(update={"entities": []}),
        fresh[1],
        fresh[2].model_copy(update={"entities": [], "story_id": "story-kept"}),
    ]


async def _run(backend: SqliteBackend, enricher: Enricher, batch_size: int) -> list[RefreshProgress]:
    return [p async for p in reenrich(backend, enricher, batch_size=batch_size)]


async def _putin_ids(backend: SqliteBackend) -> list[str]:
    result = await backend.search(SearchQuery(entities=[PUTIN], sort="newest"))
    return sorted(hit.article.id for hit in result.hits)


def test_articles_an_older_registry_enriched_find_today_s_entities(
    backend: SqliteBackend, enricher: Enricher
) -> None:
    async def go() -> None:
        await backend.index_many(_articles(enricher))
        untouched = await backend.get("article-1")
        assert await _putin_ids(backend) == []
        progress = await _run(backend, enricher, batch_size=2)
        assert progress == [RefreshProgress(2, 1, 0), RefreshProgress(3, 2, 0)]
        assert await _putin_ids(backend) == ["article-0", "article-2"]
        assert await backend.get("article-1") == untouched  # its enrichment was current: not written
        kept = await backend.get("article-2")
        assert kept is not None and kept.story_id == "story-kept"  # only enrichment fields change
        # a second run finds everything current
        assert await _run(backend, enricher, batch_size=2) == [
            RefreshProgress(2, 0, 0),
            RefreshProgress(3, 0, 0),
        ]

    asyncio.run(go())


class _Racing:
    """The index, with a worker deleting one article and rewriting another while they are re-enriched."""

    def __init__(self, inner: SqliteBackend, newer: Article) -> None:
        self.inner = inner
        self.newer = newer
        self.raced = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def get(self, article_id: str) -> Article | None:
        if not self.raced:
            self.raced = True
            await self.inner.delete(["article-0"])
            await self.inner.index_many([self.newer])
        return await self.inner.get(article_id)


def test_an_article_deleted_or_rewritten_meanwhile_is_left_as_the_worker_left_it(
    backend: SqliteBackend, enricher: Enricher
) -> None:
    async def go() -> None:
        stale = _articles(enricher)
        await backend.index_many(stale)
        newer = enricher.enrich(stale[2].model_copy(update={"title": "رسالة جديدة من بوتين", "entities": []}))
        racing = _Racing(backend, newer)
        progress = [p async for p in reenrich(racing, enricher, batch_size=10)]  # type: ignore[arg-type]
        assert progress == [RefreshProgress(3, 0, 0)]
        assert await backend.get("article-0") is None
        assert await backend.get("article-2") == newer

    asyncio.run(go())
