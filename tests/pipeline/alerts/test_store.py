"""The alert store's outbox: delivered once even when several workers share the data dir."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeline.alerts.store import AlertStore
from pipeline.models import Alert, Evidence


def _alert(n: int) -> Alert:
    return Alert(
        id=Alert.make_id("w", f"story{n}"),
        watch_id="w",
        article_id=f"{n:032d}",
        title=f"خبر {n}",
        source="s",
        evidence=[Evidence(kind="word", value="هدنة", surface="الهدنة")],
    )


def test_two_stores_on_one_file_never_claim_the_same_alert(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    first, second = AlertStore(path), AlertStore(path)  # two worker processes
    for n in range(5):
        assert first.record(_alert(n), ["jsonl"]) == "new"
    a = first.claim("worker-a", limit=3)
    b = second.claim("worker-b", limit=10)
    assert len(a) == 3 and len(b) == 2
    assert {x.id for x, _ in a}.isdisjoint({x.id for x, _ in b})
    assert second.claim("worker-b") == []  # all claimed, none delivered yet
    first.delivered([x.id for x, _ in a])
    assert [ch for _, ch in b] == [["jsonl"], ["jsonl"]]


def test_a_dead_workers_claims_expire(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite3")
    store.record(_alert(1), ["log"])
    assert len(store.claim("dead", lease_s=-1)) == 1  # claimed, then the worker died (lease over)
    [(alert, _)] = store.claim("alive")
    assert alert.id == _alert(1).id
    store.delivered([alert.id])
    assert store.claim("alive", lease_s=-1) == []


def test_a_renewed_claim_outlives_its_first_lease(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite3")
    for n in (1, 2):
        store.record(_alert(n), ["log"])
    claimed = [a.id for a, _ in store.claim("slow", lease_s=-1)]  # lease over: delivery still running
    assert store.renew("elsewhere", claimed, lease_s=30) == 0  # only the owner renews
    assert store.renew("slow", claimed, lease_s=30) == 2
    assert store.claim("other") == []
    assert store.renew("slow", claimed, lease_s=-1) == 2
    assert sorted(a.id for a, _ in store.claim("other")) == sorted(claimed)
    assert store.renew("slow", claimed, lease_s=30) == 0  # taken over: the old owner cannot take it back


def test_an_outbox_from_before_claims_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE alerts (id TEXT PRIMARY KEY, created TEXT NOT NULL, watch_id TEXT NOT NULL,"
        " article_id TEXT NOT NULL, body TEXT NOT NULL);"
        "CREATE TABLE outbox (alert_id TEXT PRIMARY KEY, channels TEXT NOT NULL);"
    )
    alert = _alert(7)
    db.execute(
        "INSERT INTO alerts VALUES (?, ?, ?, ?, ?)",
        (alert.id, alert.created.isoformat(), "w", alert.article_id, alert.model_dump_json()),
    )
    db.execute("INSERT INTO outbox VALUES (?, ?)", (alert.id, '["log"]'))
    db.commit()
    db.close()
    [(claimed, channels)] = AlertStore(path).claim("w1")
    assert claimed.id == alert.id and channels == ["log"]


def test_an_unreadable_outbox_alert_is_skipped_and_offered_again_later(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite3")
    bad, good = _alert(1), _alert(2)
    store.record(bad, ["log"])
    store.record(good, ["log"])
    newer = bad.model_dump_json().replace('"schema_version":1', '"schema_version":2')  # a newer build's row
    with sqlite3.connect(tmp_path / "alerts.sqlite3") as db:
        db.execute("UPDATE alerts SET body = ? WHERE id = ?", (newer, bad.id))
    assert [a.id for a, _ in store.claim("me")] == [good.id]  # the readable one still goes out
    store.delivered([good.id])
    assert store.claim("me") == []  # not retried hot
    with sqlite3.connect(tmp_path / "alerts.sqlite3") as db:
        (until,) = db.execute("SELECT claimed_until FROM outbox WHERE alert_id = ?", (bad.id,)).fetchone()
        db.execute("UPDATE outbox SET claimed_until = 0 WHERE alert_id = ?", (bad.id,))  # time passes
    assert until is not None
    with sqlite3.connect(tmp_path / "alerts.sqlite3") as db:  # a build that reads it
        db.execute("UPDATE alerts SET body = ? WHERE id = ?", (bad.model_dump_json(), bad.id))
    assert [a.id for a, _ in store.claim("me")] == [bad.id]
