"""Alert agent: articles.enriched → watches → alerts topic + delivery, once per (watch, article)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.agents.dlq import dead_letter
from pipeline.agents.streams import batches
from pipeline.alerts.delivery import deliver
from pipeline.alerts.rules import match_watch
from pipeline.models import Article
from pipeline.runtime import Runtime

if TYPE_CHECKING:
    import faust

    from pipeline.app import Topics

__all__ = ["register"]

log = logging.getLogger("rasd.alert")


def register(app: faust.App, topics: Topics, runtime: Runtime) -> None:
    """Declare the alert agent on `app`."""

    @app.agent(topics.enriched, name="rasd.alert")
    async def match_alerts(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, runtime.settings.index_batch_size, within=0.2):
            for key, value in batch:
                await _alert_one(key, value, topics, runtime)


async def _alert_one(raw_key: bytes | None, payload: Any, topics: Topics, runtime: Runtime) -> None:
    key = raw_key.decode("utf-8", errors="replace") if raw_key else None
    try:
        article = Article.model_validate_json(payload)
        key = article.id
        for cw in runtime.watches:
            alert = match_watch(cw, article, runtime.enricher.analyzer)
            if alert is None or runtime.alert_store.has(alert.id):
                continue  # no match, or already fired for this (watch, article)
            # record only after delivery: a crash in between re-delivers (same alert id), never loses
            deliver(alert, cw.watch.channels, runtime.settings.alerts_path)
            await topics.alerts.send(key=alert.id.encode(), value=alert.to_json())
            if runtime.alert_store.add(alert):
                runtime.counters.alerted += 1
    except (ValidationError, ValueError) as exc:
        await dead_letter(topics.dlq, runtime, stage="alert-decode", exc=exc, key=key, payload=payload)
    except Exception as exc:
        log.exception("alert matching failed for %s", key)
        await dead_letter(topics.dlq, runtime, stage="alert", exc=exc, key=key, payload=payload)
