"""`GET /healthz` and `GET /metrics` (Prometheus text format).

Metrics are the snapshots every Rasd process writes under the data dir (`pipeline.metrics`), summed,
plus two broker gauges when a broker is known: messages waiting in the dead-letter topic and the
worker's consumer lag. Those are read with kafka-python with short timeouts and cached, so a slow or
absent broker never slows a scrape; with no broker configured (no `RASD_KAFKA_BOOTSTRAP`, no running
`rasd run`) they are simply left out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from pipeline.api.models import Health
from pipeline.api.services import Services, services
from pipeline.broker import connect_timeout, end_offsets, group_offsets, open_client
from pipeline.metrics import collect, render_prometheus
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_DLQ

__all__ = ["BrokerGauges", "router"]

log = logging.getLogger("rasd.api")

router = APIRouter(tags=["operations"])

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _bootstrap(settings: Settings) -> str | None:
    """RASD_KAFKA_BOOTSTRAP, else the embedded broker a running `rasd run` recorded, else None."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    path = settings.data_dir / "broker.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("bootstrap")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, str) and value else None


def _read_gauges(bootstrap: str, group: str, timeout_s: float) -> dict[str, float]:
    """DLQ size (end minus beginning offsets) and the group's lag over every partition it committed."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient

    ms = int(timeout_s * 1000)
    consumer = open_client(
        KafkaConsumer,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=ms + 1000,
        **connect_timeout(KafkaConsumer, ms),
    )
    admin: Any = None
    try:
        out: dict[str, float] = {}
        parts = consumer.partitions_for_topic(ARTICLES_DLQ) or set()
        if parts:
            tps = [TopicPartition(ARTICLES_DLQ, p) for p in parts]
            begin, end = consumer.beginning_offsets(tps), end_offsets(consumer, tps, timeout=timeout_s)
            out["dlq_messages"] = float(sum(end[tp] - begin[tp] for tp in tps))
        admin = open_client(
            KafkaAdminClient,
            bootstrap_servers=bootstrap,
            request_timeout_ms=ms + 1000,
            **connect_timeout(KafkaAdminClient, ms),
        )
        committed = group_offsets(admin, group)
        if committed:
            ends = end_offsets(consumer, list(committed), timeout=timeout_s)
            out["consumer_lag"] = float(sum(max(0, ends[tp] - offset) for tp, offset in committed.items()))
        return out
    finally:
        consumer.close()
        if admin is not None:
            admin.close()


@dataclass
class BrokerGauges:
    """Broker gauges cached for `ttl_s`; a failed read is cached too (as nothing) and logged once."""

    settings: Settings
    ttl_s: float = 15.0
    timeout_s: float = 2.0
    _value: dict[str, float] = field(default_factory=dict)
    _at: float = field(default=-1e9)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self) -> dict[str, float]:
        async with self._lock:
            if time.monotonic() - self._at < self.ttl_s:
                return self._value
            self._at = time.monotonic()
            bootstrap = _bootstrap(self.settings)
            if bootstrap is None:  # no broker configured: nothing to report, and nothing to wait for
                self._value = {}
                return self._value
            try:
                self._value = await asyncio.wait_for(
                    asyncio.to_thread(_read_gauges, bootstrap, self.settings.consumer_group, self.timeout_s),
                    timeout=self.timeout_s * 3,
                )
            except Exception as exc:  # a scrape must not fail because the broker is away
                log.warning("broker gauges unavailable: %s", exc)
                self._value = {}
            return self._value


def broker_gauges(request: Request) -> BrokerGauges:
    """FastAPI dependency: the app's cached broker gauges."""
    gauges: BrokerGauges = request.app.state.broker_gauges
    return gauges


@router.get("/healthz", response_model=Health, summary="Liveness and readiness")
async def healthz(svc: Annotated[Services, Depends(services)]) -> Health:
    """200 when the search backend answers (503 with Retry-After when it cannot)."""
    backend = await svc.search_backend()
    articles = await backend.count()
    stale = await backend.stale_analysis()
    alerts = await asyncio.to_thread(svc.alerts.count)
    return Health(
        status="ok",
        search_backend=svc.settings.search_backend,
        articles=articles,
        alerts=alerts,
        stale_articles=stale,
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(
    svc: Annotated[Services, Depends(services)], gauges: Annotated[BrokerGauges, Depends(broker_gauges)]
) -> PlainTextResponse:
    """Articles fetched/enriched/indexed/alerted, latency histograms, DLQ size and lag (with a broker)."""
    snapshot = await asyncio.to_thread(collect, svc.settings.data_dir)
    extra = await gauges.get()
    return PlainTextResponse(render_prometheus(snapshot, extra), media_type=PROMETHEUS_TYPE)
