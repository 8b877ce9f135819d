"""Stored articles enriched again with today's configuration (`rasd reindex --enrich`).

What enrichment finds depends on `config/`: an entity added to the registry, a new spelling, a
retrained model or an edited topic lexicon. Articles indexed before the edit keep what the old
configuration found, so a search for the new entity's id misses its past coverage. This walks the
index, enriches each article's stored text again and writes back only the articles whose enrichment
changed. Nothing else about an article changes (story, duplicate and full-text data are copied by
the enricher), and no alert is sent: watches are for news as it arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from pipeline.enrich.enricher import Enricher
from pipeline.models import Article
from pipeline.search.base import SearchBackend

__all__ = ["RefreshProgress", "enrichment_changed", "reenrich"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshProgress:
    """Running counts: articles read, written back with a new enrichment, and refused by the index."""

    seen: int = 0
    rewritten: int = 0
    failed: int = 0


def enrichment_changed(old: Article, new: Article) -> bool:
    """Whether enrichment found anything different (its timestamp aside)."""
    return (old.language, old.entities, old.topics, old.keywords) != (
        new.language,
        new.entities,
        new.topics,
        new.keywords,
    )


async def _unchanged_since(backend: SearchBackend, read: Article) -> bool:
    """Whether the stored article is still the copy read: not deleted, not written again by a worker."""
    current = await backend.get(read.id)
    return current is not None and current.enriched_at == read.enriched_at


async def _refresh(
    progress: RefreshProgress, backend: SearchBackend, enricher: Enricher, batch: Sequence[Article]
) -> RefreshProgress:
    """Enrich one batch again (in a worker thread: it is CPU work) and write back what changed.

    Each changed article is read again just before the write and skipped if the index holds another
    copy by then: a deleted article stays deleted, a newer text is not replaced by the older one.
    """
    fresh = await asyncio.to_thread(enricher.enrich_many, batch)
    changed = [
        new
        for old, new in zip(batch, fresh, strict=True)
        if enrichment_changed(old, new) and await _unchanged_since(backend, old)
    ]
    seen = progress.seen + len(batch)
    if not changed:
        return RefreshProgress(seen, progress.rewritten, progress.failed)
    report = await backend.index_many(changed)
    for article_id, reason in report.failed:
        log.warning("re-enriched article %s not written: %s", article_id, reason)
    return RefreshProgress(
        seen, progress.rewritten + len(report.indexed), progress.failed + len(report.failed)
    )


async def reenrich(
    backend: SearchBackend, enricher: Enricher, batch_size: int = 200
) -> AsyncIterator[RefreshProgress]:
    """Enrich every stored article again, oldest first; yields the running counts after each batch.

    Safe to interrupt and run again (an article already current is read but not written) and beside
    workers already running the new configuration: an article they wrote since it was read is left
    as they wrote it (only the moment between that check and the write is unguarded).
    """
    progress = RefreshProgress()
    batch: list[Article] = []
    async for article in backend.scan(batch_size=batch_size):
        batch.append(article)
        if len(batch) == batch_size:
            progress = await _refresh(progress, backend, enricher, batch)
            batch = []
            yield progress
    if batch:
        yield await _refresh(progress, backend, enricher, batch)
