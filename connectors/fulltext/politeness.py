"""Per-host politeness: at most `per_host` requests at once to one host, starts spaced by a delay.

`async with gate.slot(host, delay_s=…)` waits for a free slot on that host and for the delay since the
previous request start there (the larger of the configured delay and a robots.txt `Crawl-delay`), then
lets the request run. Other hosts are never held up by a slow one. The clock and the sleep are injected so
tests check the spacing without sleeping. Memory is bounded: idle hosts are forgotten past `max_hosts`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

__all__ = ["Clock", "HostGate", "Sleep"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Host:
    slots: asyncio.Semaphore
    next_start: float = 0.0
    users: int = 0


class HostGate:
    """Per-host concurrency and spacing of request starts."""

    def __init__(
        self,
        *,
        delay_s: float,
        per_host: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_hosts: int = 10_000,
    ) -> None:
        self.delay_s = delay_s
        self.per_host = max(1, per_host)
        self._clock = clock
        self._sleep = sleep
        self._max_hosts = max_hosts
        self._hosts: dict[str, _Host] = {}

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= self._max_hosts:
                self._forget_idle()
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.per_host))
        return state

    def _forget_idle(self) -> None:
        now = self._clock()
        for name in [h for h, s in self._hosts.items() if s.users == 0 and s.next_start <= now]:
            del self._hosts[name]

    @asynccontextmanager
    async def slot(self, host: str, *, delay_s: float | None = None) -> AsyncIterator[None]:
        """Hold one of the host's slots, started no sooner than the delay after the previous start."""
        key = host.lower()
        state = self._host(key)
        delay = max(self.delay_s, delay_s or 0.0)
        state.users += 1
        try:
            async with state.slots:
                # claim the next start time before sleeping, so waiters queue in order
                start = max(self._clock(), state.next_start)
                state.next_start = start + delay
                while (wait := start - self._clock()) > 0:
                    await self._sleep(wait)
                yield
        finally:
            state.users -= 1

    @property
    def hosts(self) -> int:
        """Hosts currently remembered."""
        return len(self._hosts)
