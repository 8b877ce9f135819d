"""Opening the data dir's SQLite files, which several processes (workers, CLI, API) share.

Every store keeps its file in WAL mode so readers never block the writer. Switching a new file to WAL
needs an exclusive lock, and SQLite answers that switch with "database is locked" at once, without
waiting on its busy handler, when another process opens the same fresh file at the same moment (seen
when two workers start together). The switch is persistent in the file, so `connect` first asks which
mode the file is in and retries the switch until `timeout_s` runs out.

A file that is not a SQLite database (truncated, overwritten, another program's) fails when it is first
read, with an error that names no file. The stores open theirs inside `named`, which turns that into a
`ConfigError` naming the file, so a command or worker says which file to move aside instead of printing
a traceback; the search index maps it to `SearchError` itself, as it does every SQLite error.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pipeline.errors import ConfigError

__all__ = ["connect", "named"]

IsolationLevel = Literal["DEFERRED", "IMMEDIATE", "EXCLUSIVE"] | None


def connect(
    path: Path | str,
    *,
    timeout_s: float = 10.0,
    isolation_level: IsolationLevel = "DEFERRED",
    page_size: int | None = None,
) -> sqlite3.Connection:
    """A connection to `path` (created with its folder), waiting up to `timeout_s` for other
    processes' locks (sqlite3's `timeout` is the busy timeout), in WAL mode unless it is `:memory:`;
    usable from any thread (each store serialises its own use). `page_size` applies to a file
    created here only: switching to WAL fixes the size of an empty one."""
    name = str(path)
    if name != ":memory:":
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(name, timeout=timeout_s, isolation_level=isolation_level, check_same_thread=False)
    try:
        if page_size is not None:
            db.execute(f"PRAGMA page_size = {int(page_size)}")
        if name != ":memory:":
            _ensure_wal(db, timeout_s)
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def named(path: Path | str, what: str = "SQLite file") -> Iterator[None]:
    """Within this block, a file that is no (intact) SQLite database is a `ConfigError` naming
    `path`; locks, full disks and I/O errors (`OperationalError`) pass through unchanged."""
    try:
        yield
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{what} {path} is damaged or not a SQLite database ({exc}); move it aside to start a new "
            "one (what it held is lost)"
        ) from exc


def _ensure_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            (mode,) = db.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() == "wal":
                return
            db.execute("PRAGMA journal_mode = WAL")  # answers the mode it got; one that cannot do WAL
            return  # (some network file systems) keeps its own
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
