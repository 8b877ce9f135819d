"""`rasd dlq replay` position: what one run reads, what it saves, and when a saved position is stale.

The broker tests start their own embedded Tansu broker (memory only, a fresh DLQ each) and never join a
consumer group, so they do not wait for a rebalance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from pipeline.broker import EmbeddedBroker, ensure_topics
from pipeline.cli.main import main
from pipeline.dead_letters import (
    PartitionProgress,
    _Sink,
    load_progress,
    parse_progress,
    read_letters,
    replay,
    save_progress,
)
from pipeline.errors import ConfigError, PublishError
from pipeline.models import Article, DeadLetter


def _article(n: int) -> Article:
    return Article(id=f"{n:032x}", source="s", url=f"https://e.example/{n}", title=f"خبر {n}")


def _letter(stage: str, n: int) -> DeadLetter:
    a = _article(n)
    return DeadLetter.from_failure(stage=stage, exc=RuntimeError("boom"), key=a.id, payload=a)


def _put(bootstrap: str, letters: list[DeadLetter]) -> None:
    producer = KafkaProducer(bootstrap_servers=[bootstrap])
    for letter in letters:
        producer.send("articles.dlq", key=(letter.key or "k").encode(), value=letter.to_json(), partition=0)
    producer.flush()
    producer.close()


@pytest.fixture
def dlq() -> Iterator[str]:
    """A fresh broker: its DLQ holds only what the test puts there."""
    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap, partitions=1, replication=1)
        yield b.bootstrap


# --- the saved position, pure -------------------------------------------------------------------


def test_a_stage_replay_marks_its_letters_and_the_position_advances_over_runs_of_them() -> None:
    p = PartitionProgress(next=2)
    p.mark(3, "c")  # 2 left for another stage's replay
    assert (p.next, p.done, p.check) == (2, {3}, (3, "c"))
    assert p.handled(1) and not p.handled(2) and p.handled(3)
    p.mark(2, "b")
    assert (p.next, p.done, p.check) == (4, set(), (3, "c"))  # the check stays on the last letter


def test_the_saved_position_round_trips_and_reads_the_first_format(tmp_path: Path) -> None:
    path = tmp_path / "dlq-replayed.json"
    save_progress(path, {0: PartitionProgress(4, {6}, (5, "ab")), 1: PartitionProgress(0)})
    assert load_progress(path) == {0: PartitionProgress(4, {6}, (5, "ab")), 1: PartitionProgress(0)}
    assert [p.name for p in tmp_path.iterdir()] == ["dlq-replayed.json"]  # no temp file left
    assert parse_progress('{"0": 4, "1": 0}', path) == {0: PartitionProgress(4), 1: PartitionProgress(0)}
    assert load_progress(tmp_path / "absent.json") == {}


@pytest.mark.parametrize("text", ['{"0": 1', '["x"]', '{"0": "x"}', '{"version": 2, "partitions": [1]}'])
def test_a_damaged_position_file_is_a_config_error_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "dlq-replayed.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dlq-replayed\.json"):
        load_progress(path)


def test_an_unknown_stage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown stage.*indx"):
        replay("127.0.0.1:1", tmp_path / "p.json", stages=["indx"])
    with pytest.raises(SystemExit):
        main(["dlq", "replay", "--stage", "indx"])


# --- against a broker -----------------------------------------------------------------------------


needs_broker = pytest.mark.integration


@needs_broker
def test_a_position_saved_against_another_broker_is_not_applied(tmp_path: Path) -> None:
    path = tmp_path / "dlq-replayed.json"
    with EmbeddedBroker() as first:
        ensure_topics(first.bootstrap, partitions=1, replication=1)
        _put(first.bootstrap, [_letter("index", n) for n in range(4)])
        assert len(replay(first.bootstrap, path).replayed) == 4
    with EmbeddedBroker() as second:  # `rasd run` again: a new, empty DLQ, same data dir
        ensure_topics(second.bootstrap, partitions=1, replication=1)
        _put(second.bootstrap, [_letter("index", n) for n in range(100, 106)])
        assert len(list(read_letters(second.bootstrap, load_progress(path)))) == 6  # all pending
        report = replay(second.bootstrap, path)
        assert sorted(i for i, _ in report.replayed) == [_article(n).id for n in range(100, 106)]
        assert replay(second.bootstrap, path).replayed == []


@needs_broker
def test_one_run_stops_at_the_end_it_saw_first(
    dlq: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replayed letter that fails again at once is parked again: it waits for the next run."""
    real = _Sink.send

    def send_and_fail_again(self: _Sink, topic: str, article: Article) -> None:
        real(self, topic, article)
        failed = DeadLetter.from_failure(
            stage="index", exc=RuntimeError("rejected"), key=article.id, payload=article
        )
        _put(dlq, [failed])

    monkeypatch.setattr(_Sink, "send", send_and_fail_again)
    _put(dlq, [_letter("index", n) for n in range(3)])
    assert len(replay(dlq, tmp_path / "p.json").replayed) == 3
    assert len(replay(dlq, tmp_path / "p.json").replayed) == 3  # the three parked again


@needs_broker
def test_a_stage_replay_advances_and_leaves_the_other_stages(
    dlq: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.json"
    _put(dlq, [_letter("enrich", 0), _letter("index", 1), _letter("index", 2)])
    assert [i for i, _ in replay(dlq, path, stages=["index"]).replayed] == [_article(1).id, _article(2).id]
    assert replay(dlq, path, stages=["index"]).replayed == []  # not twice
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", dlq)
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RASD_CONFIG_DIR", str(Path(__file__).parents[2] / "config"))
    path.replace(tmp_path / "dlq-replayed.json")
    assert main(["dlq", "list", "--pending"]) == 0
    assert "1 dead letter(s): enrich=1" in capsys.readouterr().out
    assert main(["dlq", "replay"]) == 0
    assert f"replayed {_article(0).id} → articles.raw" in capsys.readouterr().out
    assert load_progress(tmp_path / "dlq-replayed.json")[0].next == 3


@needs_broker
def test_a_replay_that_stops_early_keeps_what_it_sent(
    dlq: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _Sink.send
    calls = []

    def flaky(self: _Sink, topic: str, article: Article) -> None:
        calls.append(article.id)
        if len(calls) == 5:
            raise PublishError("delivery to articles.enriched failed")
        real(self, topic, article)

    monkeypatch.setattr(_Sink, "send", flaky)
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", dlq)
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RASD_CONFIG_DIR", str(Path(__file__).parents[2] / "config"))
    _put(dlq, [_letter("index", n) for n in range(6)])
    assert main(["dlq", "replay"]) == 1
    captured = capsys.readouterr()
    assert "stopped early: replayed 4, kept 0" in captured.out and "delivery" in captured.err
    assert main(["dlq", "replay"]) == 0
    out = capsys.readouterr().out
    assert "replayed 2, kept 0" in out and _article(4).id in out and _article(0).id not in out
    saved = json.loads((tmp_path / "dlq-replayed.json").read_text(encoding="utf-8"))
    assert saved["partitions"]["0"]["next"] == 6
