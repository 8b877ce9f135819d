"""Polling feeds: fetch → parse → drop seen ids → publish → then remember. Orchestration only.

The order is the contract: articles are marked seen and the state (with the new ETag) is saved only
after `publish` returned. A crash or a broker failure in between means the next poll publishes the same
articles again (absorbed downstream by id), never that they are lost behind a 304.

One bad feed never stops the others: `poll_feed` turns connector errors into an outcome, and failures
schedule the next try with exponential backoff that honours `Retry-After`. Parsing runs in a worker
thread, so a huge document does not stall the other feeds' fetches (and their deadlines).

A feed answering 410 once, or 404 `settings.fetch_gone_after_404s` times in a row, is marked gone: it is
logged once and no longer polled, even with `force`, until its entry in `feeds.yaml` changes.

Articles are fitted to `settings.max_record_bytes` (`produce.fit_record`) before they are published.

A state file that cannot be written (disk full, read-only volume) is logged as an error and the next
poll time is kept in memory by `run_forever`, so the feed is not fetched and re-published every second.
A stored next poll time later than any schedule could set (the clock was stepped back) counts as due.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import httpx

from connectors.fetch import Resolver, fetch, make_client
from connectors.parse import parse_feed
from connectors.produce import Publisher, fit_record
from connectors.state import FeedState
from pipeline.config import FeedConfig
from pipeline.errors import (
    FeedParseError,
    FetchRefused,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    PipelineError,
    ResponseTooLarge,
    TooManyRedirects,
)
from pipeline.metrics import MetricsRecorder
from pipeline.models import Article, utcnow
from pipeline.settings import Settings

__all__ = [
    "DEFAULT_CONCURRENCY",
    "OutcomeStatus",
    "PollOutcome",
    "PollReport",
    "backoff_delay",
    "config_hash",
    "credible_next_poll",
    "next_poll_time",
    "poll_feed",
    "poll_once",
    "run_forever",
]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY: Final = 10
MAX_BACKOFF_S: Final = 6 * 3600.0
MAX_AGE_CAP_S: Final = 6 * 3600.0
MAX_RETRY_AFTER_S: Final = 24 * 3600.0

OutcomeStatus = Literal["new", "unchanged", "not_modified", "failed", "skipped", "gone"]
# "network" errors are the ones that say "we are offline", not "this feed is broken"; "refused" is the
# URL guard (scheme, private address); "limit" a size or redirect limit.
ErrorKind = Literal["network", "http", "refused", "limit", "parse", "publish", "other"]
_ERROR_KINDS: Final[tuple[ErrorKind, ...]] = (
    "network",
    "http",
    "refused",
    "limit",
    "parse",
    "publish",
    "other",
)
_GONE_STATUS: Final = 410
_NOT_FOUND: Final = 404


@dataclass
class PollOutcome:
    """What happened to one feed in one poll."""

    feed_id: str
    status: OutcomeStatus
    articles: list[Article] = field(default_factory=list)
    entries: int = 0
    published: int = 0
    http_status: int | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    retry_after: float | None = None
    warnings: list[str] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    max_age: int | None = None
    # ids of every article in the document, new or not: all are (re)marked seen after publishing
    present_ids: list[str] = field(default_factory=list)
    # when the feed is due again, as recorded in its state (also when the state could not be saved)
    next_poll_at: datetime | None = None

    @property
    def new(self) -> int:
        """Articles not seen before."""
        return len(self.articles)

    @property
    def network_failure(self) -> bool:
        """Failed (or is backing off) because the network looked unreachable."""
        return self.error_kind == "network"


@dataclass
class PollReport:
    """All outcomes of one poll round, with totals."""

    outcomes: list[PollOutcome] = field(default_factory=list)

    @property
    def fetched(self) -> int:
        """Entries parsed across feeds."""
        return sum(o.entries for o in self.outcomes)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def published(self) -> int:
        return sum(o.published for o in self.outcomes)

    @property
    def not_modified(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "not_modified")

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "failed")

    @property
    def gone(self) -> int:
        """Feeds skipped because they are gone (410, or repeated 404s)."""
        return sum(1 for o in self.outcomes if o.status == "gone")

    @property
    def all_network_failed(self) -> bool:
        """Every feed failed for network reasons: the CLI falls back to the bundled samples."""
        return bool(self.outcomes) and all(o.network_failure for o in self.outcomes)


def _error_kind(exc: BaseException) -> ErrorKind:
    if isinstance(exc, NetworkError | FetchTimeout):
        return "network"
    if isinstance(exc, HTTPStatusError):
        return "http"
    if isinstance(exc, FetchRefused):
        return "refused"
    if isinstance(exc, ResponseTooLarge | TooManyRedirects):
        return "limit"
    if isinstance(exc, FeedParseError):
        return "parse"
    return "other"


def _stored_kind(value: str | None) -> ErrorKind:
    """The error kind persisted in a state file, validated back into the Literal."""
    for kind in _ERROR_KINDS:
        if value == kind:
            return kind
    return "other"


def _interval(feed: FeedConfig, settings: Settings) -> float:
    return feed.poll_interval_s or settings.poll_interval_s


def config_hash(feed: FeedConfig) -> str:
    """Fingerprint of a feed's configuration: a gone feed is polled again once it changes."""
    return hashlib.blake2b(feed.model_dump_json().encode(), digest_size=12).hexdigest()


def backoff_delay(failures: int, interval_s: float, retry_after: float | None = None) -> float:
    """Seconds before retrying: interval doubled per consecutive failure, capped, never below Retry-After."""
    doublings = min(max(0, failures - 1), 64)  # 2.0 ** 1024 overflows; the cap is reached long before
    exponential = min(interval_s * 2.0**doublings, MAX_BACKOFF_S)
    return max(exponential, min(retry_after or 0.0, MAX_RETRY_AFTER_S))


def credible_next_poll(next_poll_at: datetime | None, now: datetime, interval_s: float) -> datetime | None:
    """`next_poll_at`, or None (due now) when it lies further ahead than any schedule sets: after the
    clock was stepped back, a time stored before would otherwise freeze the feed until it comes."""
    horizon = max(interval_s, MAX_BACKOFF_S, MAX_AGE_CAP_S, MAX_RETRY_AFTER_S)
    if next_poll_at is not None and next_poll_at > now + timedelta(seconds=horizon):
        return None
    return next_poll_at


def next_poll_time(now: datetime, interval_s: float, max_age: int | None) -> datetime:
    """After a success: the feed interval, stretched to the server's max-age (capped)."""
    return now + timedelta(seconds=max(interval_s, min(float(max_age or 0), MAX_AGE_CAP_S)))


async def poll_feed(
    feed: FeedConfig,
    *,
    settings: Settings,
    state: FeedState,
    client: httpx.AsyncClient | None,
    resolver: Resolver | None = None,
) -> PollOutcome:
    """Fetch and parse one feed and keep only unseen articles; errors become a failed outcome.

    Does not touch `state` beyond reading it: the caller records the outcome after publishing.
    """
    url = str(feed.url)
    try:
        result = await fetch(
            url,
            settings=settings,
            client=client,
            etag=state.etag,
            last_modified=state.last_modified,
            resolver=resolver,
        )
        if result is None:
            return PollOutcome(feed.id, "not_modified", http_status=304)
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest()
        if body_hash == state.body_hash:
            # servers that ignore conditional GET: the same bytes need no parse
            return PollOutcome(
                feed.id,
                "unchanged",
                http_status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=body_hash,
                max_age=result.max_age,
            )
        parsed = await asyncio.to_thread(
            parse_feed,
            result.body,
            source=feed.id,
            feed_url=url,
            base_url=result.final_url,
            language=feed.language,
            headers=result.headers,
            charset=result.charset,
            fetched=utcnow(),
            max_entries=settings.fetch_max_entries,
        )
    except PipelineError as exc:
        logger.warning("poll failed", extra={"feed_id": feed.id, "url": url, "error": str(exc)})
        return PollOutcome(
            feed.id,
            "failed",
            http_status=exc.status if isinstance(exc, HTTPStatusError) else None,
            error=f"{type(exc).__name__}: {exc}",
            error_kind=_error_kind(exc),
            retry_after=exc.retry_after if isinstance(exc, HTTPStatusError) else None,
        )
    fresh = [a for a in parsed.articles if not state.is_seen(a.id)]
    return PollOutcome(
        feed.id,
        "new" if fresh else "unchanged",
        articles=fresh,
        entries=len(parsed.articles),
        http_status=result.status,
        warnings=parsed.warnings,
        etag=result.etag,
        last_modified=result.last_modified,
        body_hash=body_hash,
        max_age=result.max_age,
        present_ids=[a.id for a in parsed.articles],
    )


def _mark_gone_if_due(outcome: PollOutcome, state: FeedState, feed: FeedConfig, settings: Settings) -> None:
    """After a failure: a 410, or the N-th 404 in a row, marks the feed gone (and says so in the log)."""
    if outcome.http_status == _GONE_STATUS or (
        outcome.http_status == _NOT_FOUND and state.consecutive_not_found >= settings.fetch_gone_after_404s
    ):
        state.mark_gone(config_hash(feed))
        logger.warning(
            "feed marked gone: no longer polled until its configuration changes",
            extra={
                "feed_id": feed.id,
                "url": str(feed.url),
                "status": outcome.http_status,
                "consecutive_404s": state.consecutive_not_found,
            },
        )


def _record(
    outcome: PollOutcome, state: FeedState, feed: FeedConfig, settings: Settings, now: datetime
) -> None:
    """Apply an outcome to the state (after publishing) and schedule the next poll."""
    interval = _interval(feed, settings)
    if outcome.status == "failed":
        failures = state.consecutive_failures + 1
        delay = backoff_delay(failures, interval, outcome.retry_after)
        state.record_failure(
            now=now,
            error=outcome.error or "unknown error",
            kind=outcome.error_kind or "other",
            status=outcome.http_status,
            next_poll_at=now + timedelta(seconds=delay),
        )
        _mark_gone_if_due(outcome, state, feed, settings)
        return
    state.mark_seen(outcome.present_ids or [a.id for a in outcome.articles])
    state.record_success(
        now=now,
        status=outcome.http_status or 200,
        next_poll_at=next_poll_time(now, interval, outcome.max_age),
        etag=outcome.etag,
        last_modified=outcome.last_modified,
        body_hash=outcome.body_hash,
        not_modified=outcome.status == "not_modified",
    )


async def _poll_and_publish(
    feed: FeedConfig,
    *,
    settings: Settings,
    publisher: Publisher,
    client: httpx.AsyncClient,
    publish_lock: asyncio.Lock,
    force: bool,
    resolver: Resolver | None,
) -> PollOutcome:
    state = FeedState.for_feed(settings, feed.id)
    now = utcnow()
    if state.gone:
        if state.is_gone(config_hash(feed)):
            return PollOutcome(
                feed.id, "gone", http_status=state.last_status, error=state.last_error, error_kind="http"
            )
        logger.info("configuration of a gone feed changed: polling it again", extra={"feed_id": feed.id})
        state.revive()
    waiting = credible_next_poll(state.next_poll_at, now, _interval(feed, settings))
    if not force and state.consecutive_failures and waiting and waiting > now:
        return PollOutcome(
            feed.id,
            "skipped",
            error=state.last_error,
            error_kind=_stored_kind(state.last_error_kind),
            next_poll_at=waiting,
        )
    if feed.allow_insecure_tls:
        logger.warning("TLS verification disabled for this feed", extra={"feed_id": feed.id})
        async with make_client(settings, verify=False) as insecure:
            outcome = await poll_feed(
                feed, settings=settings, state=state, client=insecure, resolver=resolver
            )
    else:
        outcome = await poll_feed(feed, settings=settings, state=state, client=client, resolver=resolver)
    if outcome.articles:
        outcome.articles = [fit_record(a, settings.max_record_bytes) for a in outcome.articles]
        try:
            async with publish_lock:
                outcome.published = await asyncio.to_thread(publisher.publish, outcome.articles)
        except PipelineError as exc:
            logger.error("publish failed", extra={"feed_id": feed.id, "error": str(exc)})
            outcome.status = "failed"
            outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.error_kind = "publish"
            outcome.published = 0
    _record(outcome, state, feed, settings, utcnow())
    outcome.next_poll_at = state.next_poll_at
    try:
        state.save()
    except OSError as exc:
        logger.error(
            "cannot save feed state: its next poll time is kept in memory only, and after a restart "
            "its articles are published again",
            extra={"feed_id": feed.id, "path": str(state.path), "error": str(exc)},
        )
    return outcome


async def poll_once(
    feeds: Sequence[FeedConfig],
    *,
    settings: Settings,
    publisher: Publisher,
    client: httpx.AsyncClient | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    force: bool = False,
    resolver: Resolver | None = None,
) -> PollReport:
    """Poll every enabled feed once (at most `concurrency` at a time), publish new articles, save state.

    Feeds still backing off after failures are skipped unless `force`.
    """
    enabled = [f for f in feeds if f.enabled]
    semaphore = asyncio.Semaphore(max(1, concurrency))
    publish_lock = asyncio.Lock()

    async def one(feed: FeedConfig, active: httpx.AsyncClient) -> PollOutcome:
        async with semaphore:
            try:
                return await _poll_and_publish(
                    feed,
                    settings=settings,
                    publisher=publisher,
                    client=active,
                    publish_lock=publish_lock,
                    force=force,
                    resolver=resolver,
                )
            except Exception as exc:  # isolation: a bug in one feed's path must not stop the round
                logger.exception("unexpected error polling feed", extra={"feed_id": feed.id})
                return PollOutcome(
                    feed.id, "failed", error=f"{type(exc).__name__}: {exc}", error_kind="other"
                )

    context: AbstractAsyncContextManager[httpx.AsyncClient] = (
        make_client(settings) if client is None else nullcontext(client)
    )
    async with context as active:
        outcomes = await asyncio.gather(*(one(f, active) for f in enabled))
    report = PollReport(list(outcomes))
    _record_metrics(report, settings)
    return report


_RECORDERS: dict[Path, MetricsRecorder] = {}


def _record_metrics(report: PollReport, settings: Settings) -> None:
    """Add a round's totals to this process's connector metrics (summed by the API's /metrics)."""
    recorder = _RECORDERS.get(settings.data_dir)
    if recorder is None:
        recorder = _RECORDERS[settings.data_dir] = MetricsRecorder(settings.data_dir, "connector")
    recorder.inc("feeds_polled", len(report.outcomes))
    recorder.inc("feeds_failed", report.failed)
    recorder.inc("articles_fetched", report.fetched)
    recorder.inc("articles_published", report.published)
    try:
        recorder.flush()
    except OSError as exc:
        logger.warning("cannot write connector metrics", extra={"error": str(exc)})


def _due(
    feeds: Sequence[FeedConfig],
    settings: Settings,
    now: datetime,
    planned: Mapping[str, datetime] | None = None,
) -> tuple[list[FeedConfig], float]:
    """Feeds whose next poll time has come, and seconds until the next one is due.

    `planned` holds the next poll times of this process's last polls, which count when later than the
    stored ones (a state that could not be saved still says the feed is due).
    """
    due: list[FeedConfig] = []
    wait = settings.poll_interval_s
    for feed in feeds:
        if not feed.enabled:
            continue
        state = FeedState.for_feed(settings, feed.id)
        if state.is_gone(config_hash(feed)):
            continue
        stored = credible_next_poll(state.next_poll_at, now, _interval(feed, settings))
        if stored is None and state.next_poll_at is not None:
            logger.warning(
                "stored next poll time is implausibly far ahead (clock stepped back?): polling now",
                extra={"feed_id": feed.id, "next_poll_at": state.next_poll_at.isoformat()},
            )
        remembered = (planned or {}).get(feed.id)
        at = max(t for t in (stored, remembered, now) if t is not None)
        if at <= now:
            due.append(feed)
        else:
            wait = min(wait, (at - now).total_seconds())
    return due, max(1.0, wait)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep until `seconds` pass or `stop` is set, whichever comes first."""
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_forever(
    feeds: Sequence[FeedConfig],
    settings: Settings,
    publisher: Publisher,
    stop: asyncio.Event,
    *,
    client: httpx.AsyncClient | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    resolver: Resolver | None = None,
) -> None:
    """Poll each feed when its next poll time comes, until `stop` is set."""
    context: AbstractAsyncContextManager[httpx.AsyncClient] = (
        make_client(settings) if client is None else nullcontext(client)
    )
    planned: dict[str, datetime] = {}
    async with context as active:
        while not stop.is_set():
            due, wait = _due(feeds, settings, utcnow(), planned)
            if due:
                report = await poll_once(
                    due,
                    settings=settings,
                    publisher=publisher,
                    client=active,
                    concurrency=concurrency,
                    resolver=resolver,
                )
                logger.info(
                    "poll round done",
                    extra={"feeds": len(due), "new": report.new, "published": report.published},
                )
                by_id = {f.id: f for f in due}  # one lookup per outcome: a round may hold 5,000 feeds
                for outcome in report.outcomes:  # remembered, in case the state could not be saved
                    planned[outcome.feed_id] = outcome.next_poll_at or utcnow() + timedelta(
                        seconds=_interval(by_id[outcome.feed_id], settings)
                    )
                wait = 1.0
            await _sleep(stop, wait)
