"""`rasd alerts`: recent alerts newest first, with evidence, other sources and delivery outcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.alerts.deliveries import DeliveryLog, DeliveryOutcome
from pipeline.alerts.store import AlertStore
from pipeline.cli.main import main
from pipeline.models import Alert, Evidence


def _alert(n: int, watch: str, minutes_ago: int) -> Alert:
    return Alert(
        id=Alert.make_id(watch, f"story{n}"),
        watch_id=watch,
        watch_name=watch.title(),
        article_id=f"{n:032d}",
        title=f"عنوان الخبر {n}",
        url=f"https://news.example/{n}",
        source="aljazeera",
        evidence=[Evidence(kind="entity", value="Q7747", surface="بوتين", snippet="قال بوتين إن", count=2)],
        created=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_no_alerts_yet(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts"]) == 0
    assert "no alerts yet" in capsys.readouterr().out


def test_lists_newest_first_with_evidence_sources_and_delivery(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = AlertStore(data_dir / "alerts.sqlite3")
    old, new = _alert(1, "putin", 30), _alert(2, "gaza", 5)
    for alert in (old, new):
        assert store.record(alert, ["jsonl"]) == "new"
    copy = old.model_copy(update={"article_id": "9" * 32, "source": "skynewsarabia"})
    assert store.record(copy) == "merged"
    store.close()
    log = DeliveryLog(data_dir / "deliveries.sqlite3")
    now = datetime.now(UTC)
    log.record(
        old.id, [DeliveryOutcome(channel="hook", status="failed", attempts=4, error="503", finished=now)]
    )
    log.close()

    assert main(["alerts"]) == 0
    out = capsys.readouterr().out
    assert out.index("عنوان الخبر 2") < out.index("عنوان الخبر 1")  # newest first
    assert "entity: Q7747 ×2  «بوتين»  قال بوتين إن" in out
    assert "also in: skynewsarabia" in out and "delivered: hook=failed" in out

    assert main(["alerts", "--watch", "putin", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["also"][0]["source"] == "skynewsarabia" and "بوتين" in line  # UTF-8, not \\u


@pytest.mark.parametrize("limit", ["-1", "0", "x"])
def test_a_limit_below_one_is_refused_not_read_as_all_or_none(
    data_dir: Path, limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = AlertStore(data_dir / "alerts.sqlite3")
    for n in range(3):
        assert store.record(_alert(n, "putin", n)) == "new"
    store.close()
    with pytest.raises(SystemExit) as exit_:
        main(["alerts", "--json", "--limit", limit])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and "--limit" in err and "≥ 1" in err and out == ""
    assert main(["alerts", "--json", "--limit", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
