"""The consumer guards in `pipeline.faust_patches`, on Faust's real consumer (no broker needed): acks
from an earlier generation or a stopped flow do not count towards the commit, and a partition whose
records arrive with a hole since the last one delivered is read again from there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer, ConsumerMessage
from faust.types import TP

from pipeline import faust_patches
from pipeline.faust_patches import (
    fetched_past,
    head_hole,
    hold_commit_at_holes,
    is_stale_ack,
    refuse_stale_acks,
    reread_skipped_records,
    rewind_uncommitted_partitions,
    skipped_from,
)

pytestmark = pytest.mark.anyio

RAW = TP("articles.raw", 0)
OTHER = TP("articles.raw", 1)


def _message(tp: TP, offset: int, generation: int | None = 3) -> ConsumerMessage:
    return ConsumerMessage(
        tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None, generation_id=generation
    )


async def _consumer() -> Any:
    app = faust.App("guards", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False)
    app.topics.add(app.topic(RAW.topic, value_type=bytes))
    await app.topics._update_indices()  # Faust's own bookkeeping of which topics take acks
    app.flow_control.resume()
    app.consumer_generation_id = 3
    return app.consumer


async def _guarded(monkeypatch: pytest.MonkeyPatch, batches: list[list[tuple[TP, int]]]) -> Any:
    """A consumer whose fetches return `batches` one after the other, behind `reread_skipped_records`."""

    async def fetched(self: Any, timeout: float) -> AsyncIterator[tuple[TP, ConsumerMessage]]:
        for tp, offset in batches.pop(0):
            yield tp, _message(tp, offset)

    monkeypatch.setattr(Consumer, "getmany", fetched)
    reread_skipped_records()
    return await _consumer()


@pytest.mark.parametrize(
    ("read_offset", "offset", "expected"),
    [
        (None, 9, None),  # nothing known yet (a fresh partition): Faust's rewind handles it
        (4, 5, None),  # the next record
        (4, 4, None),  # the committed offset after a seek
        (4, 2, None),  # a repeat: Faust drops it itself
        (4, 9, 4),  # 5..8 never delivered: read again from 4
        (0, 3, 0),
    ],
)
def test_a_hole_is_read_again_from_the_read_offset(
    read_offset: int | None, offset: int, expected: int | None
) -> None:
    assert skipped_from(read_offset, offset) == expected


def test_stale_acks() -> None:
    assert not is_stale_ack(3, 3, flow_active=True)
    assert not is_stale_ack(None, 3, flow_active=True)
    assert is_stale_ack(2, 3, flow_active=True)
    assert is_stale_ack(3, 3, flow_active=False)


async def test_acks_from_an_earlier_generation_or_a_stopped_flow_do_not_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Consumer, "ack", Consumer.ack)  # restored after the test
    refuse_stale_acks()
    consumer = await _consumer()

    assert consumer.ack(_message(RAW, 5)) is True
    assert consumer.ack(_message(RAW, 6, generation=2)) is False  # fetched before the rebalance
    consumer.app.flow_control.suspend()
    assert consumer.ack(_message(RAW, 7)) is False  # the flow is stopped for a rebalance
    consumer.app.flow_control.resume()
    assert consumer.ack(_message(RAW, 8)) is True
    assert consumer._acked[RAW] == [5, 8]
    assert consumer._new_offset(RAW) == 6  # the commit stops before 6, which nobody processed


async def test_a_partition_with_a_hole_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[tuple[TP, int]]] = [
        [(RAW, 5), (RAW, 6), (OTHER, 10), (RAW, 9), (RAW, 10), (OTHER, 11)],
        [(RAW, 6), (RAW, 7)],  # after the seek back
        [(RAW, 9)],  # a later rebalance seeks to 6 again and the same hole opens: read again too
    ]
    consumer = await _guarded(monkeypatch, batches)
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))
        consumer._read_offset[tp] = offset

    consumer.seek = seek
    consumer._read_offset.update({RAW: 4, OTHER: 9})

    async def drain() -> list[tuple[TP, int]]:  # what Faust's drain loop does with each record
        delivered = []
        async for tp, message in consumer.getmany(timeout=1.0):
            delivered.append((tp, message.offset))
            consumer._read_offset[tp] = message.offset
        return delivered

    assert await drain() == [(RAW, 5), (RAW, 6), (OTHER, 10), (OTHER, 11)]
    assert seeks == [(RAW, 6)]
    assert await drain() == [(RAW, 6), (RAW, 7)]  # 6 again (the read offset), then on in order
    consumer._read_offset[RAW] = 6
    assert await drain() == []
    assert seeks == [(RAW, 6), (RAW, 6)]


async def test_a_hole_that_comes_back_is_let_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records deleted by retention: the seek back lands on the same hole; no endless loop."""
    consumer = await _guarded(monkeypatch, [[(RAW, 50)], [(RAW, 50)]])
    seeks: list[int] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append(offset)

    consumer.seek = seek
    consumer._read_offset[RAW] = 4
    first = [m.offset async for _, m in consumer.getmany(timeout=1.0)]
    second = [m.offset async for _, m in consumer.getmany(timeout=1.0)]
    assert (first, second, seeks) == ([], [50], [4])


async def test_a_partition_rewound_to_its_beginning_is_guarded_from_offset_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A partition nobody committed is sent to its beginning and reported as committed at 0, so Faust
    keeps 0 as its read offset and a fetch that overtook the seek is caught as a hole."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    async def committed(self: Any) -> dict[TP, int | None]:
        return {RAW: None, OTHER: 7}

    monkeypatch.setattr(AIOKafkaConsumerThread, "seek_to_committed", committed)
    rewind_uncommitted_partitions()
    rewound: list[TP] = []

    async def call_thread(fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    thread = SimpleNamespace(
        app=SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset="earliest")),
        consumer=SimpleNamespace(_is_changelog_tp=lambda tp: False),
        _ensure_consumer=lambda: SimpleNamespace(seek_to_beginning=lambda *tps: rewound.extend(tps)),
        call_thread=call_thread,
    )
    positions = await AIOKafkaConsumerThread.seek_to_committed(thread)  # type: ignore[arg-type]
    assert rewound == [RAW] and positions == {RAW: 0, OTHER: 7}

    consumer = await _consumer()

    async def seek_to_committed() -> dict[TP, int]:
        return positions

    consumer.seek_to_committed = seek_to_committed
    await consumer.perform_seek()  # Faust's own bookkeeping after a rebalance
    assert consumer._read_offset[RAW] == 0 and consumer._committed_offset[RAW] is None
    assert skipped_from(consumer._read_offset[RAW], 5) == 0  # 1..4 overtaken: read again from 0


async def test_records_drained_while_the_flow_is_stopped_stay_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust's drain loop counts a record as read even when a stopped flow dropped it, and then drops
    the record's refetch as a repeat (seen in the fault tests: a survivor never processed 9 records of
    its own partition, processed the next ones, and stalled with the commit held before them)."""
    consumer = await _guarded(monkeypatch, [[(RAW, 5), (RAW, 6), (RAW, 7)], [(RAW, 6), (RAW, 7)]])
    consumer._read_offset[RAW] = 4

    async def drain(stop_at: int | None = None) -> list[int]:  # Faust's `_drain_messages`, in short
        delivered = []
        async for tp, message in consumer.getmany(timeout=1.0):
            read = consumer._read_offset[tp]
            if read is None or message.offset >= read:
                if message.offset == stop_at:
                    consumer.suspend_flow.set()  # a rebalance begins while this one is handed over
                if not consumer.suspend_flow.is_set():
                    delivered.append(message.offset)
                consumer._read_offset[tp] = message.offset  # whether delivered or not
        return delivered

    assert await drain(stop_at=6) == [5]
    assert consumer._read_offset[RAW] == 5  # 6 and 7 are not counted as read
    consumer.suspend_flow.clear()
    assert await drain() == [6, 7]


def test_head_hole() -> None:
    assert head_hole(59, [60, 61], gap_at_committed=False)
    assert not head_hole(59, [59, 61], gap_at_committed=False)
    assert not head_hole(59, [60, 61], gap_at_committed=True)  # a compacted range Faust recorded
    assert not head_hole(None, [60], gap_at_committed=False)  # nothing committed yet: left to Faust
    assert not head_hole(59, [], gap_at_committed=False)


async def test_the_commit_never_passes_an_offset_nobody_acknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Consumer, "_new_offset", Consumer._new_offset)  # restored after the test
    consumer = await _consumer()
    consumer._committed_offset[RAW] = 59
    consumer.ack(_message(RAW, 60))
    consumer.ack(_message(RAW, 61))
    assert Consumer._new_offset(consumer, RAW) == 62  # Faust alone lets one missing offset through
    consumer = await _consumer()
    consumer._committed_offset[RAW] = 59
    consumer.ack(_message(RAW, 60))
    consumer.ack(_message(RAW, 61))
    hold_commit_at_holes()
    assert consumer._new_offset(RAW) is None  # held at 59
    assert consumer._rasd_holes[RAW][0] == 59
    consumer.ack(_message(RAW, 59))  # read again and processed
    assert consumer._new_offset(RAW) == 62
    assert RAW not in consumer._rasd_holes
    consumer._committed_offset[OTHER] = 10
    consumer.ack(_message(OTHER, 11))
    consumer._gap[OTHER].addi(10, 11)  # offset 10 is gone (compacted): no hole to wait for
    assert consumer._new_offset(OTHER) == 12


async def _held_at_59(
    monkeypatch: pytest.MonkeyPatch, batches: list[list[tuple[TP, int]]], earliest: int
) -> tuple[Any, list[tuple[TP, int]]]:
    """A guarded consumer whose commit is held at 59 (60 and 61 acknowledged), and its seeks."""
    monkeypatch.setattr(Consumer, "_new_offset", Consumer._new_offset)  # restored after the test
    hold_commit_at_holes()
    consumer = await _guarded(monkeypatch, batches)
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))
        consumer._read_offset[tp] = offset

    async def earliest_offsets(*tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, earliest)

    consumer.seek = seek
    consumer.earliest_offsets = earliest_offsets
    consumer._read_offset[RAW] = 61
    consumer._committed_offset[RAW] = 59
    consumer.ack(_message(RAW, 60))
    consumer.ack(_message(RAW, 61))
    assert consumer._new_offset(RAW) is None
    return consumer, seeks


async def test_a_partition_held_at_a_hole_is_read_again_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer, seeks = await _held_at_59(monkeypatch, [[(RAW, 62)], [(RAW, 59), (RAW, 60)]], earliest=0)
    delivered = [(tp, m.offset) async for tp, m in consumer.getmany(timeout=1.0)]
    assert delivered == [(RAW, 62)] and seeks == []  # not yet: the hole is younger than HOLE_REREAD_S
    monkeypatch.setattr(faust_patches, "HOLE_REREAD_S", 0.0)
    delivered = [(tp, m.offset) async for tp, m in consumer.getmany(timeout=1.0)]
    assert seeks == [(RAW, 59)] and delivered == [(RAW, 59), (RAW, 60)]


async def test_a_held_offset_gone_from_the_log_releases_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention deleted the held record: no seek back, the deleted range is a gap and the commit moves on."""
    consumer, seeks = await _held_at_59(monkeypatch, [[(RAW, 62)]], earliest=60)  # 59 and before deleted
    monkeypatch.setattr(faust_patches, "HOLE_REREAD_S", 0.0)
    assert [(tp, m.offset) async for tp, m in consumer.getmany(timeout=1.0)] == [(RAW, 62)]
    assert seeks == []
    assert consumer._new_offset(RAW) == 62  # 59 is recorded as a gap


async def test_a_partition_rewound_with_nothing_committed_is_held_at_its_beginning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust keeps no committed offset for such a partition; its head hole was committed past."""
    monkeypatch.setattr(Consumer, "_new_offset", Consumer._new_offset)
    hold_commit_at_holes()
    consumer = await _consumer()
    consumer.ack(_message(RAW, 70))
    assert consumer._committed_offset[RAW] is None
    assert consumer._new_offset(RAW) == 71  # not known to be rewound: left to Faust
    consumer = await _consumer()
    consumer._rasd_rewound = {RAW}
    consumer.ack(_message(RAW, 70))
    assert consumer._new_offset(RAW) is None  # 0..69 were never acknowledged
    assert consumer._rasd_holes[RAW][0] == 0
    for offset in range(70):
        consumer.ack(_message(RAW, offset))
    assert consumer._new_offset(RAW) == 71


def test_fetched_past() -> None:
    assert not fetched_past(None, 9)  # nothing delivered or sought yet
    assert not fetched_past(14, None)
    assert not fetched_past(14, 15)  # the next record is the one to fetch
    assert fetched_past(14, 55)  # 15..54 fetched, not delivered


async def test_a_partition_fetched_past_undelivered_records_is_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The survivor of a kill sat at the end of `articles.raw[1]` past 15..54, which no agent saw, with
    no later record to reveal the hole: once nothing is delivered for HOLE_REREAD_S it seeks back."""
    consumer = await _guarded(monkeypatch, [[], [], [(RAW, 14), (RAW, 15)], []])
    positions = {RAW: 55, OTHER: 11}
    seeks: list[tuple[TP, int]] = []

    def position(consumer: Any, tp: TP) -> int:
        return positions[tp]

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))
        consumer._read_offset[tp] = offset

    consumer.assignment = lambda: {RAW, OTHER}
    monkeypatch.setattr(faust_patches, "_fetch_position", position)
    consumer.seek = seek
    consumer._read_offset.update({RAW: 14, OTHER: 10})  # OTHER is where it should be
    monkeypatch.setattr(faust_patches, "STALL_CHECK_S", 0.0)

    async def drain() -> list[tuple[TP, int]]:
        delivered = []
        async for tp, message in consumer.getmany(timeout=1.0):
            delivered.append((tp, message.offset))
            consumer._read_offset[tp] = message.offset
        return delivered

    assert await drain() == [] and seeks == []  # first sight: records may just be buffered
    monkeypatch.setattr(faust_patches, "HOLE_REREAD_S", 0.0)
    assert await drain() == [] and seeks == [(RAW, 14)]  # still nothing delivered: read again
    assert await drain() == [(RAW, 14), (RAW, 15)]
    positions[RAW] = 16
    assert await drain() == [] and seeks == [(RAW, 14)]  # caught up: nothing more to do


async def test_a_partition_still_delivering_is_not_sought_back(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = await _guarded(monkeypatch, [[(RAW, 15)], [(RAW, 16)]])
    seeks: list[tuple[TP, int]] = []

    def position(consumer: Any, tp: TP) -> int:
        return 40  # a full buffer ahead of the agents

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    consumer.assignment = lambda: {RAW}
    monkeypatch.setattr(faust_patches, "_fetch_position", position)
    consumer.seek = seek
    consumer._read_offset[RAW] = 14
    monkeypatch.setattr(faust_patches, "STALL_CHECK_S", 0.0)
    monkeypatch.setattr(faust_patches, "HOLE_REREAD_S", 0.0)
    for _ in range(2):
        async for tp, message in consumer.getmany(timeout=1.0):
            consumer._read_offset[tp] = message.offset
    assert seeks == []  # the read offset moved between the checks: records are flowing
