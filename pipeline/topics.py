"""Every Kafka topic Rasd uses, in one place. Keys are article ids (watch ids for `watches`)."""

from __future__ import annotations

from typing import Final

__all__ = ["ALERTS", "ALL_TOPICS", "ARTICLES_DLQ", "ARTICLES_ENRICHED", "ARTICLES_RAW", "WATCHES"]

ARTICLES_RAW: Final = "articles.raw"
ARTICLES_ENRICHED: Final = "articles.enriched"
ARTICLES_DLQ: Final = "articles.dlq"
ALERTS: Final = "alerts"
WATCHES: Final = "watches"

ALL_TOPICS: Final = (ARTICLES_RAW, ARTICLES_ENRICHED, ARTICLES_DLQ, ALERTS, WATCHES)
