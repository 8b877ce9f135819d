"""URL → fetched-page result, on disk (`<RASD_DATA_DIR>/fulltext.sqlite3`), bounded in entries and age.

A redelivered article, a second feed linking the same page, or a restarted worker does not fetch the
page again. Values are JSON objects; entries older than `ttl_s` are misses and are swept, and past
`max_entries` the oldest are evicted. Safe to share between the agent's concurrent tasks (one lock).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline import sqlite_files

__all__ = ["PageCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    stored_at REAL NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_stored_at ON pages(stored_at);
"""


class PageCache:
    """A bounded URL cache; `max_entries=0` disables it."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_entries: int,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        with sqlite_files.named(path, "page cache"):
            self._db = sqlite_files.connect(path, isolation_level=None)
            self._db.executescript(_SCHEMA)
        self.hits = 0
        self.misses = 0

    def get(self, url: str) -> dict[str, Any] | None:
        """The value stored for `url`, if fresh."""
        if self.max_entries == 0:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM pages WHERE url = ? AND stored_at > ?", (url, self._clock() - self.ttl_s)
            ).fetchone()
        if row is None:
            self.misses += 1
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        self.hits += 1
        return value

    def put(self, url: str, value: dict[str, Any]) -> None:
        """Store (or replace) the value for `url`, then keep the cache within its bounds."""
        if self.max_entries == 0:
            return
        now = self._clock()
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO pages(url, stored_at, value) VALUES (?, ?, ?)", (url, now, text)
                )
                self._db.execute("DELETE FROM pages WHERE stored_at <= ?", (now - self.ttl_s,))
                self._db.execute(
                    "DELETE FROM pages WHERE url IN (SELECT url FROM pages ORDER BY stored_at DESC "
                    "LIMIT -1 OFFSET ?)",
                    (self.max_entries,),
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite has rolled back already after a full disk
                    self._db.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM pages").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
