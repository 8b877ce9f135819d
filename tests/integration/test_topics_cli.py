"""`rasd topics create` against the real embedded (Tansu) broker: creates every planned topic with its
partitions, reports existing ones (idempotent), and leaves an existing topic's partitions alone.

Tansu accepts topic configs on CreateTopics but reports none back (DescribeConfigs answers with an
empty list), so `retention.ms` is asserted only where the broker reports it; partitions are asserted
always.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from pipeline.broker import EmbeddedBroker, ensure_topics
from pipeline.cli.main import main
from pipeline.settings import Settings
from pipeline.topics import ALL_TOPICS, ARTICLES_RAW, topic_plan

pytestmark = pytest.mark.integration


@pytest.fixture()
def fresh_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of our own: the shared `broker` fixture has its topics created already."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as b:
        yield b


@pytest.fixture()
def rasd_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_broker: EmbeddedBroker) -> str:
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", fresh_broker.bootstrap)
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RASD_TOPIC_PARTITIONS", "3")
    monkeypatch.setenv("RASD_SURGE_RETENTION_HOURS", "6")
    return fresh_broker.bootstrap


def _describe(bootstrap: str) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Partitions per topic, and the configs the broker reports per topic (empty on Tansu)."""
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], client_id="rasd-test", request_timeout_ms=10_000)
    try:
        topics = [t for t in admin.list_topics() if t in ALL_TOPICS]
        described_topics = admin.describe_topics(topics)
        partitions = {(t.get("name") or t.get("topic")): len(t["partitions"]) for t in described_topics}
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
        configs: dict[str, dict[str, Any]] = {}
        if isinstance(described, dict):  # kafka-python 3: {'topic': {name: {config: value}}}
            configs = {name: dict(values or {}) for name, values in described.get("topic", {}).items()}
        return partitions, configs
    finally:
        admin.close()


def _lines(out: str) -> dict[str, str]:
    """`created`/`exists` per topic name from the command's report."""
    status = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("created", "exists"):
            status[parts[1]] = parts[0]
    return status


def test_creates_every_topic_then_reports_them_existing(
    rasd_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["topics", "create"]) == 0
    out = capsys.readouterr().out
    assert _lines(out) == dict.fromkeys(ALL_TOPICS, "created")
    assert out.rstrip().endswith(f"topics on {rasd_env}: {len(ALL_TOPICS)} created, 0 existing")

    partitions, configs = _describe(rasd_env)
    assert partitions == dict.fromkeys(ALL_TOPICS, 3)
    plan = {s.name: s for s in topic_plan(Settings())}
    for name, reported in configs.items():  # Tansu reports no configs: nothing to compare there
        if "retention.ms" in reported:
            value = reported["retention.ms"]
            assert str(getattr(value, "value", value)) == plan[name].configs["retention.ms"], name

    assert main(["topics", "create"]) == 0  # idempotent
    again = capsys.readouterr().out
    assert _lines(again) == dict.fromkeys(ALL_TOPICS, "exists")
    assert f"{len(ALL_TOPICS)} existing" in again
    assert "3 partitions" in again and "plan:" not in again


def test_existing_topic_with_fewer_partitions_is_reported_not_changed(
    rasd_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # the embedded path, as `rasd run` and the integration fixture call it
    assert ensure_topics(rasd_env, partitions=1, replication=1, names=[ARTICLES_RAW]) == [ARTICLES_RAW]

    assert main(["topics", "create"]) == 0
    out = capsys.readouterr().out
    status = _lines(out)
    assert status.pop(ARTICLES_RAW) == "exists"
    assert set(status.values()) == {"created"}
    raw_line = next(line for line in out.splitlines() if f" {ARTICLES_RAW} " in line)
    assert "1 partition (plan: 3;" in raw_line

    partitions, _ = _describe(rasd_env)
    assert partitions[ARTICLES_RAW] == 1
    assert {n: p for n, p in partitions.items() if n != ARTICLES_RAW} == {
        n: 3 for n in ALL_TOPICS if n != ARTICLES_RAW
    }
