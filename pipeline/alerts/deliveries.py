"""Durable record of every delivery outcome (SQLite under the data dir), so failures can be listed later.

One row per (alert, channel, delivery run): a redelivered alert adds rows rather than overwriting them,
and `failed` lists only failures that no later success for the same alert and channel has made good.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pipeline import sqlite_files
from pipeline.models import utcnow

__all__ = ["DeliveryLog", "DeliveryOutcome", "DeliveryRecord", "DeliveryStatus"]

DeliveryStatus = Literal["ok", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    attempts INTEGER NOT NULL,
    error TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_alert ON deliveries(alert_id, channel);
CREATE INDEX IF NOT EXISTS deliveries_status_at ON deliveries(status, at);
"""


class DeliveryOutcome(BaseModel):
    """How delivering one alert to one channel ended, after all its attempts."""

    model_config = ConfigDict(frozen=True)

    channel: str
    status: DeliveryStatus
    attempts: int = Field(ge=0, description="0 when the channel was never tried (unknown channel)")
    error: str | None = None
    finished: AwareDatetime = Field(default_factory=utcnow)


class DeliveryRecord(DeliveryOutcome):
    """A stored outcome, with the alert it belongs to."""

    alert_id: str


class DeliveryLog:
    """Delivery outcomes by alert; safe to share between threads and with a CLI process (WAL)."""

    def __init__(self, path: Path | str) -> None:
        with sqlite_files.named(path, "delivery log"):
            self._db = sqlite_files.connect(path)
            self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def record(
        self, alert_id: str, outcomes: Mapping[str, DeliveryOutcome] | Iterable[DeliveryOutcome]
    ) -> None:
        """Store the outcomes of one delivery run (the dict `Deliverer.deliver` returns, or any iterable)."""
        values = outcomes.values() if isinstance(outcomes, Mapping) else outcomes
        # one time zone, so the text column sorts in time order
        rows = [
            (alert_id, o.channel, o.status, o.attempts, o.error, o.finished.astimezone(UTC).isoformat())
            for o in values
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO deliveries(alert_id, channel, status, attempts, error, at) VALUES (?,?,?,?,?,?)",
                rows,
            )

    def for_alert(self, alert_id: str) -> list[DeliveryRecord]:
        """Every recorded outcome of one alert, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT alert_id, channel, status, attempts, error, at FROM deliveries"
                " WHERE alert_id = ? ORDER BY at, id",
                (alert_id,),
            ).fetchall()
        return [_record(r) for r in rows]

    def failed(self, limit: int = 50) -> list[DeliveryRecord]:
        """Newest failures not followed by a success for the same alert and channel."""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.alert_id, d.channel, d.status, d.attempts, d.error, d.at FROM deliveries d"
                " WHERE d.status = 'failed' AND NOT EXISTS ("
                "   SELECT 1 FROM deliveries ok WHERE ok.alert_id = d.alert_id AND ok.channel = d.channel"
                "   AND ok.status = 'ok' AND (ok.at > d.at OR (ok.at = d.at AND ok.id > d.id)))"
                " ORDER BY d.at DESC, d.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_record(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(row: tuple[str, str, str, int, str | None, str]) -> DeliveryRecord:
    alert_id, channel, status, attempts, error, at = row
    return DeliveryRecord.model_validate(
        {
            "alert_id": alert_id,
            "channel": channel,
            "status": status,
            "attempts": attempts,
            "error": error,
            "finished": datetime.fromisoformat(at),
        }
    )
