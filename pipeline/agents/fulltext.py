"""Full-text agent: articles.fulltext → (fetch the page, extract its main text) → articles.raw.

Only articles whose feed text is short are published to `articles.fulltext` (by the connector's
`connectors.fulltext.FullTextRouter`); everything else goes straight to `articles.raw`, so a slow
publisher's pages never hold up other articles. The agent runs `fulltext_concurrency` actors per worker
sharing one fetcher, so per-host politeness, the robots.txt cache and the URL cache are per worker.
The fetcher never raises for an article: whatever happens, the article goes on to `articles.raw` with
its `fulltext` outcome (and the page's text when it is better); only an undecodable message or a failed
send is dead-lettered. Offsets are committed once an article is forwarded (Faust acks per actor and
commits contiguous offsets), so a crash re-fetches, never loses.

This module wires the connector's fetcher into the worker (as the CLI does for the feed connector); the
import is local so that nothing else in `pipeline/` depends on `connectors/`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from pipeline.agents.dlq import dead_letter
from pipeline.models import Article
from pipeline.records import fit_record
from pipeline.runtime import Runtime
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_FULLTEXT

if TYPE_CHECKING:
    import faust

    from pipeline.app import Topics

__all__ = ["ArticleProcessor", "register"]

log = logging.getLogger("rasd.fulltext")


class ArticleProcessor(Protocol):
    """What the agent needs from the fetcher: an article in, the article with its outcome out."""

    async def process(self, article: Article) -> Article: ...


def register(app: faust.App, topics: Topics, runtime: Runtime) -> None:
    """Declare the full-text topic and agent on `app`."""
    settings = runtime.settings
    source = app.topic(
        ARTICLES_FULLTEXT,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
        replicas=settings.topic_replication,
    )
    shared: dict[str, ArticleProcessor] = {}

    def processor() -> ArticleProcessor:
        if "fetcher" not in shared:
            from connectors.fulltext import FullTextFetcher

            shared["fetcher"] = FullTextFetcher.open(settings)
        return shared["fetcher"]

    @app.agent(source, name="rasd.fulltext", concurrency=settings.fulltext_concurrency)
    async def fetch_fulltext(stream: faust.StreamT[bytes]) -> None:
        async for key, payload in stream.items():
            await fulltext_one(
                key, payload, topics, runtime, processor(), max_record_bytes=settings.max_record_bytes
            )


async def fulltext_one(
    raw_key: bytes | None,
    payload: Any,
    topics: Topics,
    runtime: Runtime,
    fetcher: ArticleProcessor,
    *,
    max_record_bytes: int | None = None,
) -> None:
    """Fetch one article's page and forward the article to `articles.raw`; failures are dead-lettered.

    The article with its page text is cut to `max_record_bytes` (the settings' default when None) and
    flagged `truncated`, as the feed connector does: a long page made a record the producer refused.
    """
    limit = max_record_bytes or Settings.model_fields["max_record_bytes"].default
    key = raw_key.decode("utf-8", errors="replace") if raw_key else None
    try:
        article = Article.model_validate_json(payload)
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        await dead_letter(topics.dlq, runtime, stage="fulltext-decode", exc=exc, key=key, payload=payload)
        return
    try:
        done = fit_record(await fetcher.process(article), limit)
        await topics.raw.send(key=done.id.encode(), value=done.to_json())
    except Exception as exc:  # one bad article must not stop the stream
        log.exception("full-text stage failed for %s", article.id)
        await dead_letter(topics.dlq, runtime, stage="fulltext", exc=exc, key=article.id, payload=payload)
