"""The contract every alert channel meets, and the plain-text rendering they share.

A channel sends one alert once; retries, timeouts and concurrency belong to the dispatcher
(`pipeline.alerts.delivery.Deliverer`), so a channel only says whether a failure is worth retrying.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from pipeline.models import Alert, Evidence

__all__ = ["Channel", "evidence_line", "headline", "one_line", "plain_text", "truncate"]

_SPACES = re.compile(r"\s+")


@runtime_checkable
class Channel(Protocol):
    """One delivery target.

    `send` raises `DeliveryError(transient=True)` when a later attempt may succeed (timeouts, 5xx,
    429, refused connections) and `transient=False` when it cannot (4xx, bad credentials). Channels that
    hold connections may also define `async def aclose() -> None`; the dispatcher calls it on close.
    """

    name: str

    async def send(self, alert: Alert) -> None:
        """Deliver `alert` once, or raise `DeliveryError`."""
        ...


def one_line(text: str) -> str:
    """Collapse newlines and runs of spaces: headers and list items must stay on one line."""
    return _SPACES.sub(" ", text).strip()


def truncate(text: str, limit: int) -> str:
    """Cut to at most `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def headline(alert: Alert) -> str:
    """The watch's display name, or its id when it has none."""
    return one_line(alert.watch_name) or alert.watch_id


def evidence_line(evidence: Evidence, *, snippet_limit: int = 300) -> str:
    """`kind value «surface» snippet`, the one-line form every channel shows."""
    parts = [evidence.kind, one_line(evidence.value)]
    if evidence.surface:
        parts.append(f"«{one_line(evidence.surface)}»")
    if evidence.snippet:
        parts.append(truncate(one_line(evidence.snippet), snippet_limit))
    return " ".join(parts)


def plain_text(alert: Alert) -> str:
    """A readable plain-text body (e-mail, logs): watch, title, source, url, then the evidence."""
    lines = [
        f"Watch: {headline(alert)}",
        f"Title: {one_line(alert.title)}",
        f"Source: {alert.source}",
    ]
    if alert.url:
        lines.append(f"URL: {alert.url}")
    if alert.published is not None:
        lines.append(f"Published: {alert.published.isoformat()}")
    lines.append("")
    lines.append("Evidence:")
    lines.extend(f"- {evidence_line(e)}" for e in alert.evidence)
    lines.append("")
    lines.append(f"Alert id: {alert.id}")
    return "\n".join(lines) + "\n"
