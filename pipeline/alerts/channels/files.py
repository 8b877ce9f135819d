"""The built-in channels: the `rasd.alerts` log and the append-only JSONL alert file."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import threading
from pathlib import Path

from pipeline.alerts.channels.base import evidence_line, one_line
from pipeline.errors import DeliveryError
from pipeline.models import Alert

__all__ = ["JsonlChannel", "LogChannel"]

log = logging.getLogger("rasd.alerts")

# errors a retry cannot fix; anything else (disk full, I/O error) may pass
_PERMANENT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR})


class LogChannel:
    """Writes one INFO line per alert to the `rasd.alerts` logger."""

    def __init__(self, name: str = "log") -> None:
        self.name = name

    async def send(self, alert: Alert) -> None:
        """Log the alert; logging never fails the delivery."""
        evidence = "; ".join(evidence_line(e, snippet_limit=80) for e in alert.evidence)
        log.info(
            "ALERT watch=%s article=%s title=%s url=%s evidence=%s",
            alert.watch_id,
            alert.article_id,
            one_line(alert.title),
            alert.url or "-",
            evidence,
        )


class JsonlChannel:
    """Appends each alert as one UTF-8 JSON line (Arabic unescaped), off the event loop."""

    def __init__(self, path: Path, name: str = "jsonl") -> None:
        self.name = name
        self.path = path
        self._lock = threading.Lock()  # one line at a time, whichever thread writes it

    def _append(self, line: str) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)

    async def send(self, alert: Alert) -> None:
        """Append the alert; a full disk is transient, a read-only or forbidden path is not."""
        line = json.dumps(alert.model_dump(mode="json"), ensure_ascii=False) + "\n"
        try:
            await asyncio.to_thread(self._append, line)
        except OSError as exc:
            raise DeliveryError(
                f"cannot append to {self.path}: {exc}",
                channel=self.name,
                transient=exc.errno not in _PERMANENT_ERRNOS,
            ) from exc
