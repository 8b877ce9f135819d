"""`topic_plan`: one description of Rasd's topics (partitions, replication, retention), and the
`rasd topics create` command around it, without a broker (the broker side is in
tests/integration/test_topics_cli.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.broker import ensure_topics, free_port
from pipeline.cli.main import main
from pipeline.settings import Settings
from pipeline.topics import (
    ALERTS,
    ALL_TOPICS,
    ARTICLES_DLQ,
    ARTICLES_ENRICHED,
    ARTICLES_RAW,
    SURGE_MENTIONS,
    RetentionHours,
    plan_topics,
    topic_plan,
)

HOUR_MS = 3_600_000


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RASD_* from the caller's shell leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("RASD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))


def test_default_plan_covers_every_topic_once() -> None:
    plan = topic_plan(Settings())
    assert [s.name for s in plan] == list(ALL_TOPICS)
    assert all(s.partitions == 4 and s.replication == 1 for s in plan)
    assert all(s.configs["cleanup.policy"] == "delete" for s in plan)


@pytest.mark.parametrize(
    ("topic", "hours"),
    [(ARTICLES_RAW, 168), (ARTICLES_ENRICHED, 168), (ARTICLES_DLQ, 720), (ALERTS, 720), (SURGE_MENTIONS, 48)],
)
def test_default_retention(topic: str, hours: int) -> None:
    spec = {s.name: s for s in topic_plan(Settings())}[topic]
    assert spec.retention_ms == hours * HOUR_MS
    assert spec.configs["retention.ms"] == str(hours * HOUR_MS)  # topic configs are strings on the wire


def test_settings_drive_the_plan() -> None:
    settings = Settings(
        topic_partitions=12,
        topic_replication=3,
        raw_retention_hours=24,
        enriched_retention_hours=72,
        dlq_retention_hours=2000,
        alerts_retention_hours=100,
        surge_retention_hours=6,
    )
    plan = {s.name: s for s in topic_plan(settings)}
    assert {s.partitions for s in plan.values()} == {12}
    assert {s.replication for s in plan.values()} == {3}
    assert plan[ARTICLES_RAW].retention_ms == 24 * HOUR_MS
    assert plan[ARTICLES_ENRICHED].retention_ms == 72 * HOUR_MS
    assert plan[ARTICLES_DLQ].retention_ms == 2000 * HOUR_MS
    assert plan[ALERTS].retention_ms == 100 * HOUR_MS
    assert plan[SURGE_MENTIONS].retention_ms == 6 * HOUR_MS


def test_retention_settings_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASD_SURGE_RETENTION_HOURS", "12")
    monkeypatch.setenv("RASD_DLQ_RETENTION_HOURS", "1440")
    plan = {s.name: s for s in topic_plan(Settings())}
    assert plan[SURGE_MENTIONS].retention_ms == 12 * HOUR_MS
    assert plan[ARTICLES_DLQ].retention_ms == 1440 * HOUR_MS


@pytest.mark.parametrize("bad", ["0", "-1", "many"])
def test_retention_must_be_positive_hours(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("RASD_RAW_RETENTION_HOURS", bad)
    with pytest.raises(ValueError, match="raw_retention_hours"):
        Settings()


def test_settings_defaults_match_the_plan_defaults() -> None:
    """`plan_topics` without settings (the embedded `ensure_topics` path) uses the same defaults."""
    assert plan_topics(partitions=4, replication=1) == topic_plan(Settings())
    fields = Settings.model_fields
    for f in dataclasses.fields(RetentionHours):
        setting = f"{f.name}_retention_hours"
        if setting in fields:
            assert fields[setting].default == f.default, setting


def test_surge_retention_covers_twice_a_day_window() -> None:
    """2 × the largest usual surge window (1 day) must fit in the default retention."""
    assert Settings().surge_retention_hours >= 2 * 24


def test_ensure_topics_needs_a_plan_or_sizes() -> None:
    with pytest.raises(ValueError, match="partitions and replication"):
        ensure_topics("127.0.0.1:1", partitions=4)


def test_dry_run_prints_the_plan_without_a_broker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "create", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "plan for RASD_KAFKA_BOOTSTRAP (unset):"
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert set(rows) == set(ALL_TOPICS)
    assert rows[ARTICLES_DLQ][1:4] == ["4", "1", "30d"]
    assert rows[SURGE_MENTIONS][3] == "2d"
    assert f"retention.ms={168 * HOUR_MS}" in rows[ARTICLES_RAW]


def test_dry_run_shows_the_configured_bootstrap(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("RASD_TOPIC_PARTITIONS", "24")
    assert main(["topics", "create", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan for kafka-1:9092,kafka-2:9092:")
    assert out.count("        24") == len(ALL_TOPICS)


def test_unreachable_broker_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", bootstrap)
    assert main(["topics", "create", "--timeout", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: cannot reach Kafka at {bootstrap} within 1s: ")


def test_no_broker_configured_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "create"]) == 2
    assert "Error: no Kafka broker: set RASD_KAFKA_BOOTSTRAP" in capsys.readouterr().err


def test_topics_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["topics"])
    assert exc.value.code == 2
