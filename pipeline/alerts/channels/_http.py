"""The one place alert channels talk HTTP: a bounded client and the status → retryable mapping.

5xx, 408, 429, timeouts and connection failures are transient; other non-2xx answers are permanent.
Redirects are not followed: a webhook that moved is a configuration error, not something to chase.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import httpx

from pipeline.errors import DeliveryError

__all__ = ["USER_AGENT", "make_http_client", "parse_retry_after", "post"]

USER_AGENT: Final = "Rasd/0.1 (alert delivery)"
_ERROR_BODY_BYTES: Final = 512
_TRANSIENT_STATUSES: Final = frozenset({408, 429})


def make_http_client(timeout_s: float) -> httpx.AsyncClient:
    """A shared AsyncClient: per-phase timeouts, bounded pool, no redirects, no proxy/env surprises."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        headers={"User-Agent": USER_AGENT},
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of the body: enough for an error message, never a whole hostile body."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    channel: str,
    label: str,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float | None = None,
    redact: str | None = None,
) -> None:
    """POST `content`; return on 2xx, else raise `DeliveryError` classified as transient or permanent.

    `label` names the target in messages instead of the URL, and `redact` is removed from any message,
    because some URLs carry credentials (Slack webhook paths, Telegram bot tokens).
    """
    timeout = httpx.Timeout(timeout_s) if timeout_s is not None else httpx.USE_CLIENT_DEFAULT
    try:
        async with client.stream(
            "POST", url, content=content, headers=dict(headers), timeout=timeout
        ) as resp:
            status = resp.status_code
            # reading a short answer to its end lets the connection go back to the pool
            detail = (await _read_prefix(resp, _ERROR_BODY_BYTES)).decode("utf-8", errors="replace")
            if 200 <= status < 300:
                return
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
            reason = resp.reason_phrase
    except httpx.TimeoutException as exc:
        message = f"{label}: timed out ({type(exc).__name__})"
        raise DeliveryError(message, channel=channel, transient=True) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        message = _redact(f"{label}: invalid URL: {exc}", redact)
        raise DeliveryError(message, channel=channel, transient=False) from exc
    except httpx.TransportError as exc:
        message = _redact(f"{label}: {type(exc).__name__}: {exc}", redact)
        raise DeliveryError(message, channel=channel, transient=True) from exc
    transient = status >= 500 or status in _TRANSIENT_STATUSES
    text = " ".join(detail.split())[:200]
    message = _redact(f"{label}: HTTP {status} {reason}".rstrip() + (f": {text}" if text else ""), redact)
    raise DeliveryError(
        message, channel=channel, transient=transient, retry_after=retry_after if transient else None
    )
