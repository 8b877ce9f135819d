"""Alert delivery channels of the walking skeleton: the log and an append-only JSONL file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipeline.models import Alert

__all__ = ["deliver"]

log = logging.getLogger("rasd.alerts")


def _to_log(alert: Alert) -> None:
    ev = "; ".join(f"{e.kind}={e.value} «{e.surface}»" for e in alert.evidence)
    log.info(
        "ALERT watch=%s article=%s title=%s evidence=%s", alert.watch_id, alert.article_id, alert.title, ev
    )


def _to_jsonl(alert: Alert, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert.model_dump(mode="json"), ensure_ascii=False) + "\n")


def deliver(alert: Alert, channels: list[str], jsonl_path: Path) -> dict[str, str]:
    """Send to each channel; a failing channel is recorded and never stops the others."""
    outcome: dict[str, str] = {}
    for channel in channels:
        try:
            if channel == "log":
                _to_log(alert)
            elif channel == "jsonl":
                _to_jsonl(alert, jsonl_path)
            else:
                outcome[channel] = "unsupported channel"
                continue
            outcome[channel] = "ok"
        except OSError as exc:
            log.warning("alert delivery failed channel=%s alert=%s: %s", channel, alert.id, exc)
            outcome[channel] = f"failed: {exc}"
    return outcome
