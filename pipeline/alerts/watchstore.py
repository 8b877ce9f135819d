"""Run-time watch changes (SQLite under the data dir), layered over the watches of the config file.

`rasd watch add/pause/resume/rm` write here; a running worker polls `version()` every batch and
recompiles its watches when it moves, so changes reach it without a restart. A row holds a whole
watch (a run-time addition, or a replacement of a config watch), a state flag over a config watch
(paused, say: the config file's definition stays in force, so later edits of the file still apply),
or a tombstone that keeps a watch removed. A row written over a config watch is marked as such and
lives only as long as that config watch: when the file drops it, the row is ignored (and pruned at
the next change), never promoted to a run-time watch. `effective_watches` merges the two sources.

Every change is one `BEGIN IMMEDIATE` transaction that first checks the row is still as the caller
read it (`expect`), so of two users changing one watch at once the second gets `WatchConflict`
instead of silently overwriting the first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from pipeline import sqlite_files
from pipeline.errors import ConfigError
from pipeline.models import Watch, dumps, utcnow

__all__ = [
    "WATCHES_FILE",
    "Origin",
    "Revision",
    "StoredWatch",
    "WatchConflict",
    "WatchState",
    "WatchStore",
    "effective_watches",
    "override_of",
]

log = logging.getLogger("rasd.watches")

WATCHES_FILE = "watches.sqlite3"  # under the data dir
Origin = Literal["config", "runtime"]
WatchState = Literal["active", "paused", "removed"]
# a row exactly as read (state, body, of_config, updated); None when there was no row
Revision = tuple[str, str | None, int, str] | None

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'removed')),
    body TEXT,
    updated TEXT NOT NULL
);
"""
# added after the first release: 1 when the row was written over a watch of the config file
_OF_CONFIG = "of_config INTEGER NOT NULL DEFAULT 0"


class WatchConflict(ConfigError):
    """The watch changed between reading and writing it (another user, at the same moment)."""


@dataclass(frozen=True)
class StoredWatch:
    """One row. `watch` is a whole watch; None is a tombstone (state "removed") or, over a config
    watch, a bare state flag ("paused"/"active") that keeps the config file's definition."""

    watch: Watch | None
    state: WatchState
    of_config: bool = False
    revision: Revision = None


class WatchStore:
    """Watch id → stored change; safe to share between threads and processes (WAL)."""

    def __init__(self, path: Path | str) -> None:
        with sqlite_files.named(path, "watch store"):
            self._db = sqlite_files.connect(path)
            self._db.executescript(_SCHEMA)
            self._add_of_config_column()
        self._lock = threading.Lock()
        self._writes = 0

    def _add_of_config_column(self) -> None:
        """Bring a store from before `of_config` up to date (its rows count as run-time ones);
        under a write lock, as another process opening the file at once would add it too."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if "of_config" not in {row[1] for row in self._db.execute("PRAGMA table_info(watches)")}:
                self._db.execute(f"ALTER TABLE watches ADD COLUMN {_OF_CONFIG}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def write(
        self,
        watch_id: str,
        change: StoredWatch | None,
        *,
        expect: Revision | Literal["any"] = "any",
        config_ids: Collection[str] | None = None,
    ) -> None:
        """Store `change` for `watch_id` (None deletes the row) in one transaction.

        `expect` is the row as the caller read it (`StoredWatch.revision`, None for no row): when the
        row differs now, nothing is written and `WatchConflict` says so. With `config_ids` (the ids
        of the config file now), rows written over config watches the file no longer has are pruned.
        """
        if change is not None and change.watch is not None and change.watch.id != watch_id:
            raise ValueError(f"watch {watch_id!r}: the watch given is watch {change.watch.id!r}")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = self._db.execute(
                    "SELECT state, body, of_config, updated FROM watches WHERE id = ?", (watch_id,)
                ).fetchone()
                if expect != "any" and (tuple(now) if now else None) != expect:
                    raise WatchConflict(
                        f"watch {watch_id!r} was changed by someone else meanwhile; nothing stored: "
                        "check `rasd watch list` and try again"
                    )
                if change is None:
                    self._db.execute("DELETE FROM watches WHERE id = ?", (watch_id,))
                else:
                    body = dumps(change.watch).decode() if change.watch is not None else None
                    self._db.execute(
                        """INSERT INTO watches(id, state, body, of_config, updated) VALUES (?, ?, ?, ?, ?)
                           ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body,
                               of_config = excluded.of_config, updated = excluded.updated""",
                        (watch_id, change.state, body, int(change.of_config), utcnow().isoformat()),
                    )
                if config_ids is not None:
                    self._prune(config_ids)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._writes += 1

    def _prune(self, config_ids: Collection[str]) -> None:
        stale = [
            watch_id
            for (watch_id,) in self._db.execute("SELECT id FROM watches WHERE of_config = 1")
            if watch_id not in config_ids
        ]
        self._db.executemany("DELETE FROM watches WHERE id = ?", [(w,) for w in stale])

    def put(self, watch: Watch, *, of_config: bool = False) -> None:
        """Store a whole watch (new, or replacing one with the same id, tombstone included)."""
        self.write(watch.id, StoredWatch(watch, "paused" if watch.paused else "active", of_config))

    def remove(self, watch_id: str, *, of_config: bool = False) -> None:
        """Leave a tombstone, so a watch of the config file stays removed too."""
        self.write(watch_id, StoredWatch(None, "removed", of_config))

    def overrides(self) -> dict[str, StoredWatch]:
        """Every stored row by watch id. Rows this build cannot read are skipped."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, state, body, of_config, updated FROM watches ORDER BY id"
            ).fetchall()
        out: dict[str, StoredWatch] = {}
        for watch_id, state, body, of_config, updated in rows:
            revision: Revision = (state, body, of_config, updated)
            try:
                watch = None if body is None else Watch.model_validate_json(body)
            except ValidationError as exc:  # written by another build: skip it, keep the rest working
                log.warning("stored watch %s cannot be read, ignored: %s", watch_id, exc)
                continue
            out[watch_id] = StoredWatch(watch, state, bool(of_config), revision)
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


def override_of(config_watch: Watch, row: StoredWatch | None) -> Watch | None:
    """The config watch as a stored row leaves it in force: None when removed."""
    if row is None:
        return config_watch
    if row.state == "removed":
        return None
    if row.watch is None:  # a state flag: the file's definition, paused or not
        return config_watch.model_copy(update={"paused": row.state == "paused"})
    return row.watch


def effective_watches(
    config_watches: Sequence[Watch], overrides: Mapping[str, StoredWatch]
) -> list[tuple[Watch, Origin]]:
    """The watches in force: config order first (overridden or removed as stored), then run-time
    additions sorted by id. Rows written over a config watch the file no longer has are ignored."""
    out: list[tuple[Watch, Origin]] = []
    config_ids = set()
    for watch in config_watches:
        config_ids.add(watch.id)
        if (in_force := override_of(watch, overrides.get(watch.id))) is not None:
            out.append((in_force, "config"))
    for watch_id in sorted(set(overrides) - config_ids):
        row = overrides[watch_id]
        if row.watch is not None and not row.of_config:
            out.append((row.watch, "runtime"))
    return out
