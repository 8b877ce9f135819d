"""`rasd ingest` says what failed and exits non-zero, so scripts can tell a failed round from a quiet one."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.fulltext.route import FullTextRouter
from connectors.rss import PollOutcome, PollReport
from pipeline.cli.main import main
from pipeline.errors import PublishError
from pipeline.models import Article

REPO = Path(__file__).resolve().parents[3]
FEEDS = REPO / "tests" / "fixtures" / "feeds"


class _Down:
    """A publisher whose broker stopped answering."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def publish(self, articles: Iterable[Article]) -> int:
        raise PublishError("delivery to articles.raw failed: KafkaTimeoutError")

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RASD_CONFIG_DIR", str(REPO / "config"))
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    monkeypatch.setattr(connectors, "KafkaPublisher", _Down)


def test_files_that_cannot_be_used_or_published_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--from-files", "/no/such/dir", str(FEEDS / "PROVENANCE.tsv")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "Error: /no/such/dir: no such file or directory",
        f"Error: {FEEDS / 'PROVENANCE.tsv'}: unsupported file type '.tsv'",
    ]
    assert main(["ingest", "--from-files", str(FEEDS / "aljazeera")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("Error: ") and "KafkaTimeoutError" in line for line in err)


def test_a_failed_feed_is_printed_and_the_round_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def poll_once(feeds: Any, **_: Any) -> PollReport:
        return PollReport(
            [
                PollOutcome("up", "new", published=3),
                PollOutcome("down", "failed", error="NetworkError: connection refused", error_kind="network"),
            ]
        )

    monkeypatch.setattr(connectors, "poll_once", poll_once)
    monkeypatch.setattr(FullTextRouter, "kafka", classmethod(lambda cls, *a, **k: _Down()))
    assert main(["ingest"]) == 1
    captured = capsys.readouterr()
    assert "published=3 failed=1" in captured.out
    assert captured.err.splitlines() == ["Error: feed down: NetworkError: connection refused"]
