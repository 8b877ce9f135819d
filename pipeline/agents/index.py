"""Index agent: articles.enriched → search backend, in batches (`stream.take`), upsert by id."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.agents.dlq import dead_letter
from pipeline.agents.streams import batches
from pipeline.errors import SearchError, SearchUnavailable
from pipeline.models import Article
from pipeline.runtime import Runtime

if TYPE_CHECKING:
    import faust

    from pipeline.app import Topics

__all__ = ["register"]

log = logging.getLogger("rasd.index")

RETRIES = 5


def register(app: faust.App, topics: Topics, runtime: Runtime) -> None:
    """Declare the index agent on `app`."""
    s = runtime.settings

    @app.agent(topics.enriched, name="rasd.index")
    async def index_articles(stream: faust.StreamT[bytes]) -> None:
        await runtime.backend.setup()  # idempotent; in the worker's own event loop
        await _warn_if_stale(runtime)
        async for batch in batches(stream, s.index_batch_size, within=s.index_batch_seconds):
            await _index_batch(batch, topics, runtime)


async def _warn_if_stale(runtime: Runtime) -> None:
    """Say so when the index holds terms of another analyzer (the entity registry was edited)."""
    try:
        stale = await runtime.backend.stale_analysis()
    except SearchError as exc:
        log.warning("could not check which analyzer made the index's terms: %s", exc)
        return
    if stale:
        log.warning(
            "%d indexed articles were analysed with another entity registry or analyzer version: "
            "searches may miss them until `rasd reindex` runs",
            stale,
        )


async def _index_batch(messages: list[tuple[bytes | None, Any]], topics: Topics, runtime: Runtime) -> None:
    articles: list[Article] = []
    for raw_key, payload in messages:
        try:
            articles.append(Article.model_validate_json(payload))
        except (ValidationError, ValueError) as exc:
            key = raw_key.decode("utf-8", errors="replace") if raw_key else None
            await dead_letter(topics.dlq, runtime, stage="index-decode", exc=exc, key=key, payload=payload)
    if not articles:
        return
    delay = 0.5
    for attempt in range(RETRIES):
        try:
            report = await runtime.backend.index_many(articles)
            break
        except SearchUnavailable as exc:
            log.warning("search backend unavailable (attempt %d/%d): %s", attempt + 1, RETRIES, exc)
            await asyncio.sleep(max(delay, exc.retry_after))
            delay *= 2
        except Exception as exc:  # the batch goes to the DLQ rather than being lost
            log.exception("indexing failed")
            for a in articles:
                await dead_letter(topics.dlq, runtime, stage="index", exc=exc, key=a.id, payload=a)
            return
    else:
        for a in articles:
            await dead_letter(
                topics.dlq,
                runtime,
                stage="index",
                exc=SearchUnavailable("gave up after retries"),
                key=a.id,
                payload=a,
            )
        return
    by_id = {a.id: a for a in articles}
    for article_id, reason in report.failed:
        await dead_letter(
            topics.dlq,
            runtime,
            stage="index",
            exc=RuntimeError(reason),
            key=article_id,
            payload=by_id.get(article_id, article_id),
        )
    runtime.counters.indexed += len(report.indexed)
    for article_id in report.indexed:
        if article_id in by_id:
            runtime.observe_latency("indexed_latency_seconds", by_id[article_id])
