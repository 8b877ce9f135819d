"""Generic JSON webhook, signed with HMAC-SHA256 so the receiver can trust and date what it gets.

The body is the alert as compact UTF-8 JSON (`alert.model_dump(mode="json")`). Two headers go with it:

* `X-Rasd-Timestamp`: unix seconds when this attempt was signed (each retry is signed afresh);
* `X-Rasd-Signature`: `sha256=` + hex HMAC-SHA256 of `b"<timestamp>." + body` keyed with the secret.

Receivers call `verify_signature` on the raw body bytes before parsing them, and reject old timestamps so a
captured request cannot be replayed later. `X-Rasd-Alert-Id` lets them drop a redelivered alert.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

import httpx

from pipeline.alerts.channels._http import post
from pipeline.models import Alert

__all__ = [
    "ALERT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookChannel",
    "alert_body",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "X-Rasd-Signature"
TIMESTAMP_HEADER: Final = "X-Rasd-Timestamp"
ALERT_ID_HEADER: Final = "X-Rasd-Alert-Id"
_PREFIX: Final = "sha256="


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def alert_body(alert: Alert) -> bytes:
    """The exact bytes that are sent and signed: compact UTF-8 JSON, Arabic unescaped."""
    payload = alert.model_dump(mode="json")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `b"<timestamp>." + body`."""
    digest = hmac.new(_key(secret), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes,
    signature: str,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when `signature` is ours for `timestamp` + `body` and the timestamp is within `tolerance_s`.

    Compares in constant time. `now` (unix seconds) defaults to the system clock; pass it for tests.
    """
    text = str(timestamp).strip()
    if not text.isdigit() or not text.isascii():
        return False
    stamp = int(text)
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_s:
        return False
    expected = sign(secret, stamp, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))


def _label(url: str) -> str:
    """scheme://host/path: never the query or user info, which may hold credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"webhook {parts.scheme}://{host}{port}{parts.path}"


class WebhookChannel:
    """POSTs the signed alert JSON to one URL."""

    def __init__(
        self,
        name: str,
        *,
        client: httpx.AsyncClient,
        url: str,
        secret: str | bytes,
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.url = url
        self._client = client
        self._secret = _key(secret)
        self._timeout_s = timeout_s
        self._clock = clock

    async def send(self, alert: Alert) -> None:
        """POST once; `DeliveryError` is transient for 5xx/408/429/network errors, permanent otherwise."""
        body = alert_body(alert)
        stamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self._secret, stamp, body),
            ALERT_ID_HEADER: alert.id,
        }
        await post(
            self._client,
            self.url,
            channel=self.name,
            label=_label(self.url),
            content=body,
            headers=headers,
            timeout_s=self._timeout_s,
        )

    async def aclose(self) -> None:
        """Close the HTTP client (shared clients tolerate being closed more than once)."""
        await self._client.aclose()
