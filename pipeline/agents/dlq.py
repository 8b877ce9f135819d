"""Dead-lettering: Faust acknowledges an event whose agent raised, so failures are caught per message.

`dead_letter` never raises: a letter is cut to the record size limit (a payload that failed for its
size would fail again as a letter), and a letter the broker still refuses is logged with its key and
reason, so one failure cannot end the batch the others are in.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.models import DeadLetter
from pipeline.records import fit_letter
from pipeline.runtime import Runtime

__all__ = ["dead_letter"]

log = logging.getLogger("rasd.dlq")


async def dead_letter(
    dlq_topic: Any, runtime: Runtime, *, stage: str, exc: BaseException, key: str | None, payload: Any
) -> None:
    """Park one failed message with its reason on `articles.dlq`; the stream goes on."""
    letter = fit_letter(
        DeadLetter.from_failure(stage=stage, exc=exc, key=key, payload=payload),
        runtime.settings.max_record_bytes,
    )
    log.warning(
        "dead-lettered stage=%s key=%s error=%s: %s%s",
        stage,
        letter.key,
        letter.error_type,
        letter.error[:200],
        " (payload cut to fit)" if letter.payload_truncated else "",
    )
    try:
        await dlq_topic.send(key=(letter.key or "").encode() or None, value=letter.to_json())
    except Exception as send_exc:  # the letter is lost; the batch must not be
        runtime.counters.dead_letters_lost += 1
        log.error(
            "dead letter lost: stage=%s key=%s error=%s: %s; sending it failed: %s: %s",
            stage,
            letter.key,
            letter.error_type,
            letter.error[:200],
            type(send_exc).__name__,
            send_exc,
        )
        return
    runtime.counters.dead_lettered += 1
