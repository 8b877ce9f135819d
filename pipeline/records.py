"""Fitting messages into the broker's record size limit, so no stage fails on a large one.

Kafka refuses a record over `message.max.bytes` (about 1 MiB by default), and a refused record fails
its whole send: the connector would retry the same batch on every poll, and a worker would lose the
message outright (Faust acknowledges what its agent could not forward). Every producer of articles and
dead letters cuts to `settings.max_record_bytes` first:

* `fit_record`: an article's body, then summary, then title are cut until its JSON fits; entity
  mentions past the cut go with the text they point into (an enriched article with thousands of
  mentions is mostly mentions); the article is flagged `truncated`;
* `fit_letter` cuts a dead letter's parked payload and flags it (`payload_truncated`): a payload that
  failed for its size would fail again as a letter, and be lost.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Final

from pipeline.models import Article, DeadLetter

__all__ = ["DEFAULT_MAX_RECORD_BYTES", "fit_letter", "fit_record"]

log = logging.getLogger("rasd.records")

# below Kafka's 1 MiB default, leaving room for the key, headers and batch overhead
DEFAULT_MAX_RECORD_BYTES: Final = 900 * 1024
_FIT_ORDER: Final = ("body", "summary", "title")


def _json_len(text: str) -> int:
    """Bytes `text` takes inside a JSON string: escapes (a NUL is 6 bytes) make it more than its UTF-8."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def _shortened(text: str, excess: int, share: int) -> str:
    """`text` without about `excess` bytes of the record, cut in proportion to the `share` of the
    record that it accounts for; always shorter while there is text (measure again after)."""
    encoded = text.encode("utf-8")
    keep = max(0, len(encoded) - math.ceil(excess * len(encoded) / share))
    return encoded[:keep].decode("utf-8", errors="ignore")


def _cut(article: Article, name: str, text: str) -> Article:
    """`article` with field `name` set to `text` and the mentions that no longer point into it dropped."""
    mentions = [m for m in article.entities if m.field != name or m.end <= len(text)]
    return article.model_copy(update={name: text, "entities": mentions})


def fit_record(article: Article, max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Article:
    """`article` if its JSON fits in `max_bytes`; else a copy with body/summary/title cut to fit, flagged."""
    size = len(article.to_json())
    if size <= max_bytes:
        return article
    original = size
    fitted = article.model_copy(update={"truncated": True})
    for name in _FIT_ORDER:
        while size > max_bytes:
            text = str(getattr(fitted, name))
            if not text:
                break
            # the field's mentions (~150 bytes each) go with its text
            share = _json_len(text) + sum(150 for m in fitted.entities if m.field == name)
            fitted = _cut(fitted, name, _shortened(text, size - max_bytes, share).rstrip())
            size = len(fitted.to_json())
    log.warning(
        "record over the size limit truncated",
        extra={"article_id": article.id, "bytes": original, "fitted": size, "limit": max_bytes},
    )
    return fitted


def fit_letter(letter: DeadLetter, max_bytes: int) -> DeadLetter:
    """`letter` if its JSON fits in `max_bytes`; else a copy with its payload cut to fit, flagged."""
    size = len(letter.to_json())
    while size > max_bytes and letter.payload:
        text = letter.payload
        letter = letter.model_copy(
            update={"payload": _shortened(text, size - max_bytes, _json_len(text)), "payload_truncated": True}
        )
        size = len(letter.to_json())
    return letter
