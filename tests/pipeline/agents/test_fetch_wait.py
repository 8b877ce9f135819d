"""Faust's worker consumers get the configured fetch wait instead of Faust's hard-coded 1.5 s."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from pipeline.faust_patches import limit_fetch_wait

pytestmark = pytest.mark.anyio


async def test_worker_consumers_get_the_short_fetch_wait() -> None:
    real = AIOKafkaConsumerThread._create_worker_consumer
    made = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=1500)
    calls: list[Any] = []

    def build(self: Any, transport: Any) -> AIOKafkaConsumer:  # stands in for Faust's factory
        calls.append(transport)
        return made

    try:
        AIOKafkaConsumerThread._create_worker_consumer = build  # type: ignore[method-assign]
        limit_fetch_wait(120)
        limit_fetch_wait(80)  # applying it again replaces the value, it does not stack wrappers
        wrapper: Any = AIOKafkaConsumerThread._create_worker_consumer
        assert wrapper.__wrapped__ is build
        assert wrapper(object(), "transport") is made and calls == ["transport"]
        assert made._fetch_max_wait_ms == 80
    finally:
        AIOKafkaConsumerThread._create_worker_consumer = real  # type: ignore[method-assign]
