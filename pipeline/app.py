"""The Faust app: declared by a factory from `Settings` (no broker URL in code), agents registered on it.

articles.raw ──enrich──► articles.enriched ──index──► search backend
                                           └─alert──► alerts (+ log / JSONL)
any failure ──► articles.dlq (reason, stage, original payload)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

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


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Make Faust's consumers ask the broker to answer a fetch within `max_wait_ms`.

    Faust builds its aiokafka consumers with a hard-coded `fetch_max_wait_ms=1500`; a broker that
    holds a fetch until that wait runs out when little data is waiting (measured with the embedded
    broker: about 450 ms a fetch) adds that to every hop of the pipeline. Measured on one Faust hop:
    p50 590 ms before, 134 ms with 100 ms. The consumer reads the value when it starts, so setting it
    on the freshly built consumer is enough; only Faust's worker consumers are touched.
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    create = AIOKafkaConsumerThread._create_worker_consumer
    original = getattr(create, "__wrapped__", create)

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms
        return consumer

    _create_worker_consumer.__wrapped__ = original  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def rewind_uncommitted_partitions() -> None:
    """When Faust seeks to the committed offsets (after each rebalance, before the flow resumes),
    send every assigned source partition that has no committed offset (or offset 0) to its
    beginning, instead of leaving it wherever the fetcher happens to be.

    Why: Faust hands its *live* set of active partitions to aiokafka's `fetched_records`, on the
    consumer thread. A rebalance clears and pauses that set while a fetch is waiting; aiokafka reads an
    empty set as "every partition" and returns (and marks consumed) all buffered records, including
    those of a partition just taken over from a dead worker; Faust then drops them because the flow is
    stopped. Faust repairs that with `perform_seek` (seek to the committed offsets) before it resumes
    the flow, but aiokafka's `seek_to_committed` skips a partition whose committed offset is missing or
    0, so such a partition silently resumes after the dropped records (seen: the survivor resumed
    `articles.raw[0]` at offset 70 with nothing committed, skipping 0..69, then committed 71). With
    `consumer_auto_offset_reset="earliest"` the committed position of such a partition *is* its
    beginning, so seeking there is what `perform_seek` means (at-least-once: processed but uncommitted
    records are redone, as for a committed partition). Table changelog partitions are left to the
    table recovery, which positions them itself.
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    seek = AIOKafkaConsumerThread.seek_to_committed
    original = getattr(seek, "__wrapped__", seek)

    async def seek_to_committed(self: Any) -> Any:
        committed = await original(self)
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            rewind = [
                tp
                for tp, offset in committed.items()
                if not offset and not self.consumer._is_changelog_tp(tp)
            ]
            if rewind:
                await self.call_thread(self._ensure_consumer().seek_to_beginning, *rewind)
        return committed

    seek_to_committed.__wrapped__ = original  # type: ignore[attr-defined]
    AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign]


def create_app(settings: Settings, runtime: Runtime, bootstrap: str) -> faust.App:
    """A configured Faust app with the enrich, index and alert agents."""
    from pipeline.agents import alert, enrich, fulltext, index, progress, surge

    limit_fetch_wait(settings.broker_fetch_max_wait_ms)
    rewind_uncommitted_partitions()
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
