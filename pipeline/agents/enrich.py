"""Enrich agent: articles.raw → articles.enriched."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.agents.dlq import dead_letter
from pipeline.agents.streams import batches
from pipeline.models import Article
from pipeline.records import fit_record
from pipeline.runtime import Runtime

if TYPE_CHECKING:
    import faust

    from pipeline.app import Topics

__all__ = ["register"]

log = logging.getLogger("rasd.enrich")


def register(app: faust.App, topics: Topics, runtime: Runtime) -> None:
    """Declare the enrich agent on `app`."""

    @app.agent(topics.raw, name="rasd.enrich")
    async def enrich_articles(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, runtime.settings.enrich_batch_size, within=0.2):
            await _enrich_batch(batch, topics, runtime)


async def _enrich_batch(batch: list[tuple[bytes | None, Any]], topics: Topics, runtime: Runtime) -> None:
    """Enrich a stream batch in one call (the NER decoder is batched); if the batch fails, retry
    the articles one by one so only the article that raised goes to the DLQ."""
    decoded: list[Article] = []
    payloads: list[Any] = []
    for raw_key, payload in batch:
        key = raw_key.decode("utf-8", errors="replace") if raw_key else None
        try:
            decoded.append(Article.model_validate_json(payload))
            payloads.append(payload)
        except (ValidationError, ValueError, UnicodeDecodeError) as exc:
            await dead_letter(topics.dlq, runtime, stage="decode", exc=exc, key=key, payload=payload)
    try:
        # CPU-bound for up to seconds: off the event loop, which must keep heartbeating and fetching
        enriched = await asyncio.to_thread(_enrich_and_group, runtime, decoded)
    except Exception:
        log.warning("batch enrichment failed; enriching %d articles one by one", len(decoded))
        for article, payload in zip(decoded, payloads, strict=True):
            await _enrich_one(article.id.encode(), payload, topics, runtime)
        return
    for article, payload in zip(enriched, payloads, strict=True):
        try:
            await _publish(article, topics, runtime)
        except Exception as exc:
            log.exception("publishing enriched article %s failed", article.id)
            # the raw message, not the enriched one: it replays through enrichment and is smaller
            await dead_letter(topics.dlq, runtime, stage="enrich", exc=exc, key=article.id, payload=payload)


def _enrich_and_group(runtime: Runtime, articles: list[Article]) -> list[Article]:
    """Enrich a batch and give each article its story (syndicated copies share one story id).

    The story index takes the whole batch in one SQLite transaction, in the same worker-thread
    call as the enrichment: per article, on the event loop, it cost a transaction each and held
    up fetching, heartbeats and the other agents for as long.
    """
    return _with_stories(runtime, runtime.enricher.enrich_many(articles))


def _with_stories(runtime: Runtime, enriched: list[Article]) -> list[Article]:
    stories = runtime.stories.assign_many(enriched)
    return [
        article.model_copy(update={"story_id": story.story_id, "duplicate_of": story.duplicate_of})
        for article, story in zip(enriched, stories, strict=True)
    ]


async def _publish(enriched: Article, topics: Topics, runtime: Runtime) -> None:
    value = enriched.to_json()
    if len(value) > runtime.settings.max_record_bytes:
        # enrichment adds entities, topics and keywords: a raw record that fit may not fit any more
        value = fit_record(enriched, runtime.settings.max_record_bytes).to_json()
    await topics.enriched.send(key=enriched.id.encode(), value=value)
    runtime.counters.enriched += 1


async def _enrich_one(raw_key: bytes | None, payload: Any, topics: Topics, runtime: Runtime) -> None:
    key = raw_key.decode("utf-8", errors="replace") if raw_key else None
    try:
        article = Article.model_validate_json(payload)
        key = article.id
        [enriched] = await asyncio.to_thread(
            lambda: _with_stories(runtime, [runtime.enricher.enrich(article)])
        )
        await _publish(enriched, topics, runtime)
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        await dead_letter(topics.dlq, runtime, stage="decode", exc=exc, key=key, payload=payload)
        return
    except Exception as exc:  # one bad article must not stop the stream
        log.exception("enrichment failed for %s", key)
        await dead_letter(topics.dlq, runtime, stage="enrich", exc=exc, key=key, payload=payload)
