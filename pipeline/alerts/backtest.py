"""Backtesting a watch: what it would have fired over the stored history, exactly as live.

`backtest` is pure: it runs `match_watch` over articles (oldest first) and counts one alert per
(watch, story), as the alert log does, with per-day counts and the first alerts as examples.
`backtest_backend` feeds it from `SearchBackend.scan`, a batch at a time. Surge watches depend on
time windows and the order of arrival, so they are reported as not supported instead of guessed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, date, datetime

from pydantic import AwareDatetime, BaseModel, Field

from pipeline.alerts.rules import CompiledWatch, match_watch
from pipeline.models import Alert, AlsoReported, Article
from pipeline.search.base import SearchBackend
from pipeline.text.tokenize import Analyzer

__all__ = [
    "SURGE_UNSUPPORTED",
    "BacktestReport",
    "DayCount",
    "article_time",
    "backtest",
    "backtest_backend",
]

SURGE_UNSUPPORTED = "not supported by backtest: surge watches are evaluated over time windows"


class DayCount(BaseModel):
    """One UTC day: matching articles dated that day, and alerts (stories first matched that day)."""

    day: date
    articles: int = 0
    alerts: int = 0


class BacktestReport(BaseModel):
    """What a watch would have done over a stretch of history."""

    watch_id: str
    watch_name: str = ""
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    supported: bool = True
    message: str = Field(default="", description="why the backtest could not run, when it could not")
    scanned: int = Field(default=0, description="articles looked at")
    matched: int = Field(default=0, description="articles the watch matches")
    stories: int = Field(default=0, description="distinct stories = alerts it would have fired")
    days: list[DayCount] = Field(default_factory=list, description="oldest first; days with matches only")
    examples: list[Alert] = Field(default_factory=list, description="the first alerts, with evidence")


def article_time(article: Article) -> datetime:
    """Where an article sits on the timeline: published, else fetched (UTC)."""
    return (article.published or article.fetched).astimezone(UTC)


class _Tally:
    """The running counts of one backtest; fed one article at a time, so history is never held."""

    def __init__(self, cw: CompiledWatch, analyzer: Analyzer, examples: int) -> None:
        # a paused watch is tested as if active: the question is what it would catch
        watch = cw.watch.model_copy(update={"paused": False}) if cw.watch.paused else cw.watch
        self.cw = dataclasses.replace(cw, watch=watch)
        self.analyzer = analyzer
        self.max_examples = max(0, examples)
        self.scanned = 0
        self.matched = 0
        self.alert_ids: set[str] = set()
        self.days: dict[date, DayCount] = {}
        self.examples: dict[str, Alert] = {}

    def add(self, article: Article) -> None:
        self.scanned += 1
        alert = match_watch(self.cw, article, self.analyzer)
        if alert is None:
            return
        self.matched += 1
        when = article_time(article)
        day = self.days.setdefault(when.date(), DayCount(day=when.date()))
        day.articles += 1
        if alert.id not in self.alert_ids:  # a story fires once, at its first matching copy
            self.alert_ids.add(alert.id)
            day.alerts += 1
            if len(self.examples) < self.max_examples:
                self.examples[alert.id] = alert.model_copy(update={"created": when})
            return
        example = self.examples.get(alert.id)
        if example is not None and article.id not in {
            example.article_id,
            *(a.article_id for a in example.also),
        }:
            example.also.append(
                AlsoReported(
                    article_id=article.id, source=article.source, url=article.url, title=article.title
                )
            )

    def report(self, since: datetime | None = None, until: datetime | None = None) -> BacktestReport:
        w = self.cw.watch
        return BacktestReport(
            watch_id=w.id,
            watch_name=w.name or w.id,
            since=since,
            until=until,
            scanned=self.scanned,
            matched=self.matched,
            stories=len(self.alert_ids),
            days=[self.days[d] for d in sorted(self.days)],
            examples=list(self.examples.values()),
        )


def _unsupported(cw: CompiledWatch, since: datetime | None, until: datetime | None) -> BacktestReport:
    w = cw.watch
    return BacktestReport(
        watch_id=w.id,
        watch_name=w.name or w.id,
        since=since,
        until=until,
        supported=False,
        message=SURGE_UNSUPPORTED,
    )


def backtest(
    cw: CompiledWatch, articles: Iterable[Article], analyzer: Analyzer, examples: int = 10
) -> BacktestReport:
    """Run a compiled watch over articles (oldest first, as live) and report what it would fire.

    Counts follow the live rules: `match_watch` per article, one alert per (watch, story), later
    copies of a story counted as matching articles but not as alerts. A paused watch is tested as
    if active. A surge watch gets `supported=False` and `SURGE_UNSUPPORTED`, nothing counted.
    """
    if cw.watch.surge is not None:
        return _unsupported(cw, None, None)
    tally = _Tally(cw, analyzer, examples)
    for article in articles:
        tally.add(article)
    return tally.report()


async def backtest_backend(
    cw: CompiledWatch,
    backend: SearchBackend,
    analyzer: Analyzer,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    examples: int = 10,
    batch_size: int = 500,
) -> BacktestReport:
    """`backtest` over the backend's articles dated in [since, until), streamed in batches."""
    if cw.watch.surge is not None:
        return _unsupported(cw, since, until)
    tally = _Tally(cw, analyzer, examples)
    async for article in backend.scan(since, until, batch_size):
        tally.add(article)
    return tally.report(since, until)
