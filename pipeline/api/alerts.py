"""`GET /alerts` (recent, newest first) and `GET /alerts/stream` (server-sent events, live).

The worker records alerts in the alert log under the data dir; the stream polls it (one indexed
query a second), so it sees alerts from any worker process without a broker connection. A stream
ends after `lifetime` seconds and the browser's EventSource reconnects with `Last-Event-ID`, so
nothing is missed and no connection lives forever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from pipeline.api.services import Services, services
from pipeline.models import Alert

__all__ = ["alert_feed", "router", "sse_data", "sse_stream"]

router = APIRouter(tags=["alerts"])

POLL_S = 1.0
KEEPALIVE_S = 15.0
_BACKLOG = 200  # alerts read per poll: more than a second's worth on any realistic deployment


async def alert_feed(
    svc: Services,
    *,
    last_event_id: str | None = None,
    poll_s: float = POLL_S,
    lifetime_s: float = 300.0,
    watch_id: str | None = None,
) -> AsyncIterator[Alert | None]:
    """New alerts as they are recorded, oldest first; `None` now and then as a keep-alive tick.

    Alerts recorded before the call are not sent, except those after `last_event_id` (a
    reconnecting client's last alert) when it is still among the latest.
    """
    loop = asyncio.get_running_loop()
    initial = await asyncio.to_thread(svc.alerts.recent, _BACKLOG, watch_id)
    seen = {a.id for a in initial}
    if last_event_id:
        ids = [a.id for a in initial]
        if last_event_id in ids:  # resend what came after it
            for a in initial[: ids.index(last_event_id)]:
                seen.discard(a.id)
    deadline = loop.time() + lifetime_s
    last_tick = loop.time()
    first = True
    while loop.time() < deadline:
        if not first:
            await asyncio.sleep(poll_s)
        first = False
        fresh = [
            a for a in await asyncio.to_thread(svc.alerts.recent, _BACKLOG, watch_id) if a.id not in seen
        ]
        for alert in reversed(fresh):
            seen.add(alert.id)
            yield alert
        if loop.time() - last_tick >= KEEPALIVE_S:
            last_tick = loop.time()
            yield None


def sse_data(text: str) -> str:
    """`text` as `data:` lines, split only where SSE ends a line (CR, LF, CRLF): `str.splitlines()`
    also splits on U+2028, U+2029 and U+0085, which JSON leaves raw inside strings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
    return "\n".join(f"data: {line}" for line in text.split("\n"))


def sse_stream(
    request: Request, feed: AsyncIterator[Alert | None], render: Callable[[Alert], str], event: str = "alert"
) -> StreamingResponse:
    """A `text/event-stream` response: one `event:` per alert with its id, comments as keep-alives."""

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n: connected\n\n"
        async for alert in feed:
            if await request.is_disconnected():
                break
            if alert is None:
                yield ": keep-alive\n\n"
                continue
            yield f"id: {alert.id}\nevent: {event}\n{sse_data(render(alert))}\n\n"

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/alerts", response_model=list[Alert], summary="Recent alerts")
def alerts(
    svc: Annotated[Services, Depends(services)],
    watch: Annotated[str | None, Query(max_length=64, description="only this watch id")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[Alert]:
    """Alerts with their evidence and other sources of the story, newest first."""
    return svc.alerts.recent(limit=limit, watch_id=watch)


@router.get(
    "/alerts/stream",
    summary="Live alerts (server-sent events)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`event: alert`, data = Alert JSON"}
    },
)
async def alert_stream(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    watch: Annotated[str | None, Query(max_length=64)] = None,
    lifetime: Annotated[
        float, Query(ge=1, le=3600, description="seconds before the server ends the stream")
    ] = 300,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """Each new alert as `event: alert` with the alert JSON; the client reconnects after `lifetime`."""
    feed = alert_feed(svc, last_event_id=last_event_id, lifetime_s=lifetime, watch_id=watch)
    return sse_stream(request, feed, lambda a: json.dumps(a.model_dump(mode="json"), ensure_ascii=False))
