"""Routing at the connector: articles whose feed text is short go to `articles.fulltext`, the rest to
`articles.raw`, so only they wait for their page and nothing else is held up.

`FullTextRouter` is a `Publisher` (drop-in for `KafkaPublisher` in `poll_once` / `replay_paths`): the
per-feed `fulltext: auto|always|never` of `config/feeds.yaml` and `RASD_FULLTEXT_MIN_CHARS` decide
(`pipeline.extract.needs_fulltext`); an article from a feed not in the list is treated as `auto`.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.produce import KafkaPublisher, Publisher
from pipeline.config import FeedConfig
from pipeline.extract import needs_fulltext
from pipeline.models import Article
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_FULLTEXT, ARTICLES_RAW

__all__ = ["FullTextRouter"]


class FullTextRouter:
    """Publishes each article to the raw or the full-text publisher; delivered counts are summed."""

    def __init__(
        self, raw: Publisher, fulltext: Publisher, *, feeds: Iterable[FeedConfig], settings: Settings
    ) -> None:
        self.raw = raw
        self.fulltext = fulltext
        self._modes = {feed.id: feed.fulltext for feed in feeds}
        self._settings = settings

    @classmethod
    def kafka(cls, bootstrap: str, *, feeds: Iterable[FeedConfig], settings: Settings) -> FullTextRouter:
        """Two acknowledged Kafka publishers: `articles.raw` and `articles.fulltext`."""
        limit = settings.max_record_bytes
        raw = KafkaPublisher(bootstrap, ARTICLES_RAW, max_record_bytes=limit)
        try:
            fulltext = KafkaPublisher(
                bootstrap, ARTICLES_FULLTEXT, client_id="rasd-connector-fulltext", max_record_bytes=limit
            )
        except BaseException:
            raw.close()
            raise
        return cls(raw, fulltext, feeds=feeds, settings=settings)

    def wants_page(self, article: Article) -> bool:
        """Whether this article should go through the full-text stage."""
        if not self._settings.fulltext_enabled:
            return False
        mode = self._modes.get(article.source, "auto")
        return needs_fulltext(article, mode, self._settings.fulltext_min_chars)

    def publish(self, articles: Iterable[Article]) -> int:
        """Deliver every article to its topic or raise `PublishError` (the caller then retries all)."""
        to_raw: list[Article] = []
        to_page: list[Article] = []
        for article in articles:
            (to_page if self.wants_page(article) else to_raw).append(article)
        delivered = self.raw.publish(to_raw) if to_raw else 0
        if to_page:
            delivered += self.fulltext.publish(to_page)
        return delivered

    def close(self) -> None:
        """Close both publishers."""
        try:
            self.raw.close()
        finally:
            self.fulltext.close()
