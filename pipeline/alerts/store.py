"""Durable alert log (SQLite under the data dir): the record of what fired, deduplicated by alert id.

Exactly one alert per (watch, article): the id is derived from both, and `add` tells whether the
alert is new, so a redelivered article fires nothing twice.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from pipeline.models import Alert

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
"""


class AlertStore:
    """Alerts by id; safe to share between the worker's threads and a CLI process (WAL)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def add(self, alert: Alert) -> bool:
        """Record the alert; False when an alert with this id was already recorded."""
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
            return cur.rowcount == 1

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
