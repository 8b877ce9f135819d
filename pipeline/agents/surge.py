"""Surge agents: articles.enriched → rasd.surge.mentions → windowed counts → surge alerts.

`rasd.surge.fanout` sends one small message per (article, subject some active surge watch counts)
to `rasd.surge.mentions`, keyed by subject and stamped with the article's event time, so one
subject's counts live in one partition. `rasd.surge.count` adds each message to Faust tumbling-window
tables (relative to the message timestamp), reads the current window and the ones before it, and
lets the pure rules in `pipeline/alerts/surge.py` decide whether a surge starts.

Tables are planned once, from the surge watches known when the worker starts: one count table per
distinct window size (1h when there are none), each keeping size × (baseline_windows + 2) of history
for the largest baseline among the watches of that size. A surge watch added at run time whose window
has no table, or whose baseline is longer than its table keeps, is logged once as needing a worker
restart and skipped until then.

A third table remembers which (subject, article) pairs were counted, per window, so a redelivered
or re-sent article is not counted twice; it keeps them as long as the longest count table.

Each watch is checked on its own: one whose check fails is logged and the others still run. A window
that starts surging only once late articles arrive does not fire when the next window already fired
for the same surge (one surge, one alert).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.agents.alert import emit_alert
from pipeline.agents.dlq import dead_letter
from pipeline.agents.streams import batches
from pipeline.alerts.rules import CompiledWatch
from pipeline.alerts.surge import (
    SurgeMention,
    counts_subject,
    evaluate,
    event_time,
    is_recent,
    mentions,
    route,
    scope_of,
    surge_alert,
    surge_alert_id,
    surge_watches,
    window_start,
)
from pipeline.models import Article, Surge, utcnow
from pipeline.runtime import Runtime

if TYPE_CHECKING:
    import faust

    from pipeline.app import Topics

__all__ = ["SurgeTables", "register"]

log = logging.getLogger("rasd.surge")

DEFAULT_WINDOW_S = 3600.0


def _key(*parts: str) -> str:
    return "\x1f".join(parts)


@dataclass
class SurgeTables:
    """The windowed tables of one worker, and the watches it had to skip (logged once each)."""

    counts: dict[float, Any]  # window size (s) → windowed table of article counts
    seen: Any  # windowed table of counted (subject, article) pairs
    history_windows: dict[float, int]  # window size (s) → baseline_windows its table can serve
    skipped: set[tuple[str, str, int]] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)  # watches whose check failed (traceback logged once)

    @classmethod
    def declare(cls, app: faust.App, watches: list[CompiledWatch]) -> SurgeTables:
        """One tumbling table per surge window size (1h when none), and the seen-pairs table.

        Planned from every surge watch `watches` holds, paused or not. Each table keeps the largest
        baseline of the watches of its own size (+ 2 windows), and the seen pairs are kept as long
        as the longest of those: so nothing is kept longer than window × (baseline_windows + 2) of
        some watch, which the model bounds (a 7d watch beside a 1h one with 800 baseline windows
        must not make the 7d table keep 800 weeks).
        """
        history: dict[float, int] = {}
        for spec in (cw.watch.surge for cw in watches if cw.watch.surge is not None):
            history[spec.window_s] = max(history.get(spec.window_s, 0), spec.baseline_windows)
        history = history or {DEFAULT_WINDOW_S: Surge().baseline_windows}

        def table(name: str, size: float, expires: float) -> Any:
            return (
                app.Table(name, default=int, help="pipeline/agents/surge.py")
                .tumbling(timedelta(seconds=size), expires=timedelta(seconds=expires))
                .relative_to_stream()
            )

        sizes = sorted(history)
        counts = {
            size: table(f"surge-counts-{size:.0f}s", size, size * (history[size] + 2)) for size in sizes
        }
        seen = table("surge-seen", sizes[0], max(size * (history[size] + 2) for size in sizes))
        log.info(
            "surge tables: windows %s s, %s windows kept",
            [f"{s:.0f}" for s in sizes],
            [history[size] + 2 for size in sizes],
        )
        return cls(counts, seen, history)

    def table_for(self, watch: CompiledWatch) -> Any | None:
        """The count table serving this watch, or None (logged once) when it needs a restart."""
        spec = watch.watch.surge
        assert spec is not None
        table = self.counts.get(spec.window_s)
        if table is not None and spec.baseline_windows <= self.history_windows[spec.window_s]:
            return table
        marker = (watch.watch.id, spec.window, spec.baseline_windows)
        if marker not in self.skipped:
            self.skipped.add(marker)
            log.warning(
                "surge watch %s (window %s, %d baseline windows) needs a worker restart: this worker "
                "counts windows of %s s with %s baseline windows; skipped until then",
                watch.watch.id,
                spec.window,
                spec.baseline_windows,
                "/".join(f"{s:.0f}" for s in self.counts),
                "/".join(str(n) for n in self.history_windows.values()),
            )
        return None


def register(app: faust.App, topics: Topics, runtime: Runtime) -> None:
    """Declare the surge fan-out and counting agents (and their tables) on `app`."""
    tables = SurgeTables.declare(app, runtime.watches)  # paused ones too: they may be resumed

    @app.agent(topics.enriched, name="rasd.surge.fanout")
    async def fan_out(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, runtime.settings.index_batch_size, within=0.2):
            for key, value in batch:
                await _fan_out_one(key, value, topics, runtime)

    @app.agent(topics.surge_mentions, name="rasd.surge.count")
    async def count_mentions(stream: faust.StreamT[bytes]) -> None:
        # one event at a time: table writes go to the changelog partition of the current event
        async for event in stream.events():
            await _count_one(event, tables, topics, runtime)


def _text_key(raw_key: Any) -> str | None:
    return raw_key.decode("utf-8", errors="replace") if isinstance(raw_key, bytes) else None


async def _fan_out_one(raw_key: bytes | None, payload: Any, topics: Topics, runtime: Runtime) -> None:
    """Send the article's counted subjects to the mentions topic, stamped with its event time."""
    if not surge_watches(runtime.watches):
        return  # nothing counts mentions (the shipped config has no surge watch): skip the decode
    key = _text_key(raw_key)
    try:
        article = Article.model_validate_json(payload)
    except (ValidationError, ValueError) as exc:
        await dead_letter(topics.dlq, runtime, stage="surge-decode", exc=exc, key=key, payload=payload)
        return
    try:
        routes = route(article, runtime.watches)
        if not routes:
            return
        at = event_time(article, utcnow())
        for mention in mentions(article, routes, at):
            await topics.surge_mentions.send(
                key=mention.subject.encode(), value=mention.to_json(), timestamp=at.timestamp()
            )
    except Exception as exc:  # one bad article must not stop the stream
        log.exception("surge fan-out failed for %s", article.id)
        await dead_letter(topics.dlq, runtime, stage="surge", exc=exc, key=article.id, payload=payload)


async def _count_one(event: Any, tables: SurgeTables, topics: Topics, runtime: Runtime) -> None:
    """Count one mention in every window table, then check the watches that count its subject."""
    key = _text_key(event.key)
    payload = event.value
    try:
        mention = SurgeMention.model_validate_json(payload)
    except (ValidationError, ValueError) as exc:
        await dead_letter(topics.dlq, runtime, stage="surge-decode", exc=exc, key=key, payload=payload)
        return
    try:
        if _count(mention, event, tables):
            await _check(mention, event, tables, topics, runtime)
    except Exception as exc:
        log.exception("surge counting failed for %s", key)
        await dead_letter(topics.dlq, runtime, stage="surge", exc=exc, key=key, payload=payload)


def _count(mention: SurgeMention, event: Any, tables: SurgeTables) -> bool:
    """Add the mention to every scope's count; False when this (subject, article) was counted."""
    seen_key = _key(mention.subject, mention.article_id)
    if tables.seen[seen_key].current(event):
        return False
    for table in tables.counts.values():
        for scope in mention.scopes:
            table[_key(scope, mention.subject)] += 1
    tables.seen[seen_key] += 1  # after the counts: a crash in between over-counts, never loses
    return True


async def _check(
    mention: SurgeMention, event: Any, tables: SurgeTables, topics: Topics, runtime: Runtime
) -> None:
    """Check every surge watch that counts the mention's subject, each on its own: one that fails
    (a bug, a store error) is logged and the others are still checked."""
    for cw in surge_watches(runtime.watches):
        try:
            await _check_watch(cw, mention, event, tables, topics, runtime)
        except Exception:
            if cw.watch.id not in tables.failing:  # the traceback once per watch, not per mention
                tables.failing.add(cw.watch.id)
                log.exception("surge check of watch %s failed; the other watches go on", cw.watch.id)
            else:
                log.warning("surge check of watch %s failed again for %s", cw.watch.id, mention.subject)


async def _check_watch(
    cw: CompiledWatch,
    mention: SurgeMention,
    event: Any,
    tables: SurgeTables,
    topics: Topics,
    runtime: Runtime,
) -> None:
    scope = scope_of(cw.watch)
    spec = cw.watch.surge
    if spec is None or scope not in mention.scopes or not counts_subject(cw, mention.subject):
        return
    table = tables.table_for(cw)
    start = window_start(event.message.timestamp, spec.window_s)
    if table is None or not is_recent(start, spec.window_s, time.time()):
        return
    windows = table[_key(scope, mention.subject)]
    counts = [windows.current(event)]
    counts.extend(windows.delta(spec.window_s * i, event) for i in range(1, spec.baseline_windows + 2))
    result = evaluate(counts, spec)
    if result is None:
        return
    alert = surge_alert(cw.watch, mention.subject, start, result, mention)
    if runtime.alert_store.has(alert.id):
        return  # this surge already fired; the alert keeps the article that crossed
    if runtime.alert_store.has(surge_alert_id(cw.watch.id, mention.subject, start + spec.window_s)):
        return  # late articles: the surge was already reported for the next window, where it went on
    if await emit_alert(alert, cw.watch, topics, runtime) == "new":
        log.info(
            "surge watch=%s subject=%s count=%d baseline=%.1f",
            cw.watch.id,
            mention.subject,
            result.count,
            result.baseline,
        )
