"""The built-in channels: the `rasd.alerts` log and the append-only JSONL alert file."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import threading
from collections import OrderedDict
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
    """Appends each alert as one UTF-8 JSON line (Arabic unescaped), off the event loop.

    A repeat of an alert already in the file's recent lines is skipped: an attempt that timed out may
    still have finished its write (a thread cannot be cancelled; a worker frozen past the attempt
    timeout is the plain case), and the retry must not append the alert a second time.
    """

    remember = 10_000  # alert ids kept to skip repeats
    tail_bytes = 1 << 20  # read once, on the first send, for the ids of alerts written before

    def __init__(self, path: Path, name: str = "jsonl") -> None:
        self.name = name
        self.path = path
        self._lock = threading.Lock()  # one line at a time, whichever thread writes it
        self._written: OrderedDict[str, None] | None = None

    def _append(self, alert_id: str, line: str) -> bool:
        with self._lock:
            written = self._recent_ids()
            if alert_id in written:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
            written[alert_id] = None
            while len(written) > self.remember:
                written.popitem(last=False)
            return True

    def _recent_ids(self) -> OrderedDict[str, None]:
        """Ids written by this channel, seeded from the end of the file (another process may have
        written there before a restart)."""
        if self._written is None:
            self._written = OrderedDict((i, None) for i in _tail_ids(self.path, self.tail_bytes))
        return self._written

    async def send(self, alert: Alert) -> None:
        """Append the alert; a full disk is transient, a read-only or forbidden path is not."""
        line = json.dumps(alert.model_dump(mode="json"), ensure_ascii=False) + "\n"
        try:
            appended = await asyncio.to_thread(self._append, alert.id, line)
        except OSError as exc:
            raise DeliveryError(
                f"cannot append to {self.path}: {exc}",
                channel=self.name,
                transient=exc.errno not in _PERMANENT_ERRNOS,
            ) from exc
        if not appended:
            log.info("alert %s is already in %s; not appended again", alert.id, self.path)


def _tail_ids(path: Path, limit: int) -> list[str]:
    """The `id` of each whole JSON line in the last `limit` bytes of `path` (none if it is missing)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - limit))
            data = fh.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    if size > limit:
        lines = lines[1:]  # the first one is cut
    ids = []
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            ids.append(record["id"])
    return ids
