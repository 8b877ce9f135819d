"""Run-time watch changes (SQLite under the data dir), layered over the watches of the config file.

`rasd watch add/pause/resume/rm` write here; a running worker polls `version()` every batch and
recompiles its watches when it moves, so changes reach it without a restart. A row holds a whole
watch (an addition, or an override of a config watch, e.g. paused) or a tombstone (`None`) that
keeps a config watch removed. `effective_watches` merges the two sources.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from pipeline import sqlite_files
from pipeline.models import Watch, dumps, utcnow

__all__ = ["WATCHES_FILE", "Origin", "WatchState", "WatchStore", "effective_watches"]

log = logging.getLogger("rasd.watches")

WATCHES_FILE = "watches.sqlite3"  # under the data dir
Origin = Literal["config", "runtime"]
WatchState = Literal["active", "paused", "removed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'removed')),
    body TEXT,
    updated TEXT NOT NULL
);
"""


class WatchStore:
    """Watch id → watch JSON or tombstone; safe to share between threads and processes (WAL)."""

    def __init__(self, path: Path | str) -> None:
        with sqlite_files.named(path, "watch store"):
            self._db = sqlite_files.connect(path, what="watch store")
            self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._writes = 0

    def _upsert(self, watch_id: str, state: WatchState, body: str | None) -> None:
        with self._lock:
            with self._db:
                self._db.execute(
                    """INSERT INTO watches(id, state, body, updated) VALUES (?, ?, ?, ?)
                       ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body,
                           updated = excluded.updated""",
                    (watch_id, state, body, utcnow().isoformat()),
                )
            self._writes += 1

    def put(self, watch: Watch) -> None:
        """Store a watch (new, or replacing/overriding one with the same id, tombstone included)."""
        self._upsert(watch.id, "paused" if watch.paused else "active", dumps(watch).decode())

    def pause(self, watch_id: str, base: Watch) -> None:
        """Store `base` (the effective watch) paused; for a config watch this is an override."""
        self.put(_same_id(watch_id, base).model_copy(update={"paused": True}))

    def resume(self, watch_id: str, base: Watch) -> None:
        """Store `base` (the effective watch) active again."""
        self.put(_same_id(watch_id, base).model_copy(update={"paused": False}))

    def remove(self, watch_id: str) -> None:
        """Leave a tombstone, so a watch of the config file stays removed too."""
        self._upsert(watch_id, "removed", None)

    def overrides(self) -> dict[str, Watch | None]:
        """Every stored change: the watch, or None for a removed one. Unreadable rows are skipped."""
        with self._lock:
            rows = self._db.execute("SELECT id, body FROM watches ORDER BY id").fetchall()
        out: dict[str, Watch | None] = {}
        for watch_id, body in rows:
            if body is None:
                out[watch_id] = None
                continue
            try:
                out[watch_id] = Watch.model_validate_json(body)
            except ValidationError as exc:  # written by another build: skip it, keep the rest working
                log.warning("stored watch %s cannot be read, ignored: %s", watch_id, exc)
        return out

    def version(self) -> int:
        """Changes whenever any connection (this one or another process's) commits a change.

        `PRAGMA data_version` moves on other connections' commits only, so this connection's own
        writes are counted on top. One cheap query: fine to call for every batch.
        """
        with self._lock:
            other: int = self._db.execute("PRAGMA data_version").fetchone()[0]
            return other + self._writes

    def close(self) -> None:
        self._db.close()


def _same_id(watch_id: str, base: Watch) -> Watch:
    if base.id != watch_id:
        raise ValueError(f"watch {watch_id!r}: the base given is watch {base.id!r}")
    return base


def effective_watches(
    config_watches: Sequence[Watch], overrides: Mapping[str, Watch | None]
) -> list[tuple[Watch, Origin]]:
    """The watches in force: config order first (overridden or removed as stored), then run-time
    additions sorted by id."""
    out: list[tuple[Watch, Origin]] = []
    config_ids = set()
    for watch in config_watches:
        config_ids.add(watch.id)
        if watch.id not in overrides:
            out.append((watch, "config"))
        elif (override := overrides[watch.id]) is not None:
            out.append((override, "config"))
    for watch_id in sorted(set(overrides) - config_ids):
        if (added := overrides[watch_id]) is not None:
            out.append((added, "runtime"))
    return out
