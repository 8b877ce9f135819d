"""The Faust app: declared by a factory from `Settings` (no broker URL in code), agents registered on it.

articles.raw ──enrich──► articles.enriched ──index──► search backend
                                           └─alert──► alerts (+ log / JSONL)
any failure ──► articles.dlq (reason, stage, original payload)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from pipeline import faust_patches
from pipeline import topics as names
from pipeline.runtime import Runtime
from pipeline.settings import Settings

__all__ = ["Topics", "create_app"]


@dataclass(frozen=True)
class Topics:
    """The app's topic handles; values are raw bytes (UTF-8 JSON), decoded per message by the agents."""

    raw: Any
    enriched: Any
    dlq: Any
    alerts: Any
    surge_mentions: Any = None  # keyed by surge subject (pipeline/agents/surge.py)


def _declare_topics(app: faust.App, settings: Settings) -> Topics:
    def topic(name: str) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
            replicas=settings.topic_replication,
        )

    return Topics(
        raw=topic(names.ARTICLES_RAW),
        enriched=topic(names.ARTICLES_ENRICHED),
        dlq=topic(names.ARTICLES_DLQ),
        alerts=topic(names.ALERTS),
        surge_mentions=topic(names.SURGE_MENTIONS),
    )


def create_app(settings: Settings, runtime: Runtime, bootstrap: str) -> faust.App:
    """A configured Faust app with the enrich, index and alert agents."""
    from pipeline.agents import alert, enrich, fulltext, index, progress, surge

    faust_patches.apply(fetch_max_wait_ms=settings.broker_fetch_max_wait_ms)
    app = faust.App(
        settings.consumer_group,
        broker=[f"kafka://{hp.strip()}" for hp in bootstrap.split(",") if hp.strip()],
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=settings.broker_rebalance_timeout_s,
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        broker_max_poll_interval=settings.broker_max_poll_interval_s,
        # On a rebalance Faust waits by default until every event it handed to an agent is acked; an
        # event sitting in a `take_events` batch never is, because the stream is paused for the
        # rebalance: the worker waited forever (seen after an eviction: `wait_empty: Waiting for
        # tasks`, tests/faults/test_worker_frozen.py). Not waiting is safe here: unacked events are
        # redelivered after the rebalance, and every write downstream is an upsert by id.
        stream_wait_empty=False,
    )
    topics = _declare_topics(app, settings)
    enrich.register(app, topics, runtime)
    index.register(app, topics, runtime)
    alert.register(app, topics, runtime)
    surge.register(app, topics, runtime)
    fulltext.register(app, topics, runtime)
    progress.register(app, runtime)
    return app
