"""The API's copy of the `alerts` topic, against the real broker: what an API pod in Kubernetes shows
when the workers that raised the alerts keep their own alert logs on other pods."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from pipeline.alerts.mirror import AlertMirror
from pipeline.alerts.store import AlertStore
from pipeline.api import create_api
from pipeline.broker import EmbeddedBroker
from pipeline.models import Alert, AlsoReported, Evidence
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def _alert(story: str, article: str, source: str = "s") -> Alert:
    return Alert(
        id=Alert.make_id("truce", story),
        watch_id="truce",
        article_id=article,
        title=f"هدنة {story}",
        source=source,
        evidence=[Evidence(kind="word", value="هدنة", surface="الهدنة")],
    )


def _publish(bootstrap: str, alerts: list[Alert | bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for a in alerts:
            value = a if isinstance(a, bytes) else a.to_json()
            producer.send("alerts", key=b"k", value=value)
        producer.flush()
    finally:
        producer.close()


def _until(condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)


def test_the_topic_fills_the_api_log_with_copies_folded_and_junk_skipped(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # two workers alerted two copies of one story; a third record is no alert at all
    first, copy, other = (
        _alert("s1", "a" * 32, "aljazeera"),
        _alert("s1", "b" * 32, "bbc"),
        _alert("s2", "c" * 32),
    )
    _publish(broker.bootstrap, [first, b"not json", copy, other])
    store = AlertStore(tmp_path / "alerts.sqlite3")
    mirror = AlertMirror(broker.bootstrap, store)
    mirror.start()
    try:
        _until(lambda: mirror.recorded == 3)
        assert (mirror.recorded, mirror.unreadable, store.count()) == (3, 1, 2)
        stored = store.get(first.id)
        assert stored is not None and stored.also == [
            AlsoReported(article_id=copy.article_id, source="bbc", url=None, title=copy.title)
        ]
        later = _alert("s3", "d" * 32)
        _publish(broker.bootstrap, [later])  # after the start: followed, not only read once
        _until(lambda: store.get(later.id) is not None)
        assert store.count() == 3
    finally:
        mirror.stop()
        store.close()
    # a restart reads the topic again: nothing doubles
    again = AlertStore(tmp_path / "alerts.sqlite3")
    mirror = AlertMirror(broker.bootstrap, again)
    mirror.start()
    try:
        _until(lambda: mirror.recorded == 4)
        assert again.count() == 3 and len(again.get(first.id).also) == 1  # type: ignore[union-attr]
    finally:
        mirror.stop()
        again.close()


def test_the_api_serves_the_workers_alerts_when_told_to_read_the_topic(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    alert = _alert("api-story", "e" * 32)
    _publish(broker.bootstrap, [alert])
    settings = Settings(
        data_dir=tmp_path / "api-pod", kafka_bootstrap=broker.bootstrap, api_alerts_from_topic=True
    )
    with TestClient(create_api(settings, web=False), base_url="http://127.0.0.1") as client:
        _until(lambda: any(a["id"] == alert.id for a in client.get("/alerts").json()))
        assert alert.id in {a["id"] for a in client.get("/alerts").json()}
    # the API pod delivers nothing itself: the workers did
    assert AlertStore(tmp_path / "api-pod" / "alerts.sqlite3").pending() == []
