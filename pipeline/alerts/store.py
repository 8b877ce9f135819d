"""Durable alert log (SQLite under the data dir): the record of what fired, deduplicated by alert id.

Exactly one alert per (watch, story): the id is derived from both, and `record` tells whether the
alert is new, a known story seen again from another source (merged into `also`), or a redelivery,
so neither a redelivered article nor a syndicated copy fires twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pipeline import sqlite_files
from pipeline.models import Alert, AlsoReported

log = logging.getLogger(__name__)

__all__ = ["AlertStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    watch_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts(created);
CREATE TABLE IF NOT EXISTS outbox (
    alert_id TEXT PRIMARY KEY,
    channels TEXT NOT NULL
);
"""
# added after the first release: who is delivering a row, and until when (a lease, so a crashed
# deliverer's rows are taken over)
_OUTBOX_CLAIMS = ("claimed_by TEXT", "claimed_until REAL")
# an outbox alert this build cannot read is offered again after this long (to a newer build, say)
UNREADABLE_RETRY_S = 300.0


class AlertStore:
    """Alerts by id; safe to share between the worker's threads and a CLI process (WAL)."""

    def __init__(self, path: Path | str) -> None:
        with sqlite_files.named(path, "alert store"):
            self._db = sqlite_files.connect(path)
            self._db.executescript(_SCHEMA)
            self._add_claim_columns()
        self._lock = threading.Lock()

    def _add_claim_columns(self) -> None:
        """Bring an outbox from before claims up to date; under a write lock, as another process
        opening the same file at the same moment would otherwise add the same column."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            have = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            for column in _OUTBOX_CLAIMS:
                if column.split()[0] not in have:
                    self._db.execute(f"ALTER TABLE outbox ADD COLUMN {column}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # SQLite has rolled back already after a full disk
                self._db.execute("ROLLBACK")
            raise

    def add(self, alert: Alert, channels: Sequence[str] = ()) -> bool:
        """Record the alert and queue it for delivery on `channels`; False when already recorded.

        The outbox row is written in the same transaction, so a crash never leaves an alert that
        is recorded but will not be delivered.
        """
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO alerts(id, created, watch_id, article_id, body) VALUES (?,?,?,?,?)",
                (
                    alert.id,
                    alert.created.isoformat(),
                    alert.watch_id,
                    alert.article_id,
                    alert.model_dump_json(),
                ),
            )
            if cur.rowcount != 1:
                return False
            if channels:
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox(alert_id, channels) VALUES (?, ?)",
                    (alert.id, json.dumps(list(channels))),
                )
            return True

    def pending(self, limit: int = 50) -> list[tuple[Alert, list[str]]]:
        """Alerts waiting for delivery, oldest first, with the channels to deliver them to."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.body, o.channels FROM outbox o JOIN alerts a ON a.id = o.alert_id"
                " ORDER BY a.created, a.rowid LIMIT ?",
                (limit,),
            ).fetchall()
        return [(Alert.model_validate_json(body), json.loads(channels)) for body, channels in rows]

    def claim(self, owner: str, limit: int = 50, lease_s: float = 30.0) -> list[tuple[Alert, list[str]]]:
        """Take up to `limit` outbox alerts nobody is delivering (or whose lease ran out) for `owner`.

        One UPDATE … RETURNING statement claims them, so two workers sharing the data dir never
        deliver the same alert; a worker that dies mid-delivery loses its claims after `lease_s`.
        """
        now = time.time()
        with self._lock, self._db:
            rows = self._db.execute(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE alert_id IN ("
                " SELECT alert_id FROM outbox WHERE claimed_until IS NULL OR claimed_until < ?"
                " ORDER BY rowid LIMIT ?) RETURNING alert_id, channels",
                (owner, now + lease_s, now, limit),
            ).fetchall()
            out = []
            for alert_id, channels in rows:
                body = self._db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
                if body is None:
                    continue
                try:
                    out.append((Alert.model_validate_json(body[0]), json.loads(channels)))
                except ValueError as exc:  # written by another build (a newer schema) or damaged
                    # left to a build that can read it: claimed by nobody for a while, not retried hot
                    self._db.execute(
                        "UPDATE outbox SET claimed_by = NULL, claimed_until = ? WHERE alert_id = ?",
                        (now + UNREADABLE_RETRY_S, alert_id),
                    )
                    log.warning("outbox alert %s unreadable by this build, skipped: %s", alert_id, exc)
        return sorted(out, key=lambda item: item[0].created)

    def renew(self, owner: str, alert_ids: Sequence[str], lease_s: float) -> int:
        """Extend `owner`'s claims on `alert_ids` by `lease_s` from now (a delivery still running);
        the number of claims extended. A claim another worker took over is left alone."""
        until = time.time() + lease_s
        with self._lock, self._db:
            cur = self._db.executemany(
                "UPDATE outbox SET claimed_until = ? WHERE alert_id = ? AND claimed_by = ?",
                [(until, i, owner) for i in alert_ids],
            )
            return cur.rowcount

    def delivered(self, alert_ids: Sequence[str]) -> None:
        """Take alerts off the outbox once every channel has an outcome (ok or failed)."""
        with self._lock, self._db:
            self._db.executemany("DELETE FROM outbox WHERE alert_id = ?", [(i,) for i in alert_ids])

    def record(self, alert: Alert, channels: Sequence[str] = ()) -> Literal["new", "merged", "seen"]:
        """Store a fresh alert, or fold another copy of an alerted story into the stored one."""
        if self.add(alert, channels):
            return "new"
        with self._lock, self._db:
            row = self._db.execute("SELECT body FROM alerts WHERE id = ?", (alert.id,)).fetchone()
            if row is None:
                return "seen"
            stored = Alert.model_validate_json(row[0])
            known = {stored.article_id, *(a.article_id for a in stored.also)}
            if alert.article_id in known:
                return "seen"
            also = AlsoReported(
                article_id=alert.article_id, source=alert.source, url=alert.url, title=alert.title
            )
            stored.also.append(also)
            self._db.execute("UPDATE alerts SET body = ? WHERE id = ?", (stored.model_dump_json(), alert.id))
            return "merged"

    def get(self, alert_id: str) -> Alert | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else Alert.model_validate_json(row[0])

    def has(self, alert_id: str) -> bool:
        """Whether this (watch, article) alert was already recorded."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)).fetchone() is not None

    def recent(self, limit: int = 20, watch_id: str | None = None) -> list[Alert]:
        """Newest first."""
        sql = "SELECT body FROM alerts"
        args: tuple[object, ...] = ()
        if watch_id:
            sql += " WHERE watch_id = ?"
            args = (watch_id,)
        sql += " ORDER BY created DESC, rowid DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [Alert.model_validate_json(r[0]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])

    def close(self) -> None:
        self._db.close()
