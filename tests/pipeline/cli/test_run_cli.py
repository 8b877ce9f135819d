"""`rasd run` without starting it: a fresh embedded broker resets what described the old one, SIGTERM
unwinds like Ctrl-C, `--no-feeds` polls nothing; and the `broker.json` it leaves for other commands."""

from __future__ import annotations

import json
import os
import signal
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from connectors.state import FeedState
from pipeline.cli import run
from pipeline.cli.common import broker_file, resolve_bootstrap, write_broker_file
from pipeline.config import FeedConfig
from pipeline.dead_letters import PartitionProgress, save_progress
from pipeline.errors import BrokerError, ConfigError
from pipeline.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "config").mkdir()
    return Settings(data_dir=tmp_path / "data", config_dir=tmp_path / "config", kafka_bootstrap=None)


def test_a_fresh_embedded_broker_resets_seen_ids_and_the_replay_position(settings: Settings) -> None:
    state = FeedState.for_feed(settings, "samples")
    state.mark_seen(["a" * 32])
    state.save()
    save_progress(settings.data_dir / "dlq-replayed.json", {0: PartitionProgress(next=4)})
    run._forget_old_broker(settings)
    assert not FeedState.for_feed(settings, "samples").is_seen("a" * 32)
    assert not (settings.data_dir / "dlq-replayed.json").exists()


def _outer(signum: int, frame: object) -> None:
    """Stands for the default action (which would end the test run) while the test runs."""


def test_sigterm_unwinds_the_stack_like_ctrl_c() -> None:
    """The children run in their own sessions: only the ExitStack's callbacks stop them."""
    before = signal.signal(signal.SIGTERM, _outer)
    try:
        stopped: list[str] = []
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"), run._stop_on_signals(), ExitStack() as stack:
            stack.callback(stopped.append, "broker")
            stack.callback(stopped.append, "worker")
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes, right after the kill
                signal.getsignal(signal.SIGTERM)
        assert stopped == ["worker", "broker"]
        assert signal.getsignal(signal.SIGTERM) is _outer  # restored after
    finally:
        signal.signal(signal.SIGTERM, before)


class _Worker:
    def __init__(self, lives: int) -> None:
        self.lives, self.returncode = lives, 3

    def poll(self) -> int | None:
        self.lives -= 1
        return None if self.lives >= 0 else self.returncode


def test_no_feeds_polls_nothing_while_it_runs(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors

    polled: list[Any] = []

    async def poll_once(feeds: Any, **_: Any) -> None:
        polled.append(feeds)

    monkeypatch.setattr(connectors, "poll_once", poll_once)
    monkeypatch.setattr(run.time, "sleep", lambda _s: None)
    worker: Any = _Worker(lives=3)
    with pytest.raises(BrokerError, match="code 3"):
        run._forever(settings, run._Tracking(object()), worker, [])
    assert polled == []
    feed = FeedConfig(id="f", url="https://example.com/rss")
    with pytest.raises(BrokerError):
        run._forever(settings, run._Tracking(object()), _Worker(lives=2), [feed])  # type: ignore[arg-type]
    assert polled == [[feed], [feed]]


@pytest.mark.parametrize("text", ['{"bootstrap": "127.0.0.1:1', "[1]", '{"bootstrap": ""}'])
def test_a_damaged_broker_file_is_a_config_error_naming_it(settings: Settings, text: str) -> None:
    settings.data_dir.mkdir(parents=True)
    broker_file(settings).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broker\.json"):
        resolve_bootstrap(settings)


def test_the_broker_file_is_written_whole(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    write_broker_file(broker_file(settings), {"bootstrap": "127.0.0.1:9", "pid": 1})
    assert resolve_bootstrap(settings) == "127.0.0.1:9"
    assert [p.name for p in settings.data_dir.iterdir()] == ["broker.json"]
    assert json.loads(broker_file(settings).read_text(encoding="utf-8"))["pid"] == 1
