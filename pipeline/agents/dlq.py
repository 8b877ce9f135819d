"""Dead-lettering: Faust acknowledges an event whose agent raised, so failures are caught per message."""

from __future__ import annotations

import logging
from typing import Any

from pipeline.models import DeadLetter
from pipeline.runtime import Runtime

__all__ = ["dead_letter"]

log = logging.getLogger("rasd.dlq")


async def dead_letter(
    dlq_topic: Any, runtime: Runtime, *, stage: str, exc: BaseException, key: str | None, payload: Any
) -> None:
    """Park one failed message with its reason on `articles.dlq`; the stream goes on."""
    letter = DeadLetter.from_failure(stage=stage, exc=exc, key=key, payload=payload)
    runtime.counters.dead_lettered += 1
    log.warning(
        "dead-lettered stage=%s key=%s error=%s: %s", stage, key, letter.error_type, letter.error[:200]
    )
    await dlq_topic.send(key=(key or "").encode() or None, value=letter.to_json())
