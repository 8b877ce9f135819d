"""Per-feed polling state on disk: validators, backoff and the ids already published.

One UTF-8 JSON file per feed (`<state_dir>/<feed_id>.json`), replaced atomically (temp file + fsync +
`os.replace`), so a crash leaves either the old or the new state, never half a file. The orchestrator
updates it only after a publish succeeded: losing a save re-publishes (harmless, ids are upserts), saving
too early would lose articles.

A corrupt file is set aside as `<name>.corrupt` and polling starts afresh rather than stopping the feed.

A feed is `gone` after a 410, or after `fetch_gone_after_404s` 404s in a row; it stays gone, unpolled, for
as long as its configuration is the one it had then (`gone_config`, a hash of the `FeedConfig`).

Seen ids and validators describe what the *broker* holds: `forget_published` drops them when that
broker is a new one (`rasd run`'s memory-only embedded broker), so nothing is skipped as "seen" that the
new broker never received.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pipeline.atomic import write_atomically
from pipeline.settings import Settings

__all__ = ["STATE_VERSION", "FeedState", "forget_published"]

STATE_VERSION: Final = 1
DEFAULT_MAX_SEEN: Final = 5000

logger = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _dt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any, default: int | None = None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass
class FeedState:
    """Mutable state of one feed; `save()` persists it."""

    path: Path
    max_seen: int = DEFAULT_MAX_SEEN
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    last_polled_at: datetime | None = None
    consecutive_failures: int = 0
    consecutive_not_found: int = 0
    next_poll_at: datetime | None = None
    gone: bool = False
    gone_config: str | None = None
    # insertion-ordered set: oldest first, so eviction drops the ids least recently seen
    _seen: dict[str, None] = field(default_factory=dict, repr=False)

    @classmethod
    def for_feed(cls, settings: Settings, feed_id: str) -> FeedState:
        """Load the state of `feed_id` from `settings.state_dir`."""
        # ids from replayed files are not validated like config ids: keep them inside state_dir
        safe = _UNSAFE.sub("_", feed_id).lstrip(".") or "_"
        # never remember fewer ids than one document may hold, or its oldest entries come back as new
        max_seen = max(settings.seen_ids_per_feed, settings.fetch_max_entries)
        return cls.load(settings.state_dir / f"{safe}.json", max_seen=max_seen)

    @classmethod
    def load(cls, path: Path, *, max_seen: int = DEFAULT_MAX_SEEN) -> FeedState:
        """Read a state file; a missing file is a fresh state, a corrupt one is set aside."""
        state = cls(path=path, max_seen=max_seen)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("state file is not a JSON object")
        except FileNotFoundError:
            return state
        except (OSError, ValueError) as exc:
            logger.warning(
                "feed state unreadable, starting afresh", extra={"path": str(path), "error": str(exc)}
            )
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(path.name + ".corrupt"))
            return state
        state.etag = _str(raw.get("etag"))
        state.last_modified = _str(raw.get("last_modified"))
        state.body_hash = _str(raw.get("body_hash"))
        state.last_status = _int(raw.get("last_status"))
        state.last_error = _str(raw.get("last_error"))
        state.last_error_kind = _str(raw.get("last_error_kind"))
        state.last_polled_at = _dt(raw.get("last_polled_at"))
        state.consecutive_failures = _int(raw.get("consecutive_failures"), 0) or 0
        state.consecutive_not_found = _int(raw.get("consecutive_not_found"), 0) or 0
        state.next_poll_at = _dt(raw.get("next_poll_at"))
        state.gone = raw.get("gone") is True
        state.gone_config = _str(raw.get("gone_config"))
        seen = raw.get("seen_ids")
        if isinstance(seen, list):
            state.mark_seen(s for s in seen if isinstance(s, str))
        return state

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; seen ids oldest first."""
        return {
            "version": STATE_VERSION,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "body_hash": self.body_hash,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "last_error_kind": self.last_error_kind,
            "last_polled_at": self.last_polled_at.isoformat() if self.last_polled_at else None,
            "consecutive_failures": self.consecutive_failures,
            "consecutive_not_found": self.consecutive_not_found,
            "next_poll_at": self.next_poll_at.isoformat() if self.next_poll_at else None,
            "gone": self.gone,
            "gone_config": self.gone_config,
            "seen_ids": list(self._seen),
        }

    def save(self) -> None:
        """Write atomically (`write_atomically`): a crash leaves the old state or the new one."""
        write_atomically(self.path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1).encode("utf-8"))

    @property
    def seen_ids(self) -> list[str]:
        """Seen ids, oldest first."""
        return list(self._seen)

    def is_seen(self, article_id: str) -> bool:
        """True when the id was published before (within the bounded memory)."""
        return article_id in self._seen

    def mark_seen(self, ids: Iterable[str]) -> None:
        """Remember ids (re-marking refreshes them); the oldest are evicted beyond `max_seen`."""
        for ident in ids:
            self._seen.pop(ident, None)
            self._seen[ident] = None
        excess = len(self._seen) - self.max_seen
        if excess > 0:
            for ident in list(self._seen)[:excess]:
                del self._seen[ident]

    def record_success(
        self,
        *,
        now: datetime,
        status: int,
        next_poll_at: datetime | None,
        etag: str | None = None,
        last_modified: str | None = None,
        body_hash: str | None = None,
        not_modified: bool = False,
    ) -> None:
        """A poll that ended well (200 or 304): reset the backoff and keep the new validators."""
        self.last_polled_at = now
        self.last_status = status
        self.last_error = None
        self.last_error_kind = None
        self.consecutive_failures = 0
        self.consecutive_not_found = 0
        self.next_poll_at = next_poll_at
        if not not_modified:
            self.etag = etag
            self.last_modified = last_modified
            self.body_hash = body_hash

    def record_failure(
        self, *, now: datetime, error: str, kind: str, next_poll_at: datetime, status: int | None = None
    ) -> None:
        """A failed poll: count it and schedule the retry; validators are kept for the next try."""
        self.last_polled_at = now
        self.last_status = status
        self.last_error = error[:500]
        self.last_error_kind = kind
        self.consecutive_failures += 1
        self.consecutive_not_found = self.consecutive_not_found + 1 if status == 404 else 0
        self.next_poll_at = next_poll_at

    def mark_gone(self, config_hash: str) -> None:
        """Stop polling this feed until its configuration no longer hashes to `config_hash`."""
        self.gone = True
        self.gone_config = config_hash
        self.next_poll_at = None

    def is_gone(self, config_hash: str) -> bool:
        """True while the feed is gone and its configuration is unchanged since it was marked."""
        return self.gone and self.gone_config == config_hash

    def forget_published(self) -> None:
        """Forget the seen ids and the validators (a 304 or the same body would hide every article);
        keep the back-off and `gone`, which describe the feed, not the broker."""
        self._seen.clear()
        self.etag = None
        self.last_modified = None
        self.body_hash = None

    def revive(self) -> None:
        """Forget that the feed was gone (its configuration changed): poll it afresh."""
        self.gone = False
        self.gone_config = None
        self.consecutive_failures = 0
        self.consecutive_not_found = 0
        self.next_poll_at = None


def forget_published(state_dir: Path) -> int:
    """`FeedState.forget_published` for every state file in `state_dir`; returns how many changed.

    For a fresh broker that holds none of the articles published before: they are published again
    (harmless, downstream writes are upserts and alert ids are deduplicated) instead of lost.
    """
    changed = 0
    for path in sorted(state_dir.glob("*.json")) if state_dir.is_dir() else []:
        state = FeedState.load(path)
        if state.seen_ids or state.etag or state.last_modified or state.body_hash:
            state.forget_published()
            state.save()
            changed += 1
    return changed
