"""The full-text stage for one article: robots.txt → per-host slot → fetch → decode → extract → choose.

`FullTextFetcher.process(article)` never raises for the article's sake: it returns the article with
`fulltext` (a `FullTextOutcome`) set and, when the page's main text is at least as long as what the
feed gave, that text as the body (title, publication date and language filled in when the feed had none).
Everything else keeps the feed's content: a page that extracts to nothing or to less (`fallback`),
robots.txt forbidding the fetch (`blocked_by_robots`), a failed fetch (`failed`: 404, too large, refused
by the address guard, timeout…), or a response that is not HTML (`skipped`).

Redirects are followed by `connectors.fetch` (at most `fetch_max_redirects`, the address guard applied
at every hop, so a redirect to a private address is refused); when the page ends on another host, that
host's robots.txt must allow the final URL too, or the fetched page is dropped (`blocked_by_robots`).

Results are cached by URL (`PageCache`): pages, pages without main text, non-HTML responses and
permanent HTTP failures (4xx but 408/429, too large); transient failures are retried next time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from connectors.fetch import Resolver, fetch, make_client
from connectors.fulltext.cache import PageCache
from connectors.fulltext.page import decode_page, is_html
from connectors.fulltext.politeness import Clock, HostGate
from connectors.fulltext.robots import RobotsCache
from pipeline.errors import FetchError, HTTPStatusError, ResponseTooLarge
from pipeline.extract import ExtractedPage, extract_page, page_is_better
from pipeline.models import Article, FullTextOutcome, FullTextStatus
from pipeline.settings import Settings

__all__ = ["Extractor", "FullTextFetcher", "PageRecord"]

log = logging.getLogger(__name__)

Extractor = Callable[[str, str | None], ExtractedPage | None]
"""`(html text, url) -> page or None`; `pipeline.extract.extract_page` by default."""

RecordKind = Literal["page", "empty", "blocked", "failed", "skipped"]
_STATUS: dict[str, FullTextStatus] = {
    "empty": "fallback",
    "blocked": "blocked_by_robots",
    "skipped": "skipped",
}


@dataclass(frozen=True)
class PageRecord:
    """What fetching one URL gave, independent of any article (this is what the cache keeps)."""

    kind: RecordKind
    reason: str = ""
    final_url: str | None = None
    http_status: int | None = None
    page: ExtractedPage | None = None
    cacheable: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PageRecord | None:
        """The record stored in the cache, or None if it does not read back."""
        try:
            page = value.get("page")
            return cls(
                kind=value["kind"],
                reason=str(value.get("reason", "")),
                final_url=value.get("final_url"),
                http_status=value.get("http_status"),
                page=ExtractedPage(**page) if isinstance(page, dict) else None,
                cacheable=True,
            )
        except (KeyError, TypeError):
            return None


def _cache_key(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _date(value: str | None) -> datetime | None:
    """An aware datetime from htmldate's ISO date (a bare date is taken as midnight UTC)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class FullTextFetcher:
    """Fetches and extracts article pages politely; shared by the full-text agent's concurrent tasks."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        resolver: Resolver | None = None,
        cache: PageCache | None = None,
        gate: HostGate | None = None,
        robots: RobotsCache | None = None,
        extractor: Extractor | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self._page_settings = settings.model_copy(
            update={"fetch_max_body_bytes": settings.fulltext_max_page_bytes}
        )
        self._own_client = client is None
        self._client = client if client is not None else make_client(settings)
        self._resolver = resolver
        self.cache = cache
        self.gate = gate or HostGate(
            delay_s=settings.fulltext_host_delay_s, per_host=settings.fulltext_host_concurrency, clock=clock
        )
        self.robots = robots or RobotsCache(
            settings, client=self._client, resolver=resolver, gate=self.gate, clock=clock
        )
        self._extract: Extractor = extractor or (lambda html, url: extract_page(html, url=url))

    @classmethod
    def open(cls, settings: Settings) -> FullTextFetcher:
        """A fetcher with its own client and the on-disk cache under the data dir."""
        cache = PageCache(
            settings.fulltext_cache_path,
            max_entries=settings.fulltext_cache_entries,
            ttl_s=settings.fulltext_cache_ttl_s,
        )
        return cls(settings, cache=cache)

    async def aclose(self) -> None:
        """Close the client this fetcher made, and the cache."""
        if self._own_client:
            await self._client.aclose()
        if self.cache is not None:
            self.cache.close()

    async def process(self, article: Article) -> Article:
        """The article with its full-text outcome, and the page's text when it is better."""
        if not self.settings.fulltext_enabled:
            return _with(article, FullTextOutcome(status="skipped", reason="full-text stage disabled"))
        if not article.url:
            return _with(article, FullTextOutcome(status="skipped", reason="article has no URL"))
        try:
            record, cached = await self._record(article.url)
        except Exception as exc:  # a bug here must not lose the article: it goes on with the feed's text
            log.exception("full-text stage failed for %s", article.url)
            record, cached = PageRecord("failed", f"internal error: {type(exc).__name__}: {exc}"), False
        done = _apply(article, record, cached=cached)
        outcome = done.fulltext
        log.info(
            "fulltext %s: %s %s",
            outcome.status if outcome else "?",
            article.url,
            outcome.reason if outcome else "",
            extra={"url": article.url, "article_id": article.id},
        )
        return done

    async def _record(self, url: str) -> tuple[PageRecord, bool]:
        key = _cache_key(url)
        if self.cache is not None:
            stored = self.cache.get(key)
            record = PageRecord.from_json(stored) if stored is not None else None
            if record is not None:
                return record, True
        record = await self.fetch_page(url)
        if record.cacheable and self.cache is not None:
            self.cache.put(key, record.to_json())
        return record, False

    async def fetch_page(self, url: str) -> PageRecord:
        """Robots check, polite fetch and extraction of one URL (no cache)."""
        verdict = await self.robots.check(url)
        if not verdict.allowed:
            return PageRecord("failed" if verdict.network else "blocked", verdict.reason)
        delay = min(verdict.crawl_delay or 0.0, self.settings.fulltext_max_crawl_delay_s)
        try:
            async with self.gate.slot(_host(url), delay_s=delay):
                result = await fetch(
                    url,
                    settings=self._page_settings,
                    client=self._client,
                    resolver=self._resolver,
                    user_agent=self.settings.fulltext_user_agent,
                )
        except HTTPStatusError as exc:
            permanent = 400 <= exc.status < 500 and exc.status not in (408, 429)
            return PageRecord("failed", f"HTTP {exc.status}", exc.url, exc.status, cacheable=permanent)
        except ResponseTooLarge as exc:
            return PageRecord("failed", f"page too large: {exc}", exc.url, cacheable=True)
        except FetchError as exc:
            return PageRecord("failed", f"{type(exc).__name__}: {exc}", exc.url)
        if result is None:
            return PageRecord("failed", "HTTP 304 without a cached page")
        final = result.final_url
        if _host(final) != _host(url):
            moved = await self.robots.check(final)
            if not moved.allowed:
                why = f"redirected to {_host(final)}: {moved.reason}"
                return PageRecord("failed" if moved.network else "blocked", why, final, result.status)
        if not is_html(result.content_type, result.body):
            kind = result.content_type or "unknown"
            return PageRecord(
                "skipped", f"not an HTML page (Content-Type {kind})", final, result.status, cacheable=True
            )
        decoded = decode_page(result.body, result.charset)
        page = await asyncio.to_thread(self._extract, decoded.text, final)
        if page is None:
            why = "extraction found no main text" + (" (lossy decode)" if decoded.lossy else "")
            return PageRecord("empty", why, final, result.status, cacheable=True)
        why = f"decoded as {decoded.encoding}" + (" (lossy decode)" if decoded.lossy else "")
        if page.truncated:
            why += "; page cut at the extraction bound"
        return PageRecord("page", why, final, result.status, page, cacheable=True)


def _with(article: Article, outcome: FullTextOutcome) -> Article:
    return article.model_copy(update={"fulltext": outcome})


def _apply(article: Article, record: PageRecord, *, cached: bool) -> Article:
    """Combine the page result with the article: the better text wins, the outcome says what happened."""
    common: dict[str, Any] = {
        "final_url": record.final_url,
        "http_status": record.http_status,
        "cached": cached,
    }
    page = record.page
    if record.kind == "page" and page is not None:
        chars = len(page.text)
        if not page_is_better(page.text, article):
            outcome = FullTextOutcome(
                status="fallback",
                reason=f"extracted text is shorter than the feed's ({chars} chars)",
                chars=chars,
                author=page.author,
                **common,
            )
            return _with(article, outcome)
        outcome = FullTextOutcome(
            status="extracted", reason=record.reason, chars=chars, author=page.author, **common
        )
        update: dict[str, Any] = {"body": page.text, "fulltext": outcome}
        if not article.title.strip() and page.title:
            update["title"] = page.title
        if article.published is None and (when := _date(page.date)) is not None:
            update["published"] = when
        if not article.language and page.language:
            update["language"] = page.language
        return article.model_copy(update=update)
    status = _STATUS.get(record.kind, "failed")
    return _with(article, FullTextOutcome(status=status, reason=record.reason, **common))
