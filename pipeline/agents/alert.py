"""Alert agent: articles.enriched → watches → alerts topic, once per (watch, story).

Matching never waits for delivery: a new alert is written to the alert store together with an
outbox row, and a separate task delivers the outbox to the watch's channels (retries included).
A crash anywhere re-delivers rather than loses; the alert id keeps it to one alert per story.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from pipeline.agents.dlq import dead_letter
from pipeline.agents.streams import batches
from pipeline.alerts.delivery import Deliverer
from pipeline.alerts.rules import match_watches
from pipeline.alerts.store import AlertStore
from pipeline.models import Alert, Article, Watch
from pipeline.runtime import Runtime

if TYPE_CHECKING:
    import faust

    from pipeline.app import Topics

__all__ = ["emit_alert", "register"]

log = logging.getLogger("rasd.alert")

_OUTBOX_IDLE_S = 1.0
_OUTBOX_ERROR_S = 5.0  # pause after a delivery round failed as a whole
# a claim on an outbox row lasts this long and is renewed every third of it while the delivery runs
# (retries and a receiver's Retry-After can take minutes), so a killed worker's alerts go out from
# another worker about this soon after the kill
_OUTBOX_LEASE_S = 30.0
_OWNER = f"{socket.gethostname()}:{os.getpid()}"  # this worker, in the outbox's claims


def register(app: faust.App, topics: Topics, runtime: Runtime) -> None:
    """Declare the alert agent and the delivery task on `app`.

    Channels are built here, so a bad `channels.yaml` or an unset secret stops the worker at start
    with a ConfigError instead of failing on the first alert.
    """
    wake = asyncio.Event()
    deliverer = Deliverer.from_settings(runtime.settings)

    @app.agent(topics.enriched, name="rasd.alert")
    async def match_alerts(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, runtime.settings.index_batch_size, within=0.2):
            runtime.refresh_watches()  # run-time watch changes (`rasd watch …`) apply from the next batch
            for key, value in batch:
                if await _alert_one(key, value, topics, runtime):
                    wake.set()

    @app.task  # type: ignore[untyped-decorator]
    async def deliver_outbox() -> None:
        while True:
            try:
                sent = await _deliver_pending(runtime, deliverer)
            except Exception:  # a locked or broken store: an escaping error would crash the worker
                log.exception("alert delivery failed; retrying in %.0f s", _OUTBOX_ERROR_S)
                await asyncio.sleep(_OUTBOX_ERROR_S)
                continue
            if not sent:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=_OUTBOX_IDLE_S)


async def emit_alert(
    alert: Alert, watch: Watch, topics: Topics, runtime: Runtime
) -> Literal["new", "merged", "seen"]:
    """Publish and record an alert once; a known story from another source is merged, not re-fired.

    The event goes to the alerts topic before the store records it, so a crash in between
    re-publishes the same alert id (consumers dedupe on it) instead of losing it.
    """
    store = runtime.alert_store
    if store.has(alert.id):
        return store.record(alert)
    await topics.alerts.send(key=alert.id.encode(), value=alert.to_json())
    status = store.record(alert, watch.channels)
    if status == "new":
        runtime.counters.alerted += 1
    return status


async def _deliver_pending(runtime: Runtime, deliverer: Deliverer) -> int:
    """Deliver one batch of the outbox concurrently (each channel retries on its own; outcomes go
    to the delivery log); the number of alerts handled."""
    store = runtime.alert_store
    pending = await asyncio.to_thread(store.claim, _OWNER, 50, _OUTBOX_LEASE_S)
    if not pending:
        return 0
    ids = [a.id for a, _ in pending]
    renewing = asyncio.create_task(_renew_claims(store, ids))
    try:
        await asyncio.gather(*(deliverer.deliver(alert, channels) for alert, channels in pending))
    finally:
        renewing.cancel()
    await asyncio.to_thread(store.delivered, ids)
    return len(pending)


async def _renew_claims(store: AlertStore, alert_ids: list[str]) -> None:
    """Keep this worker's claims on `alert_ids` alive while their delivery runs (until cancelled)."""
    while True:
        await asyncio.sleep(_OUTBOX_LEASE_S / 3)
        try:
            await asyncio.to_thread(store.renew, _OWNER, alert_ids, _OUTBOX_LEASE_S)
        except sqlite3.Error:
            log.exception("cannot renew outbox claims: another worker may deliver these alerts too")


async def _alert_one(raw_key: bytes | None, payload: Any, topics: Topics, runtime: Runtime) -> bool:
    """Match one enriched article against every watch; True when a new alert was recorded."""
    key = raw_key.decode("utf-8", errors="replace") if raw_key else None
    fired = False
    try:
        article = Article.model_validate_json(payload)
        key = article.id
        for cw, alert in match_watches(runtime.watches, article, runtime.enricher.analyzer):
            if await emit_alert(alert, cw.watch, topics, runtime) == "new":
                fired = True
                runtime.observe_latency("alert_latency_seconds", article)
        runtime.counters.checked += 1
    except (ValidationError, ValueError) as exc:
        await dead_letter(topics.dlq, runtime, stage="alert-decode", exc=exc, key=key, payload=payload)
    except Exception as exc:
        log.exception("alert matching failed for %s", key)
        await dead_letter(topics.dlq, runtime, stage="alert", exc=exc, key=key, payload=payload)
    return fired
