"""Enrich agent: articles.raw → articles.enriched."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.agents.dlq import dead_letter
from pipeline.agents.streams import batches
from pipeline.models import Article
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
        async for batch in batches(stream, runtime.settings.index_batch_size, within=0.2):
            for key, value in batch:
                await _enrich_one(key, value, topics, runtime)


async def _enrich_one(raw_key: bytes | None, payload: Any, topics: Topics, runtime: Runtime) -> None:
    key = raw_key.decode("utf-8", errors="replace") if raw_key else None
    try:
        article = Article.model_validate_json(payload)
        key = article.id
        enriched = runtime.enricher.enrich(article)
        story = runtime.stories.assign(enriched)  # syndicated copies share one story id
        enriched = enriched.model_copy(
            update={"story_id": story.story_id, "duplicate_of": story.duplicate_of}
        )
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        await dead_letter(topics.dlq, runtime, stage="decode", exc=exc, key=key, payload=payload)
        return
    except Exception as exc:  # one bad article must not stop the stream
        log.exception("enrichment failed for %s", key)
        await dead_letter(topics.dlq, runtime, stage="enrich", exc=exc, key=key, payload=payload)
        return
    await topics.enriched.send(key=enriched.id.encode(), value=enriched.to_json())
    runtime.counters.enriched += 1
