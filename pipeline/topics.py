"""Every Kafka topic Rasd uses, in one place. Keys are article ids (alert ids on `alerts`).

`articles.fulltext` holds the articles whose feed text is short, on their way to `articles.raw` through
the full-text agent (`pipeline/agents/fulltext.py`), which fetches the linked page first.

`rasd.surge.mentions` is keyed by surge subject (`entity:<id>` / `topic:<id>`), so one subject's
counts live in one partition; Faust also creates the changelog topics of the surge tables itself.

`topic_plan(settings)` is the one description of how the topics are created (partitions,
replication, retention): `rasd topics create`, the embedded broker path (`ensure_topics`) and the
tests of the Kubernetes `KafkaTopic` manifests all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pipeline.settings import Settings

__all__ = [
    "ALERTS",
    "ALL_TOPICS",
    "ARTICLES_DLQ",
    "ARTICLES_ENRICHED",
    "ARTICLES_FULLTEXT",
    "ARTICLES_RAW",
    "SURGE_MENTIONS",
    "RetentionHours",
    "TopicSpec",
    "plan_topics",
    "topic_plan",
]

ARTICLES_RAW: Final = "articles.raw"
ARTICLES_FULLTEXT: Final = "articles.fulltext"
ARTICLES_ENRICHED: Final = "articles.enriched"
ARTICLES_DLQ: Final = "articles.dlq"
ALERTS: Final = "alerts"
SURGE_MENTIONS: Final = "rasd.surge.mentions"

ALL_TOPICS: Final = (ARTICLES_RAW, ARTICLES_ENRICHED, ARTICLES_DLQ, ALERTS, SURGE_MENTIONS, ARTICLES_FULLTEXT)

_MS_PER_HOUR: Final = 3_600_000


@dataclass(frozen=True)
class RetentionHours:
    """How long each topic keeps its messages, in hours (the `RASD_*_RETENTION_HOURS` settings).

    Raw and enriched articles are kept a week: long enough to replay into a new index or a fixed
    worker. Dead letters are kept a month, so a failure can still be inspected after a holiday.
    Alerts are the product, also a month. Surge mentions are only an input to windowed counts
    whose state lives in Faust changelog topics; two days covers twice a 1-day surge window.
    Articles waiting for their full text are kept as long as raw ones (`RASD_RAW_RETENTION_HOURS`).
    """

    raw: int = 168
    enriched: int = 168
    dlq: int = 720
    alerts: int = 720
    surge_mentions: int = 48
    fulltext: int = 168


@dataclass(frozen=True)
class TopicSpec:
    """One topic as Rasd creates it: name, partitions, replication factor and topic configs."""

    name: str
    partitions: int
    replication: int
    configs: Mapping[str, str] = field(default_factory=dict)

    @property
    def retention_ms(self) -> int | None:
        """`retention.ms` as a number, or None when the plan leaves it to the broker default."""
        value = self.configs.get("retention.ms")
        return int(value) if value is not None else None


def _delete_after(hours: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(hours * _MS_PER_HOUR)}


def plan_topics(
    *, partitions: int, replication: int, retention: RetentionHours | None = None
) -> tuple[TopicSpec, ...]:
    """The topics in `ALL_TOPICS` order, every one with the same partitions and replication.

    Every topic shares one partition count: a worker's agents consume `articles.raw`,
    `articles.enriched` and `rasd.surge.mentions` together, so one count sizes the consumer group.
    """
    r = retention or RetentionHours()
    hours = {
        ARTICLES_RAW: r.raw,
        ARTICLES_ENRICHED: r.enriched,
        ARTICLES_DLQ: r.dlq,
        ALERTS: r.alerts,
        SURGE_MENTIONS: r.surge_mentions,
        ARTICLES_FULLTEXT: r.fulltext,
    }
    return tuple(TopicSpec(name, partitions, replication, _delete_after(hours[name])) for name in ALL_TOPICS)


def topic_plan(settings: Settings) -> tuple[TopicSpec, ...]:
    """The topic plan for these settings (`RASD_TOPIC_*` and `RASD_*_RETENTION_HOURS`)."""
    return plan_topics(
        partitions=settings.topic_partitions,
        replication=settings.topic_replication,
        retention=RetentionHours(
            raw=settings.raw_retention_hours,
            enriched=settings.enriched_retention_hours,
            dlq=settings.dlq_retention_hours,
            alerts=settings.alerts_retention_hours,
            surge_mentions=settings.surge_retention_hours,
            fulltext=settings.raw_retention_hours,  # a queue in front of articles.raw: kept as long
        ),
    )
