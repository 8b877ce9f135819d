"""Fitting messages into the broker's record size limit, so no stage fails on a large one.

Kafka refuses a record over `message.max.bytes` (about 1 MiB by default), and a refused record fails
its whole send: the connector would retry the same batch on every poll, and a worker would lose the
message outright (Faust acknowledges what its agent could not forward). Every producer of articles and
dead letters cuts to `settings.max_record_bytes` first:

* `fit_record`: an article's body, then summary, then title are cut until its JSON fits; entity
  mentions past the cut go with the text they point into (an enriched article with thousands of
  mentions is mostly mentions); the article is flagged `truncated`;
* `DeadLetter.from_failure(max_bytes=...)` cuts the parked payload and flags it (`payload_truncated`).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Final

from pipeline.models import Article

__all__ = ["DEFAULT_MAX_RECORD_BYTES", "fit_record"]

log = logging.getLogger("rasd.records")

# below Kafka's 1 MiB default, leaving room for the key, headers and batch overhead
DEFAULT_MAX_RECORD_BYTES: Final = 900 * 1024
_FIT_ORDER: Final = ("body", "summary", "title")


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
            encoded = text.encode("utf-8")
            if not encoded:
                break
            # escapes (and the field's mentions) make the JSON longer than the text's UTF-8: cut in
            # proportion to the whole record, then measure again
            in_json = len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2
            share = in_json + sum(150 for m in fitted.entities if m.field == name)
            keep = max(0, len(encoded) - math.ceil((size - max_bytes) * len(encoded) / share))
            fitted = _cut(fitted, name, encoded[:keep].decode("utf-8", errors="ignore").rstrip())
            size = len(fitted.to_json())
    log.warning(
        "record over the size limit truncated",
        extra={"article_id": article.id, "bytes": original, "fitted": size, "limit": max_bytes},
    )
    return fitted
