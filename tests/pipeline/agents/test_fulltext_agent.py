"""The full-text agent's step: what it forwards must fit a Kafka record."""

from __future__ import annotations

import asyncio
from typing import Any

from pipeline.agents.fulltext import fulltext_one
from pipeline.models import Article
from pipeline.runtime import Counters


class _Topic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))


class _Topics:
    def __init__(self) -> None:
        self.raw, self.dlq = _Topic(), _Topic()


class _Runtime:
    counters = Counters()


class _LongPage:
    """A fetcher whose page text is longer than a record may be (a 1.1 MB page is under the page cap)."""

    async def process(self, article: Article) -> Article:
        return article.model_copy(update={"body": "كلمة " * 250_000})


def test_a_long_page_is_cut_to_the_record_size_and_flagged_not_dead_lettered() -> None:
    source = Article(id="fulltext-long-01", source="s", url="https://e.com/a", title="خبر", summary="ملخص")
    topics: Any = _Topics()
    runtime: Any = _Runtime()
    step = fulltext_one(b"k", source.to_json(), topics, runtime, _LongPage(), max_record_bytes=100_000)
    asyncio.run(step)
    assert topics.dlq.sent == []
    [(key, value)] = topics.raw.sent
    forwarded = Article.model_validate_json(value)
    assert len(value) <= 100_000 and forwarded.truncated
    assert key == b"fulltext-long-01" and forwarded.body.startswith("كلمة كلمة")
