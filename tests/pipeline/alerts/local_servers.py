"""Real servers on 127.0.0.1 for the delivery tests: scripted HTTP, a silent listener, a closed port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.models import Alert, Evidence


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


Responder = Callable[[Received], Reply]


class HTTPTestServer:
    """Threaded HTTP server: records every POST and answers with `replies` in turn (the last repeats),
    or with whatever `responder` returns."""

    def __init__(self, replies: list[Reply] | None = None, responder: Responder | None = None) -> None:
        self.requests: list[Received] = []
        self._replies = list(replies or [Reply()])
        self._responder = responder
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                reply = server._record(received)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        # a short poll interval: shutdown() waits for the serving loop to notice
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def _record(self, received: Received) -> Reply:
        with self._lock:
            self.requests.append(received)
            if self._responder is not None:
                return self._responder(received)
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    def __enter__(self) -> HTTPTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def silent_listener() -> Iterator[str]:
    """A port that accepts TCP connections (kernel backlog) and never answers: `http://127.0.0.1:N`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_alert(**overrides: object) -> Alert:
    """An Arabic alert whose title and snippet carry markup-looking text, to check escaping."""
    values: dict[str, object] = {
        "id": Alert.make_id("gaza", "a" * 32),
        "watch_id": "gaza",
        "watch_name": "غزة",
        "article_id": "a" * 32,
        "title": "بدء الهدنة في غزة <b>عاجل</b> & تبادل الأسرى",
        "url": "https://example.org/news?id=1&lang=ar",
        "source": "aljazeera",
        "evidence": [
            Evidence(
                kind="word", value="هدنة", surface="الهدنة", field="title", snippet="…بدء الهدنة في غزة…"
            ),
            Evidence(
                kind="entity", value="rasd:gaza-strip", surface="غزة", field="body", snippet="قطاع <غزة>"
            ),
        ],
    }
    values.update(overrides)
    return Alert.model_validate(values)
