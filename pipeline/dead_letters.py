"""Reading and replaying `articles.dlq`: what failed, why, and re-injecting it once the cause is fixed.

A dead letter keeps the original message and the stage that failed, so replay sends the payload back
to the topic that stage reads: an enrichment failure to `articles.raw`; a full-text failure to
`articles.fulltext`; index, alert and surge failures to `articles.enriched` (downstream writes are
upserts and alerts are deduplicated by id, so a replay never duplicates). A payload that still is not
a valid article (undecodable bytes, an unknown schema version) is reported and left on the DLQ.

Replay remembers per partition which letters it handled (`dlq-replayed.json` in the data dir), so
running it twice re-injects nothing twice, a `--stage` replay advances too, and an interrupted one
keeps what it sent. With the position it keeps a fingerprint of the last letter handled: a DLQ that
no longer holds that letter (a fresh embedded broker, a recreated topic) is read from its start
instead of from an offset that belonged to another log. One run reads up to the end offsets it saw
at its start, so letters its own replays make fail again wait for the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from kafka import TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from pipeline import topics
from pipeline.atomic import write_atomically
from pipeline.broker import end_offsets, open_reader
from pipeline.errors import BrokerError, ConfigError
from pipeline.models import Article, DeadLetter

__all__ = [
    "STAGES",
    "Letter",
    "PartitionProgress",
    "ReplayReport",
    "load_progress",
    "parse_progress",
    "read_letters",
    "replay",
    "replay_target",
    "save_progress",
]

log = logging.getLogger(__name__)

# the stage that failed → the topic whose consumer would process the payload again
_TARGETS = {
    "decode": topics.ARTICLES_RAW,
    "enrich": topics.ARTICLES_RAW,
    "fulltext": topics.ARTICLES_FULLTEXT,
    "fulltext-decode": topics.ARTICLES_FULLTEXT,  # back through the page fetch it never had
    "index": topics.ARTICLES_ENRICHED,
    "index-decode": topics.ARTICLES_ENRICHED,
    "alert": topics.ARTICLES_ENRICHED,
    "alert-decode": topics.ARTICLES_ENRICHED,
    "surge": topics.ARTICLES_ENRICHED,
    "surge-decode": topics.ARTICLES_ENRICHED,
}


STAGES: Final = frozenset(_TARGETS)
_CHECK_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True)
class Letter:
    """A dead letter with where it sits on the DLQ (None when the record itself is unreadable)."""

    partition: int
    offset: int
    letter: DeadLetter | None
    raw: bytes
    fingerprint: str = ""  # of the record itself: tells this log from another one with the same offsets


@dataclass
class PartitionProgress:
    """What replay handled in one partition: every offset below `next`, plus the offsets in `done`
    (letters a `--stage` replay handled past one it left); `check` = (offset, fingerprint) of the
    last letter handled, to recognise the same log next time."""

    next: int = 0
    done: set[int] = field(default_factory=set)
    check: tuple[int, str] | None = None

    def handled(self, offset: int) -> bool:
        return offset < self.next or offset in self.done

    def mark(self, offset: int, fingerprint: str) -> None:
        """Record one handled letter and advance `next` over the run of handled offsets."""
        if offset >= self.next:
            self.done.add(offset)
        while self.next in self.done:
            self.done.discard(self.next)
            self.next += 1
        if fingerprint and (self.check is None or offset >= self.check[0]):
            self.check = (offset, fingerprint)


def _fingerprint(record: Any) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for part in (str(record.timestamp).encode(), record.key or b"", record.value or b""):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


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
        return open_reader(bootstrap, consumer_timeout_ms=2000)
    except KafkaError as exc:
        raise BrokerError(f"cannot read {topics.ARTICLES_DLQ} from {bootstrap}: {exc}") from exc


def _same_log(consumer: Any, tp: TopicPartition, check: tuple[int, str], end: int) -> bool:
    """True unless the partition provably no longer holds the checked letter (it ends before it, or
    another record sits at its offset); a letter removed by retention cannot be checked: kept."""
    offset, expected = check
    if end <= offset:
        return False
    consumer.seek(tp, offset)
    deadline = time.monotonic() + _CHECK_TIMEOUT_S
    while time.monotonic() < deadline:
        records = consumer.poll(timeout_ms=300).get(tp, [])
        if records:
            first = records[0]
            return bool(first.offset != offset or _fingerprint(first) == expected)
    return True


def _stale(consumer: Any, tp: TopicPartition, state: PartitionProgress, end: int) -> bool:
    """The saved position is past the partition's end, or its checked letter is not there."""
    return state.next > end or (state.check is not None and not _same_log(consumer, tp, state.check, end))


def read_letters(
    bootstrap: str, progress: Mapping[int, PartitionProgress] | None = None, *, timeout_s: float = 30.0
) -> Iterator[Letter]:
    """The DLQ's records not handled yet per `progress` (all when None), up to the end offsets seen
    at the start: a DLQ that grows meanwhile (replayed letters failing again) still ends the read.

    A partition whose progress belongs to another log (see `PartitionProgress.check`) is read from its
    start, and its entry in `progress` is reset so the caller records the new log.
    """
    consumer = _consumer(bootstrap)
    progress = progress if progress is not None else {}
    try:
        parts = consumer.partitions_for_topic(topics.ARTICLES_DLQ) or set()
        assigned = [TopicPartition(topics.ARTICLES_DLQ, p) for p in sorted(parts)]
        if not assigned:
            return
        ends: dict[TopicPartition, int] = end_offsets(consumer, assigned, timeout=timeout_s)
        consumer.assign(assigned)
        for tp in assigned:  # every check first: its polls move the other partitions' positions too
            state = progress.get(tp.partition)
            if state is not None and _stale(consumer, tp, state, ends[tp]):
                log.warning(
                    "%s partition %d is not the log replay saw before (a fresh broker?): reading it "
                    "from the start",
                    topics.ARTICLES_DLQ,
                    tp.partition,
                )
                state.next, state.done, state.check = 0, set(), None
        for tp in assigned:
            state = progress.get(tp.partition)
            consumer.seek(tp, state.next if state else 0)
        deadline = time.monotonic() + timeout_s
        left = {tp for tp in assigned if consumer.position(tp) < ends[tp]}
        while left and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=300).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    state = progress.get(tp.partition)
                    if state is None or not state.handled(record.offset):
                        value = record.value or b""
                        yield Letter(tp.partition, record.offset, _decode(value), value, _fingerprint(record))
            left = {tp for tp in left if consumer.position(tp) < ends[tp]}
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
    replayed: list[tuple[str, str]] = field(default_factory=list)  # (article id, topic)
    skipped: list[tuple[int, int, str]] = field(default_factory=list)  # (partition, offset, why)
    next_offsets: dict[int, int] = field(default_factory=dict)


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


def _partition(value: Any) -> PartitionProgress:
    if isinstance(value, int) and not isinstance(value, bool):  # the first format: the next offset only
        return PartitionProgress(next=value)
    if not isinstance(value, dict):
        raise ValueError("a partition entry is neither an offset nor an object")
    check = value.get("check")
    return PartitionProgress(
        next=int(value.get("next", 0)),
        done={int(o) for o in value.get("done", [])},
        check=(int(check[0]), str(check[1])) if check else None,
    )


def parse_progress(text: str, source: Path) -> dict[int, PartitionProgress]:
    """The replay position saved in `source`; ConfigError naming the file when it is not one."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        entries = data.get("partitions", {}) if "version" in data else data
        if not isinstance(entries, dict):
            raise ValueError("'partitions' is not an object")
        return {int(k): _partition(v) for k, v in entries.items()}
    except (ValueError, TypeError, IndexError) as exc:
        raise ConfigError(
            f"{source} is not a saved DLQ replay position ({exc}); delete it to replay every letter "
            "again, or fix it"
        ) from exc


def load_progress(path: Path) -> dict[int, PartitionProgress]:
    """The saved replay position; empty when none was saved."""
    if not path.is_file():
        return {}
    return parse_progress(path.read_text(encoding="utf-8"), path)


def _dump(progress: Mapping[int, PartitionProgress]) -> str:
    partitions = {
        str(p): {"next": s.next, "done": sorted(s.done), "check": list(s.check) if s.check else None}
        for p, s in sorted(progress.items())
    }
    return json.dumps({"version": 2, "partitions": partitions})


def save_progress(path: Path, progress: Mapping[int, PartitionProgress]) -> None:
    """Write atomically (temp file, fsync, rename): a crash leaves the old position or the new one."""
    write_atomically(path, _dump(progress).encode("utf-8"))


def check_stages(stages: Sequence[str]) -> None:
    """ConfigError for a stage name no agent uses (a typo would otherwise select nothing, silently)."""
    unknown = sorted(set(stages) - STAGES)
    if unknown:
        raise ConfigError(f"unknown stage(s): {', '.join(unknown)}; known: {', '.join(sorted(STAGES))}")


def replay(
    bootstrap: str,
    offsets_path: Path,
    *,
    stages: Sequence[str] = (),
    dry_run: bool = False,
    from_start: bool = False,
    report: ReplayReport | None = None,
) -> ReplayReport:
    """Re-inject dead letters not replayed before (optionally only some stages).

    Progress is saved even when the run stops early (a publish error, Ctrl-C): every letter sent is
    recorded, so the next run resumes after it. Pass `report` to still see what was done then.
    """
    check_stages(stages)
    progress = {} if from_start else load_progress(offsets_path)
    report = report if report is not None else ReplayReport()
    sink = None if dry_run else _Sink(bootstrap)
    try:
        for item in read_letters(bootstrap, progress):
            state = progress.setdefault(item.partition, PartitionProgress())
            if item.letter is not None and stages and item.letter.stage not in stages:
                report.skipped.append(
                    (item.partition, item.offset, f"stage {item.letter.stage} not selected")
                )
                continue  # left for a replay of its own stage: not marked
            if item.letter is None:
                report.skipped.append((item.partition, item.offset, "not a dead letter record"))
            else:
                topic, found = replay_target(item.letter)
                if topic is None:
                    report.skipped.append((item.partition, item.offset, str(found)))
                else:
                    assert isinstance(found, Article)
                    if sink is not None:
                        sink.send(topic, found)
                    report.replayed.append((found.id, topic))
            state.mark(item.offset, item.fingerprint)
    finally:
        try:
            if sink is not None:
                sink.close()
        finally:
            report.next_offsets = {p: s.next for p, s in progress.items()}
            if not dry_run:
                save_progress(offsets_path, progress)
    return report
