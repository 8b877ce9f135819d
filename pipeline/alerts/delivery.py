"""Alert dispatch: every named channel at once, each with its own retries, outcomes recorded durably.

A slow or failing channel never delays another: each runs in its own task with exponential backoff
(equal jitter) between attempts, honouring a receiver's `Retry-After` up to the backoff cap. Each attempt
is abandoned after `RetryPolicy.attempt_timeout_s`. Delivery is at-least-once: a receiver may see an alert
twice (a timed-out attempt that did arrive), and dedupes by alert id (the JSONL channel does it itself).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from pipeline.alerts.channels.base import Channel
from pipeline.alerts.channels.config import build_channels, load_channels
from pipeline.alerts.deliveries import DeliveryLog, DeliveryOutcome
from pipeline.errors import DeliveryError
from pipeline.models import Alert, utcnow
from pipeline.settings import Settings

__all__ = ["Deliverer", "DeliveryOutcome", "RetryPolicy", "Sleep"]

log = logging.getLogger("rasd.alerts.delivery")

Sleep = Callable[[float], Awaitable[None]]
"""`asyncio.sleep` in production; tests inject one that records the delays."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently one channel is retried."""

    attempts: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    attempt_timeout_s: float | None = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            attempts=settings.delivery_attempts,
            backoff_s=settings.delivery_backoff_s,
            backoff_max_s=settings.delivery_backoff_max_s,
            attempt_timeout_s=settings.delivery_timeout_s,
        )

    def delay(self, failures: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait after the `failures`-th failed attempt; `jitter` is uniform in [0, 1).

        A receiver's `Retry-After` is taken as given (capped, so one channel cannot park the worker);
        otherwise the wait doubles from `backoff_s` up to `backoff_max_s`, with half of it randomised so
        that many alerts failing together do not retry in lockstep.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_max_s)
        ceiling = min(self.backoff_max_s, self.backoff_s * 2.0 ** (failures - 1))
        return ceiling / 2 + ceiling / 2 * jitter


class Deliverer:
    """Sends alerts to channels by name.

    Args:
        channels: channel objects by name (`build_channels`).
        policy: retries, backoff and per-attempt timeout.
        sleep: awaited between attempts; inject to record or skip the waits in tests.
        jitter: returns a float in [0, 1) for the backoff jitter.
        delivery_log: when given, every `deliver` records its outcomes there.
    """

    def __init__(
        self,
        channels: Mapping[str, Channel],
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        delivery_log: DeliveryLog | None = None,
    ) -> None:
        self.channels = dict(channels)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        self._delivery_log = delivery_log
        self._owned_log: DeliveryLog | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Sleep = asyncio.sleep,
        record: bool = True,
    ) -> Deliverer:
        """Channels from `settings.channels_path`, policy from the `delivery_*` settings, outcomes in
        `settings.deliveries_path` (opened here and closed by `close`) unless `record` is False.

        Raises:
            ConfigError: a bad channels file or an unset secret variable.
        """
        channels = build_channels(load_channels(settings.channels_path), settings, env)
        delivery_log = DeliveryLog(settings.deliveries_path) if record else None
        deliverer = cls(
            channels, policy=RetryPolicy.from_settings(settings), sleep=sleep, delivery_log=delivery_log
        )
        deliverer._owned_log = delivery_log
        return deliverer

    async def deliver(self, alert: Alert, channel_names: Iterable[str]) -> dict[str, DeliveryOutcome]:
        """Send `alert` to every named channel concurrently; never raises for a channel's failure.

        An unknown name is a `failed` outcome ("unknown channel") with 0 attempts.
        """
        names = list(dict.fromkeys(channel_names))
        results = await asyncio.gather(*(self._deliver_one(alert, name) for name in names))
        outcomes = {outcome.channel: outcome for outcome in results}
        if self._delivery_log is not None:
            try:
                await asyncio.to_thread(self._delivery_log.record, alert.id, outcomes)
            except (sqlite3.Error, OSError):
                # the alert went out; losing its bookkeeping must not make the caller send it again
                log.exception("cannot record delivery outcomes of alert %s", alert.id)
        return outcomes

    async def _deliver_one(self, alert: Alert, name: str) -> DeliveryOutcome:
        channel = self.channels.get(name)
        if channel is None:
            log.warning("alert %s names unknown channel %r", alert.id, name)
            return DeliveryOutcome(channel=name, status="failed", attempts=0, error="unknown channel")
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(self.policy.attempt_timeout_s):
                    await channel.send(alert)
            except DeliveryError as exc:
                error = exc
            except TimeoutError:
                error = DeliveryError(
                    f"attempt timed out after {self.policy.attempt_timeout_s}s", channel=name, transient=True
                )
            except Exception as exc:  # a bug in a channel: retrying will not fix it
                log.exception("channel %s crashed on alert %s", name, alert.id)
                return self._failed(name, attempt, f"{type(exc).__name__}: {exc}")
            else:
                if attempt > 1:
                    log.info("alert %s delivered to %s on attempt %d", alert.id, name, attempt)
                return DeliveryOutcome(channel=name, status="ok", attempts=attempt, finished=utcnow())
            if not error.transient or attempt >= self.policy.attempts:
                log.warning(
                    "alert %s not delivered to %s after %d attempt(s): %s", alert.id, name, attempt, error
                )
                return self._failed(name, attempt, str(error))
            wait = self.policy.delay(attempt, error.retry_after, self._jitter())
            log.info("alert %s to %s failed (%s); retry in %.2fs", alert.id, name, error, wait)
            await self._sleep(wait)

    @staticmethod
    def _failed(name: str, attempts: int, error: str) -> DeliveryOutcome:
        return DeliveryOutcome(
            channel=name, status="failed", attempts=attempts, error=error, finished=utcnow()
        )

    async def close(self) -> None:
        """Close the channels' connections (the shared httpx client) and the delivery log opened here."""
        for channel in self.channels.values():
            aclose: Callable[[], Awaitable[None]] | None = getattr(channel, "aclose", None)
            if aclose is not None:
                await aclose()
        if self._owned_log is not None:
            self._owned_log.close()
            self._owned_log = None
