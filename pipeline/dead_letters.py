"""Reading and replaying `articles.dlq`: what failed, why, and re-injecting it once the cause is fixed.

A dead letter keeps the original message and the stage that failed, so replay sends the payload back
to the topic that stage reads: an enrichment failure to `articles.raw`; index, alert and surge
failures to `articles.enriched` (downstream writes are upserts and alerts are deduplicated by id, so
a replay never duplicates). A payload that still is not a valid article (undecodable bytes, an
unknown schema version) is reported and left on the DLQ. Replay remembers how far it got per
partition in the data dir, so running it twice re-injects nothing twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from pipeline import topics
from pipeline.errors import BrokerError
from pipeline.models import Article, DeadLetter

__all__ = ["Letter", "ReplayReport", "read_letters", "replay", "replay_target"]

# the stage that failed → the topic whose consumer would process the payload again
_TARGETS = {
    "decode": topics.ARTICLES_RAW,
    "enrich": topics.ARTICLES_RAW,
    "index": topics.ARTICLES_ENRICHED,
    "index-decode": topics.ARTICLES_ENRICHED,
    "alert": topics.ARTICLES_ENRICHED,
    "alert-decode": topics.ARTICLES_ENRICHED,
    "surge": topics.ARTICLES_ENRICHED,
    "surge-decode": topics.ARTICLES_ENRICHED,
}


@dataclass(frozen=True)
class Letter:
    """A dead letter with where it sits on the DLQ (None when the record itself is unreadable)."""

    partition: int
    offset: int
    letter: DeadLetter | None
    raw: bytes


def replay_target(letter: DeadLetter) -> tuple[str, Article] | tuple[None, str]:
    """(topic, article) to re-inject, or (None, why not)."""
    topic = _TARGETS.get(letter.stage)
    if topic is None:
        return None, f"stage {letter.stage!r} has no replay target"
    if letter.payload_truncated:
        return None, "payload was cut to fit the record size limit: the original is lost (see the log)"
    try:
        return topic, Article.model_validate_json(letter.payload)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"payload is still not a valid article: {first}"


def _consumer(bootstrap: str) -> Any:
    try:
        return KafkaConsumer(
            bootstrap_servers=[s.strip() for s in bootstrap.split(",") if s.strip()],
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            consumer_timeout_ms=2000,
        )
    except KafkaError as exc:
        raise BrokerError(f"cannot read {topics.ARTICLES_DLQ} from {bootstrap}: {exc}") from exc


def read_letters(
    bootstrap: str, start: dict[int, int] | None = None, *, timeout_s: float = 30.0
) -> Iterator[Letter]:
    """Every record on the DLQ from `start` (partition → offset; the beginning when absent) until
    the reader has caught up (the end offsets seen at the start are reached and two polls bring
    nothing; end offsets alone are not trusted: the embedded broker under-reports them), or until
    `timeout_s`, so a DLQ that keeps growing still ends the read."""
    consumer = _consumer(bootstrap)
    try:
        parts = consumer.partitions_for_topic(topics.ARTICLES_DLQ) or set()
        assigned = [TopicPartition(topics.ARTICLES_DLQ, p) for p in sorted(parts)]
        if not assigned:
            return
        consumer.assign(assigned)
        ends: dict[TopicPartition, int] = consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        deadline = time.monotonic() + timeout_s
        idle = 0
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    yield Letter(record.partition, record.offset, _decode(record.value), record.value or b"")
            behind = any(consumer.position(tp) < ends[tp] for tp in assigned)
            idle = 0 if batch or behind else idle + 1
            if idle >= 2:  # caught up: nothing new for two polls
                break
    except KafkaError as exc:
        raise BrokerError(f"reading {topics.ARTICLES_DLQ}: {exc}") from exc
    finally:
        consumer.close()


def _decode(value: bytes | None) -> DeadLetter | None:
    try:
        return DeadLetter.model_validate_json(value or b"")
    except (ValidationError, ValueError):
        return None


@dataclass
class ReplayReport:
    replayed: list[tuple[str, str]]  # (article id, topic)
    skipped: list[tuple[int, int, str]]  # (partition, offset, why)
    next_offsets: dict[int, int]


class _Sink:
    """Where replayed articles go: one `KafkaPublisher` per target topic."""

    def __init__(self, bootstrap: str) -> None:
        from connectors.produce import KafkaPublisher

        self._bootstrap = bootstrap
        self._factory = KafkaPublisher
        self._open: dict[str, Any] = {}

    def send(self, topic: str, article: Article) -> None:
        if topic not in self._open:
            self._open[topic] = self._factory(self._bootstrap, topic)
        self._open[topic].publish([article])

    def close(self) -> None:
        for publisher in self._open.values():
            publisher.close()


def load_offsets(path: Path) -> dict[int, int]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(k): int(v) for k, v in data.items()}


def save_offsets(path: Path, offsets: dict[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({str(k): v for k, v in sorted(offsets.items())}), encoding="utf-8")
    tmp.replace(path)


def replay(
    bootstrap: str,
    offsets_path: Path,
    *,
    stages: Sequence[str] = (),
    dry_run: bool = False,
    from_start: bool = False,
) -> ReplayReport:
    """Re-inject dead letters not replayed before (optionally only some stages); saves progress."""
    start = {} if from_start else load_offsets(offsets_path)
    report = ReplayReport(replayed=[], skipped=[], next_offsets=dict(start))
    sink = None if dry_run else _Sink(bootstrap)
    try:
        for item in read_letters(bootstrap, start):
            report.next_offsets[item.partition] = item.offset + 1
            if item.letter is None:
                report.skipped.append((item.partition, item.offset, "not a dead letter record"))
                continue
            if stages and item.letter.stage not in stages:
                report.skipped.append(
                    (item.partition, item.offset, f"stage {item.letter.stage} not selected")
                )
                continue
            topic, found = replay_target(item.letter)
            if topic is None:
                report.skipped.append((item.partition, item.offset, str(found)))
                continue
            assert isinstance(found, Article)
            if sink is not None:
                sink.send(topic, found)
            report.replayed.append((found.id, topic))
    finally:
        if sink is not None:
            sink.close()
    if not dry_run and not stages:  # a filtered replay leaves the other stages' letters for later
        save_offsets(offsets_path, report.next_offsets)
    return report
