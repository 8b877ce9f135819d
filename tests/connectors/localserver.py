"""A real HTTP/1.1 server on 127.0.0.1 for connector tests, scripted per path; plus a byte-counting transport.

The server runs its own event loop in a thread, so the code under test talks to it over a real socket with
its real client (`connectors.fetch.make_client`). It can misbehave in the ways a hostile feed host does:
any status and headers, redirects, bodies streamed in chunks without a length, trickled headers or bodies
(slow-loris), and generated bodies (a gzip bomb is produced lazily, never held whole).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import httpx

__all__ = ["CountingTransport", "LocalServer", "Reply", "Request"]

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    404: "Not Found",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Request:
    """What the server received: method, path (with query) and lower-cased headers."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    """How the server answers one request.

    `body` bytes are sent with a Content-Length (unless `content_length` overrides it); an iterable of
    chunks is sent with chunked transfer encoding. `trickle_s` sleeps between chunks, `trickle_headers`
    sends the status line and headers one byte every `trickle_s`, `delay_s` waits before answering.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    content_length: int | None = None
    delay_s: float = 0.0
    trickle_s: float = 0.0
    trickle_headers: bool = False


Route = Reply | Callable[[Request], Reply]


class LocalServer:
    """Serve `routes` (path → Reply or callable) on 127.0.0.1 until closed; records every request."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Request] = []
        self.bytes_sent = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-server", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        """Paths requested, in order."""
        return [r.path for r in self.requests]

    def __enter__(self) -> Self:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        )
        self._server = future.result(timeout=5)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _reply_for(self, request: Request) -> Reply:
        route = self.routes.get(request.path) or self.routes.get(request.path.split("?", 1)[0])
        if route is None:
            return Reply(404, {"Content-Type": "text/plain"}, b"no such route")
        return route(request) if callable(route) else route

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.bytes_sent += len(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            request = Request(method, path, headers)
            self.requests.append(request)
            reply = self._reply_for(request)
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            await self._answer(writer, reply)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass  # the client went away (as it should, when it gives up on a hostile reply)
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        streamed = not isinstance(reply.body, bytes)
        header_lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
        header_lines += [f"{k}: {v}" for k, v in reply.headers.items()]
        if streamed:
            header_lines.append("Transfer-Encoding: chunked")
        else:
            assert isinstance(reply.body, bytes)
            length = reply.content_length if reply.content_length is not None else len(reply.body)
            header_lines.append(f"Content-Length: {length}")
        header_lines.append("Connection: close")
        head = ("\r\n".join(header_lines) + "\r\n\r\n").encode("latin-1")
        if reply.trickle_headers:
            for i in range(len(head)):
                await self._send(writer, head[i : i + 1])
                await asyncio.sleep(reply.trickle_s)
        else:
            await self._send(writer, head)
        if not streamed:
            assert isinstance(reply.body, bytes)
            await self._send(writer, reply.body)
            return
        assert not isinstance(reply.body, bytes)
        async for chunk in _chunks(reply.body):
            if chunk:
                await self._send(writer, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            if reply.trickle_s:
                await asyncio.sleep(reply.trickle_s)
        await self._send(writer, b"0\r\n\r\n")


async def _chunks(body: Iterable[bytes]) -> AsyncIterator[bytes]:
    """Chunks of a (possibly huge, lazily generated) body, yielding to the loop between them."""
    for chunk in body:
        yield chunk
        await asyncio.sleep(0)


class _CountingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, counter: CountingTransport) -> None:
        self._inner = inner
        self._counter = counter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._counter.bytes_read += len(chunk)
            self._counter.largest_chunk = max(self._counter.largest_chunk, len(chunk))
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CountingTransport(httpx.AsyncBaseTransport):
    """The real network transport, counting the (still encoded) body bytes the client pulled."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.bytes_read = 0
        self.largest_chunk = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CountingStream(response.stream, self),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
