"""How far a consumer group is behind, read from the real embedded (Tansu) broker: what `rasd run --once`
waits on before it counts alerts, and the `consumer_lag` gauge of `/metrics`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from pipeline.api.health import _read_gauges
from pipeline.broker import EmbeddedBroker, unconsumed
from pipeline.topics import ARTICLES_ENRICHED

pytestmark = pytest.mark.integration

GROUP = "rasd-offsets-test"


@pytest.fixture(scope="module")
def sent(broker: EmbeddedBroker) -> Iterator[dict[int, int]]:
    """Six messages on `articles.enriched` (2 partitions, three in one record batch each: Tansu reports
    such a partition's end as 1); partition → end offset."""
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    try:
        for k in range(6):
            producer.send(ARTICLES_ENRICHED, key=f"a{k}".encode(), value=b"{}", partition=k % 2)
        producer.flush()
    finally:
        producer.close()
    yield {0: 3, 1: 3}


def _commit(bootstrap: str, offsets: dict[int, int]) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False)
    try:
        tps = {p: TopicPartition(ARTICLES_ENRICHED, p) for p in offsets}
        consumer.assign(list(tps.values()))
        consumer.commit({tps[p]: OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
    finally:
        consumer.close()


def test_uncommitted_messages_are_counted_until_the_group_commits_past_them(
    broker: EmbeddedBroker, sent: dict[int, int]
) -> None:
    assert unconsumed(broker.bootstrap, GROUP, ARTICLES_ENRICHED) == 6  # never committed: all of them
    _commit(broker.bootstrap, {0: 3, 1: 1})
    assert unconsumed(broker.bootstrap, GROUP, ARTICLES_ENRICHED) == 2
    assert _read_gauges(broker.bootstrap, GROUP, 5.0)["consumer_lag"] == 2.0
    _commit(broker.bootstrap, {1: 3})
    assert unconsumed(broker.bootstrap, GROUP, ARTICLES_ENRICHED) == 0
    assert _read_gauges(broker.bootstrap, GROUP, 5.0)["consumer_lag"] == 0.0
    assert unconsumed(broker.bootstrap, GROUP, "no.such.topic") == 0
