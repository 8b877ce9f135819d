"""Per-host politeness with an injected clock: spacing and concurrency are checked, nothing sleeps."""

from __future__ import annotations

import asyncio

from connectors.fulltext.politeness import HostGate


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _run_requests(gate: HostGate, t: FakeTime, hosts: list[str], work: float = 0.0) -> dict[str, object]:
    starts: dict[str, list[float]] = {}
    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def request(host: str) -> None:
        async with gate.slot(host):
            starts.setdefault(host, []).append(t.now)
            active[host] = active.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), active[host])
            for _ in range(3):  # let the others run while this request is "in flight"
                await asyncio.sleep(0)
            t.now += work
            active[host] -= 1

    async def go() -> None:
        await asyncio.gather(*(request(h) for h in hosts))

    asyncio.run(go())
    return {"starts": starts, "peak": peak}


def test_one_request_at_a_time_per_host_spaced_by_the_delay() -> None:
    t = FakeTime()
    gate = HostGate(delay_s=2.0, per_host=1, clock=t.clock, sleep=t.sleep)
    result = _run_requests(gate, t, ["a.example"] * 4)
    starts = result["starts"]["a.example"]  # type: ignore[index]
    assert starts == [0.0, 2.0, 4.0, 6.0]
    assert result["peak"] == {"a.example": 1}


def test_other_hosts_are_not_held_up() -> None:
    t = FakeTime()
    gate = HostGate(delay_s=5.0, per_host=1, clock=t.clock, sleep=t.sleep)
    result = _run_requests(gate, t, ["a.example", "a.example", "b.example"])
    starts = result["starts"]
    assert starts["b.example"] == [0.0]  # type: ignore[index]
    assert starts["a.example"] == [0.0, 5.0]  # type: ignore[index]


def test_a_crawl_delay_longer_than_the_default_is_honoured() -> None:
    t = FakeTime()
    gate = HostGate(delay_s=1.0, per_host=1, clock=t.clock, sleep=t.sleep)
    starts: list[float] = []

    async def go() -> None:
        for _ in range(3):
            async with gate.slot("A.example", delay_s=10.0):
                starts.append(t.now)

    asyncio.run(go())
    assert starts == [0.0, 10.0, 20.0]


def test_slow_requests_need_no_extra_wait() -> None:
    t = FakeTime()
    gate = HostGate(delay_s=1.0, per_host=1, clock=t.clock, sleep=t.sleep)
    result = _run_requests(gate, t, ["a.example"] * 3, work=3.0)
    assert result["starts"]["a.example"] == [0.0, 3.0, 6.0]  # type: ignore[index]
    assert t.sleeps == []  # the delay had passed by the time each slot freed


def test_per_host_concurrency_above_one() -> None:
    t = FakeTime()
    gate = HostGate(delay_s=0.0, per_host=2, clock=t.clock, sleep=t.sleep)
    result = _run_requests(gate, t, ["a.example"] * 5)
    assert result["peak"] == {"a.example": 2}


def test_idle_hosts_are_forgotten_past_the_bound() -> None:
    t = FakeTime()
    gate = HostGate(delay_s=1.0, clock=t.clock, sleep=t.sleep, max_hosts=3)

    async def go() -> None:
        for i in range(10):
            async with gate.slot(f"h{i}.example"):
                pass
            t.now += 2.0

    asyncio.run(go())
    assert gate.hosts <= 3
