"""Every Kafka topic Rasd uses, in one place. Keys are article ids (alert ids on `alerts`).

`rasd.surge.mentions` is keyed by surge subject (`entity:<id>` / `topic:<id>`), so one subject's
counts live in one partition; Faust also creates the changelog topics of the surge tables itself.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALERTS",
    "ALL_TOPICS",
    "ARTICLES_DLQ",
    "ARTICLES_ENRICHED",
    "ARTICLES_RAW",
    "SURGE_MENTIONS",
]

ARTICLES_RAW: Final = "articles.raw"
ARTICLES_ENRICHED: Final = "articles.enriched"
ARTICLES_DLQ: Final = "articles.dlq"
ALERTS: Final = "alerts"
SURGE_MENTIONS: Final = "rasd.surge.mentions"

ALL_TOPICS: Final = (ARTICLES_RAW, ARTICLES_ENRICHED, ARTICLES_DLQ, ALERTS, SURGE_MENTIONS)
