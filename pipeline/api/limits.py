"""A cap on request bodies, applied while they are read.

FastAPI reads a JSON body whole before any handler or dependency runs, so one request could hold
gigabytes of memory. A body over the cap ends in the API's usual 413 error document: raised where
the app reads the body (at once when `Content-Length` declares too much, else as soon as the
streamed body passes the cap), so the error handlers answer. FastAPI's own `max_body_size` answers
a plain-text 413 instead. The web UI's forms keep their own, smaller cap
(`pipeline.web.routes.FORM_LIMIT`).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BODY_LIMIT", "BodyLimit"]

BODY_LIMIT = 1 << 20  # bytes; a watch with a thousand terms is about 30 KB


class BodyLimit:
    """ASGI middleware: reading more than `limit` bytes of a request body raises a 413 `HTTPException`.

    Install it inside any `BaseHTTPMiddleware` (add it first): those read the body in a task group,
    which would wrap the exception in a group the error handlers do not match.
    """

    def __init__(self, app: ASGIApp, limit: int = BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), b"")
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            if declared.isdigit() and int(declared) > limit:
                seen = int(declared)  # read nothing
            else:
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"the request body is larger than {limit // 1024} KiB")
            return message

        await self.app(scope, counted, send)
