"""Replacing a small state file so that a reader, or a crash, sees the old file or the new one.

The connector's feed state, the DLQ replay position and `rasd run`'s `broker.json` are read by other
processes while they are rewritten; a plain write would let them read half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync it, and rename it over `path` (creating the
    folder); the temp file is removed when anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
