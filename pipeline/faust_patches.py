"""Workarounds for Faust and aiokafka behaviours that lose or delay records, applied before the app
is built. Each wraps one method, keeps the original as `__wrapped__` (applying twice replaces the
wrapper instead of stacking it) and says what it guards against and where that was seen.

The consumer guards hold one invariant between them: the group commits only offsets this worker
processed in the current generation, and a fetch position never moves past records no agent saw.
"""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = [
    "apply",
    "fetched_past",
    "head_hole",
    "hold_commit_at_holes",
    "is_stale_ack",
    "limit_fetch_wait",
    "refuse_stale_acks",
    "reread_skipped_records",
    "rewind_uncommitted_partitions",
    "skipped_from",
]

log = logging.getLogger("rasd.consumer")


def apply(*, fetch_max_wait_ms: int) -> None:
    """Install every workaround (idempotent)."""
    limit_fetch_wait(fetch_max_wait_ms)
    rewind_uncommitted_partitions()
    refuse_stale_acks()
    hold_commit_at_holes()
    reread_skipped_records()


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Make Faust's consumers ask the broker to answer a fetch within `max_wait_ms`.

    Faust builds its aiokafka consumers with a hard-coded `fetch_max_wait_ms=1500`; a broker that
    holds a fetch until that wait runs out when little data is waiting (measured with the embedded
    broker: about 450 ms a fetch) adds that to every hop of the pipeline. Measured on one Faust hop:
    p50 590 ms before, 134 ms with 100 ms. The consumer reads the value when it starts, so setting it
    on the freshly built consumer is enough; only Faust's worker consumers are touched.
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    create = AIOKafkaConsumerThread._create_worker_consumer
    original = getattr(create, "__wrapped__", create)

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms
        return consumer

    _create_worker_consumer.__wrapped__ = original  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def rewind_uncommitted_partitions() -> None:
    """When Faust seeks to the committed offsets (after each rebalance, before the flow resumes),
    send every assigned source partition that has no committed offset (or offset 0) to its
    beginning, instead of leaving it wherever the fetcher happens to be.

    Why: Faust hands its *live* set of active partitions to aiokafka's `fetched_records`, on the
    consumer thread. A rebalance clears and pauses that set while a fetch is waiting; aiokafka reads an
    empty set as "every partition" and returns (and marks consumed) all buffered records, including
    those of a partition just taken over from a dead worker; Faust then drops them because the flow is
    stopped. Faust repairs that with `perform_seek` (seek to the committed offsets) before it resumes
    the flow, but aiokafka's `seek_to_committed` skips a partition whose committed offset is missing or
    0, so such a partition silently resumes after the dropped records (seen: the survivor resumed
    `articles.raw[0]` at offset 70 with nothing committed, skipping 0..69, then committed 71). With
    `consumer_auto_offset_reset="earliest"` the committed position of such a partition *is* its
    beginning, so seeking there is what `perform_seek` means (at-least-once: processed but uncommitted
    records are redone, as for a committed partition). Table changelog partitions are left to the
    table recovery, which positions them itself.

    Such a partition is reported as committed at 0, so that Faust records 0 as its read offset and
    `reread_skipped_records` guards it too: a fetch that straddled this seek can still return later
    records first, and with no read offset (None) the hole went unnoticed. Faust keeps no committed
    offset for it either way (it stores 0 as None). Where the log no longer starts at 0, the guard's
    seek back finds the records gone and lets the first one through with a warning.
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    seek = AIOKafkaConsumerThread.seek_to_committed
    original = getattr(seek, "__wrapped__", seek)

    async def seek_to_committed(self: Any) -> Any:
        committed = await original(self)
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            rewind = [
                tp
                for tp, offset in committed.items()
                if not offset and not self.consumer._is_changelog_tp(tp)
            ]
            # read by `hold_commit_at_holes`: Faust keeps None, not 0, as their committed offset
            self.consumer._rasd_rewound = set(rewind)
            if rewind:
                await self.call_thread(self._ensure_consumer().seek_to_beginning, *rewind)
                return {**committed, **dict.fromkeys(rewind, 0)}
        return committed

    seek_to_committed.__wrapped__ = original  # type: ignore[attr-defined]
    AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign]


def is_stale_ack(message_generation: int | None, current_generation: int, flow_active: bool) -> bool:
    """An acknowledgement that must not count towards the committed offset: the message was fetched
    in an earlier consumer generation, or the flow is stopped for a rebalance or shutdown."""
    return not flow_active or (message_generation is not None and message_generation != current_generation)


def refuse_stale_acks() -> None:
    """Make the consumer ignore acknowledgements of messages from an earlier generation, and those
    given while the flow is stopped.

    Why: a Faust stream that reads a message fetched before a rebalance (or while the flow is
    stopped) skips it and *acknowledges* it, so the commit moves past a record no agent processed;
    the acks arrive while the committed offsets are cleared for the rebalance, so nothing refuses
    them. After the rebalance every partition is read again from its committed offset, so refusing
    these acks costs at most a second processing of records handled across the rebalance (every write
    downstream is an upsert by id, alerts are keyed by (watch, story)), never a lost one.
    """
    from faust.transport.consumer import Consumer

    ack = Consumer.ack
    original = getattr(ack, "__wrapped__", ack)

    def guarded_ack(self: Any, message: Any) -> bool:
        app = self.app
        if is_stale_ack(message.generation_id, app.consumer_generation_id, app.flow_control.is_active()):
            return False
        return bool(original(self, message))

    guarded_ack.__wrapped__ = original  # type: ignore[attr-defined]
    Consumer.ack = guarded_ack  # type: ignore[method-assign]


def head_hole(committed: int | None, acked: list[int], gap_at_committed: bool) -> bool:
    """Whether the next offset to commit was never acknowledged though later ones were."""
    return committed is not None and bool(acked) and min(acked) > committed and not gap_at_committed


# how long a partition's commit is held at a hole before it is read again from there
HOLE_REREAD_S = 5.0


def hold_commit_at_holes() -> None:
    """Never let the commit pass an offset no agent acknowledged, and read a partition again from a
    hole that holds its commit.

    Why: Faust's `_new_offset` holds the commit when the acknowledged offsets start after the committed
    one, but tests `min(acked) - committed > 1`, which lets exactly one missing offset through: with 59
    committed (next to read) and 60, 61 acknowledged it commits 62, and 59 is never processed, not
    even after a restart (seen in CI: the survivor of the two-worker kill committed `articles.raw[0]`
    past 59). Here the commit waits while the committed offset itself is unacknowledged (a compacted
    range Faust recorded as a gap excepted), also for a partition sent to its beginning with nothing
    committed, which Faust leaves without a committed offset (its survivor had committed past 56..69
    that way). Records of a partition are acknowledged in order, so such a hole is a record whose
    acknowledgement was lost or refused (`refuse_stale_acks`); when the hole outlives
    `HOLE_REREAD_S`, `reread_skipped_records` seeks the partition back to it (the records after it
    come again: every write downstream is an upsert), unless retention has deleted it: then the
    deleted range is recorded as a gap, as Faust does for compacted ones, and the commit moves on.
    """
    from faust.transport.consumer import Consumer

    new_offset = Consumer._new_offset
    original = getattr(new_offset, "__wrapped__", new_offset)

    def guarded_new_offset(self: Any, tp: Any) -> int | None:
        committed = self._committed_offset[tp]
        if committed is None and tp in self.__dict__.get("_rasd_rewound", ()):
            committed = 0  # sent to its beginning by `rewind_uncommitted_partitions`
        holes: dict[Any, tuple[int, float]] = self.__dict__.setdefault("_rasd_holes", {})
        gap = committed is not None and bool(self._gap[tp].at(committed))
        if head_hole(committed, self._acked[tp], gap):
            if holes.get(tp, (None, 0.0))[0] != committed:
                holes[tp] = (committed, time.monotonic())
            return None
        holes.pop(tp, None)
        result: int | None = original(self, tp)
        return result

    guarded_new_offset.__wrapped__ = original  # type: ignore[attr-defined]
    Consumer._new_offset = guarded_new_offset  # type: ignore[method-assign]


async def _reread_hole(consumer: Any, tp: Any, offset: int) -> None:
    """Seek back to a held commit's unacknowledged offset, or record it as a gap if it is deleted."""
    try:
        earliest = (await consumer.earliest_offsets(tp)).get(tp)
        if earliest is not None and earliest > offset:
            # retention deleted it: a gap, as Faust records compacted ranges, so the commit moves on
            log.warning("%s: offsets %d..%d are gone from the log", tp, offset, earliest - 1)
            consumer._gap[tp].addi(offset, earliest)
            return
        log.warning("%s: offset %d was never acknowledged; reading from it again", tp, offset)
        await consumer.seek(tp, offset)
    except Exception:  # revoked meanwhile: its new owner starts at the committed offset
        log.warning("%s: reading again from %d failed", tp, offset, exc_info=True)


def skipped_from(read_offset: int | None, offset: int) -> int | None:
    """Where to read a partition again when `offset` arrives although the last offset handed to the
    agents (or the committed one, after a seek) is `read_offset`: records between them were fetched
    and dropped. None when the record follows on (or repeats one, which Faust drops itself)."""
    if read_offset is None or offset <= read_offset + 1:
        return None
    return read_offset


def fetched_past(read_offset: int | None, position: int | None) -> bool:
    """Whether a partition's fetch position is past the record after the last one delivered (or
    after the offset it was sought to): the records between are buffered, or were dropped."""
    return read_offset is not None and position is not None and position > read_offset + 1


# how often the fetch positions are compared with the read offsets
STALL_CHECK_S = 1.0


def _fetch_position(consumer: Any, tp: Any) -> int | None:
    """The partition's fetch position as aiokafka holds it, read without waiting: None while it is
    being reset or the partition is not assigned. (`Consumer.position` would wait for a reset in
    progress, up to the request timeout, on the consumer thread that also commits and seeks.)"""
    try:
        assignment = consumer._thread._ensure_consumer()._subscription.subscription.assignment
        state = assignment.state_value(tp) if assignment is not None else None
    except Exception:  # the consumer thread is not running (yet, or any more)
        return None
    return state.position if state is not None and state.has_valid_position else None


def _left_to_faust(consumer: Any, tp: Any) -> bool:
    """Table changelogs and topics without acks: Faust positions and commits them itself."""
    return bool(consumer._is_changelog_tp(tp) or not consumer.app.topics.acks_enabled_for(tp.topic))


async def _seek_back(consumer: Any, tp: Any, offset: int) -> None:
    try:
        await consumer.seek(tp, offset)
    except Exception:  # revoked meanwhile: its new owner starts at the committed offset
        log.warning("%s: seek back to %d failed", tp, offset, exc_info=True)


async def _reread_stalled(consumer: Any, read_offset: Any) -> None:
    """Seek back each partition fetched past records no agent saw, once it has delivered nothing
    for `HOLE_REREAD_S`: a hole with no later record behind it, which `skipped_from` cannot see."""
    now = time.monotonic()
    if now - consumer.__dict__.get("_rasd_stall_check", 0.0) < STALL_CHECK_S:
        return
    consumer._rasd_stall_check = now
    stalls: dict[Any, tuple[int, float]] = consumer.__dict__.setdefault("_rasd_stalls", {})
    try:
        assigned = consumer.assignment()
    except Exception:  # the consumer thread is not running (yet, or any more)
        return
    for tp in assigned:
        if _left_to_faust(consumer, tp):
            continue
        offset = read_offset.get(tp)
        position = _fetch_position(consumer, tp)
        if offset is None or position is None or not fetched_past(offset, position):
            stalls.pop(tp, None)
            continue
        seen = stalls.get(tp)
        if seen is None or seen[0] != offset:
            stalls[tp] = (offset, now)  # records are being delivered: only a standstill counts
        elif now - seen[1] >= HOLE_REREAD_S:
            del stalls[tp]
            log.warning(
                "%s: records %d..%d were fetched but never delivered; reading them again",
                tp,
                offset,
                position - 1,
            )
            await _seek_back(consumer, tp, offset)


def reread_skipped_records() -> None:
    """Seek a partition back when its records arrive with a hole since the last one delivered.

    Why: Faust's `getmany` drops fetched records in several places (the flow stopped or the
    generation changed in the middle of a batch, a partition missing from the active set when the
    fetch returns) and relies on a later seek to the committed offsets to fetch them again; a fetch
    that straddles the rebalance returns after that seek, so the position moves past records no
    agent saw. Faust then reads the hole as a compacted range and commits past it (seen once in CI,
    tests/faults/test_worker_crash.py: the survivor of a two-worker kill never processed
    `articles.raw[0]` 66..69 and committed 71). This wrapper compares each record with the
    partition's read offset before Faust does; on a hole it seeks back and drops the rest of that
    partition's batch, so the records come again in order (the one at the read offset may come
    twice). A hole that comes back at the same offset is real (retention deleted the records, or a
    compacted topic) and is let through with a warning. Table changelogs and topics without acks are
    left to Faust.

    Records are also held back while the flow is stopped: Faust's drain loop drops such a record
    (the hand-over loses to `suspend_flow`) yet records its offset as read, and after the rebalance's
    seek it drops the same record again as a repeat (seen in the fault tests: a survivor skipped 9
    records of its own partition and stalled with the commit held before them). A record whose
    hand-over the stop interrupted leaves the read offset where it was.

    A hole with no later record behind it shows no such jump: the position sits past records no
    agent saw until new traffic arrives (seen in the fault tests: the survivor of a kill left
    `articles.raw[1]` 15..54 unprocessed for 30 s, until a probe record came). So every second the
    fetch positions are compared with the read offsets, and a partition fetched past its read offset
    that delivers nothing for `HOLE_REREAD_S` is sought back too (`_reread_stalled`).
    """
    from faust.transport.consumer import Consumer

    getmany = Consumer.getmany
    original = getattr(getmany, "__wrapped__", getmany)

    async def guarded_getmany(self: Any, timeout: float) -> Any:
        rereads: dict[Any, int] = self.__dict__.setdefault("_rasd_rereads", {})
        seeking: set[Any] = set()
        stopped = self.suspend_flow.is_set
        read_offset = self._read_offset
        holes: dict[Any, tuple[int, float]] = self.__dict__.setdefault("_rasd_holes", {})
        for tp, (offset, since) in list(holes.items()):
            if time.monotonic() - since >= HOLE_REREAD_S and not stopped():
                del holes[tp]
                await _reread_hole(self, tp, offset)
        if not stopped():
            await _reread_stalled(self, read_offset)
        async for tp, message in original(self, timeout):
            if tp in seeking or stopped():
                # stopped: Faust's drain loop would drop the record yet count it as read, and then
                # drop it again, as a repeat, when the rebalance's seek fetches it once more
                continue
            restart = skipped_from(read_offset.get(tp), message.offset)
            if restart is not None and _left_to_faust(self, tp):
                restart = None
            if restart is None:
                if rereads:
                    rereads.pop(tp, None)  # back in order: a later hole at that offset is new
            elif rereads.get(tp) == restart:
                log.warning("%s: offsets %d..%d are gone from the log", tp, restart, message.offset - 1)
                rereads.pop(tp)
            else:
                log.warning(
                    "%s: records %d..%d were fetched but never delivered (rebalance); reading them again",
                    tp,
                    restart,
                    message.offset - 1,
                )
                rereads[tp] = restart
                seeking.add(tp)
                await _seek_back(self, tp, restart)
                continue
            before = read_offset.get(tp)
            yield tp, message
            if stopped():  # the flow stopped while Faust handed it over: it may have been dropped
                read_offset[tp] = before

    guarded_getmany.__wrapped__ = original  # type: ignore[attr-defined]
    Consumer.getmany = guarded_getmany  # type: ignore[method-assign]
