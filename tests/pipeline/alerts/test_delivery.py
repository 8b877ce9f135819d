"""The dispatcher against real local servers: retries, Retry-After, isolation between channels, records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.alerts.channels import WebhookChannel
from pipeline.alerts.channels.base import Channel
from pipeline.alerts.deliveries import DeliveryLog, DeliveryOutcome
from pipeline.alerts.delivery import Deliverer, RetryPolicy
from pipeline.errors import ConfigError
from pipeline.models import Alert
from pipeline.settings import Settings
from tests.pipeline.alerts.local_servers import (
    HTTPTestServer,
    Reply,
    closed_port,
    make_alert,
    silent_listener,
)

pytestmark = pytest.mark.anyio

SECRET = "s3cret"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as c:
        yield c


class Sleeps:
    """Injected sleep: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _hook(client: httpx.AsyncClient, url: str, name: str = "hook") -> WebhookChannel:
    return WebhookChannel(name, client=client, url=url, secret=SECRET)


def _deliverer(channels: dict[str, Channel], sleep: Sleeps, **policy: Any) -> Deliverer:
    return Deliverer(channels, policy=RetryPolicy(**policy), sleep=sleep, jitter=lambda: 0.0)


async def test_two_503s_then_success_takes_three_attempts(client: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with HTTPTestServer([Reply(503), Reply(503), Reply(200)]) as server:
        outcomes = await _deliverer({"hook": _hook(client, server.url)}, sleeps).deliver(
            make_alert(), ["hook"]
        )
    outcome = outcomes["hook"]
    assert (outcome.status, outcome.attempts, outcome.error) == ("ok", 3, None)
    assert len(server.requests) == 3
    assert sleeps.delays == [0.25, 0.5]  # backoff 0.5 s doubling, equal jitter at its low end


async def test_permanent_400_fails_after_one_attempt(client: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with HTTPTestServer([Reply(400, body=b"bad payload")]) as server:
        outcomes = await _deliverer({"hook": _hook(client, server.url)}, sleeps).deliver(
            make_alert(), ["hook"]
        )
    outcome = outcomes["hook"]
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert outcome.error is not None and "HTTP 400" in outcome.error and "bad payload" in outcome.error
    assert sleeps.delays == [] and len(server.requests) == 1


async def test_429_retry_after_is_honoured(client: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with HTTPTestServer([Reply(429, {"Retry-After": "7"}), Reply(200)]) as server:
        outcomes = await _deliverer({"hook": _hook(client, server.url)}, sleeps).deliver(
            make_alert(), ["hook"]
        )
    assert outcomes["hook"].status == "ok" and outcomes["hook"].attempts == 2
    assert sleeps.delays == [7.0]


async def test_retry_after_is_capped_and_attempts_run_out(client: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with HTTPTestServer([Reply(429, {"Retry-After": "3600"})]) as server:
        deliverer = _deliverer({"hook": _hook(client, server.url)}, sleeps, attempts=3, backoff_max_s=30.0)
        outcomes = await deliverer.deliver(make_alert(), ["hook"])
    outcome = outcomes["hook"]
    assert (outcome.status, outcome.attempts) == ("failed", 3)
    assert outcome.error is not None and "HTTP 429" in outcome.error
    assert sleeps.delays == [30.0, 30.0] and len(server.requests) == 3


class _Marking:
    """Wraps a channel to note when its send completed."""

    def __init__(self, inner: Channel, done: asyncio.Event, events: list[str]) -> None:
        self.name = inner.name
        self._inner = inner
        self._done = done
        self._events = events

    async def send(self, alert: Alert) -> None:
        await self._inner.send(alert)
        self._events.append(f"{self.name} sent")
        self._done.set()


async def test_a_refusing_channel_does_not_delay_a_good_one(client: httpx.AsyncClient) -> None:
    events: list[str] = []
    good_sent = asyncio.Event()

    async def sleep(delay: float) -> None:
        # the refusing channel's backoff only ends once the good channel has delivered: a dispatcher that
        # served channels one after the other would time out here instead
        events.append("bad backoff")
        await asyncio.wait_for(good_sent.wait(), 5)

    with HTTPTestServer() as good:
        channels: dict[str, Channel] = {
            "bad": _hook(client, f"http://127.0.0.1:{closed_port()}", "bad"),
            "good": _Marking(_hook(client, good.url, "good"), good_sent, events),
        }
        deliverer = Deliverer(channels, policy=RetryPolicy(attempts=3), sleep=sleep)
        outcomes = await deliverer.deliver(make_alert(), ["bad", "good"])
    assert outcomes["good"].status == "ok" and outcomes["good"].attempts == 1
    assert outcomes["bad"].status == "failed" and outcomes["bad"].attempts == 3
    assert outcomes["bad"].error is not None and "ConnectError" in outcomes["bad"].error
    assert events.count("bad backoff") == 2 and "good sent" in events
    assert outcomes["good"].finished <= outcomes["bad"].finished


async def test_a_silent_server_times_out_while_the_good_one_delivers(client: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with silent_listener() as silent, HTTPTestServer() as good:
        channels: dict[str, Channel] = {
            "silent": _hook(client, silent, "silent"),
            "good": _hook(client, good.url),
        }
        deliverer = Deliverer(channels, policy=RetryPolicy(attempts=2, attempt_timeout_s=0.2), sleep=sleeps)
        outcomes = await deliverer.deliver(make_alert(), ["silent", "good"])
    assert outcomes["good"].status == "ok"
    assert outcomes["silent"].status == "failed" and outcomes["silent"].attempts == 2
    assert outcomes["silent"].error == "attempt timed out after 0.2s"
    assert outcomes["good"].finished < outcomes["silent"].finished
    assert len(sleeps.delays) == 1


async def test_unknown_channel_is_an_outcome_not_an_exception(client: httpx.AsyncClient) -> None:
    with HTTPTestServer() as server:
        deliverer = _deliverer({"hook": _hook(client, server.url)}, Sleeps())
        outcomes = await deliverer.deliver(make_alert(), ["pager", "hook", "hook"])
    assert list(outcomes) == ["pager", "hook"]
    assert outcomes["pager"].model_dump(exclude={"finished"}) == {
        "channel": "pager",
        "status": "failed",
        "attempts": 0,
        "error": "unknown channel",
    }
    assert outcomes["hook"].status == "ok" and len(server.requests) == 1


class _Broken:
    name = "broken"

    async def send(self, alert: Alert) -> None:
        raise KeyError("bug")


async def test_a_crashing_channel_is_not_retried() -> None:
    sleeps = Sleeps()
    outcomes = await _deliverer({"broken": _Broken()}, sleeps).deliver(make_alert(), ["broken"])
    assert outcomes["broken"].status == "failed" and outcomes["broken"].attempts == 1
    assert outcomes["broken"].error == "KeyError: 'bug'" and sleeps.delays == []


@pytest.mark.parametrize(
    ("failures", "retry_after", "jitter", "expected"),
    [
        (1, None, 0.0, 0.25),
        (1, None, 0.999, 0.49975),
        (3, None, 0.0, 1.0),
        (10, None, 0.0, 15.0),  # 0.5 * 2**9 = 256 capped at 30, halved by jitter's floor
        (10, None, 1.0, 30.0),
        (1, 2.5, 0.7, 2.5),
        (1, -1.0, 0.7, 0.0),
        (1, 90.0, 0.0, 30.0),
    ],
)
def test_backoff_delay(failures: int, retry_after: float | None, jitter: float, expected: float) -> None:
    assert RetryPolicy().delay(failures, retry_after, jitter) == pytest.approx(expected)


def test_policy_from_settings() -> None:
    settings = Settings(
        delivery_attempts=6, delivery_backoff_s=1.0, delivery_backoff_max_s=5.0, delivery_timeout_s=3.0
    )
    assert RetryPolicy.from_settings(settings) == RetryPolicy(
        attempts=6, backoff_s=1.0, backoff_max_s=5.0, attempt_timeout_s=3.0
    )
    defaults = Settings(data_dir=Path("d"), config_dir=Path("c"))
    assert (defaults.delivery_attempts, defaults.delivery_backoff_s, defaults.delivery_backoff_max_s) == (
        4,
        0.5,
        30.0,
    )
    assert defaults.delivery_timeout_s == 10.0
    assert defaults.channels_path == Path("c") / "channels.yaml"
    assert defaults.deliveries_path == Path("d") / "deliveries.sqlite3"


# --- the durable record ------------------------------------------------------------------------------


def _outcome(channel: str, status: str, at: datetime, error: str | None = None) -> DeliveryOutcome:
    return DeliveryOutcome.model_validate(
        {"channel": channel, "status": status, "attempts": 2, "error": error, "finished": at}
    )


def test_delivery_log_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "data" / "deliveries.sqlite3"
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    db = DeliveryLog(path)
    db.record("a1", {"hook": _outcome("hook", "failed", t0, "HTTP 503"), "log": _outcome("log", "ok", t0)})
    db.record("a2", [_outcome("mail", "failed", t0 + timedelta(seconds=5), "smtp: 550 غير معروف")])
    db.close()

    db = DeliveryLog(path)  # durable: a new connection sees it all
    assert [(r.channel, r.status, r.error) for r in db.for_alert("a1")] == [
        ("hook", "failed", "HTTP 503"),
        ("log", "ok", None),
    ]
    assert db.for_alert("a1")[0].finished == t0 and db.for_alert("a1")[0].attempts == 2
    assert [(r.alert_id, r.channel) for r in db.failed()] == [("a2", "mail"), ("a1", "hook")]
    assert db.failed(limit=1)[0].error == "smtp: 550 غير معروف"

    db.record("a1", [_outcome("hook", "ok", t0 + timedelta(minutes=1))])  # redelivered later
    assert [(r.alert_id, r.channel) for r in db.failed()] == [("a2", "mail")]
    assert [r.status for r in db.for_alert("a1") if r.channel == "hook"] == ["failed", "ok"]
    assert db.for_alert("missing") == []
    db.close()


async def test_deliverer_records_outcomes(tmp_path: Path, client: httpx.AsyncClient) -> None:
    db = DeliveryLog(tmp_path / "deliveries.sqlite3")
    alert = make_alert()
    with HTTPTestServer([Reply(404)]) as server:
        deliverer = Deliverer({"hook": _hook(client, server.url)}, sleep=Sleeps(), delivery_log=db)
        await deliverer.deliver(alert, ["hook", "nowhere"])
    records = db.for_alert(alert.id)
    assert sorted((r.channel, r.status, r.attempts) for r in records) == [
        ("hook", "failed", 1),
        ("nowhere", "failed", 0),
    ]
    db.close()


async def test_from_settings_builds_channels_and_records(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    settings = Settings(config_dir=config_dir, data_dir=tmp_path / "data", delivery_attempts=2)
    with HTTPTestServer() as server:
        entry = f"{{name: hook, type: webhook, url: '{server.url}/in', secret_env: HOOK_SECRET}}"
        (config_dir / "channels.yaml").write_text(f"channels:\n  - {entry}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="HOOK_SECRET is not set"):
            Deliverer.from_settings(settings, env={})
        deliverer = Deliverer.from_settings(settings, env={"HOOK_SECRET": SECRET}, sleep=Sleeps())
        try:
            assert set(deliverer.channels) == {"log", "jsonl", "hook"}
            assert deliverer.policy.attempts == 2
            alert = make_alert()
            outcomes = await deliverer.deliver(alert, ["log", "jsonl", "hook"])
        finally:
            await deliverer.close()
    assert {name: o.status for name, o in outcomes.items()} == {"log": "ok", "jsonl": "ok", "hook": "ok"}
    assert server.requests[0].path == "/in"
    assert "بدء الهدنة" in settings.alerts_path.read_text(encoding="utf-8")
    db = DeliveryLog(settings.deliveries_path)
    assert len(db.for_alert(alert.id)) == 3
    db.close()
