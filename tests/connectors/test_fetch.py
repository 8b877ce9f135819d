"""connectors.fetch against httpx.MockTransport: limits, guard, redirects, conditional GET, errors."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from connectors.fetch import MAX_GZIP_MEMBERS, FetchResult, fetch, parse_max_age, parse_retry_after
from pipeline.errors import (
    FetchError,
    FetchRefused,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    ResponseTooLarge,
    TooManyRedirects,
)
from pipeline.settings import Settings
from tests.connectors.conftest import public_resolver

FEED = b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title></channel></rss>'
URL = "https://news.example.com/rss.xml"

Handler = Callable[[httpx.Request], Any]


def _run(
    handler: Handler,
    settings: Settings,
    url: str = URL,
    resolver: Any = public_resolver,
    **kwargs: Any,
) -> FetchResult | None:
    async def go() -> FetchResult | None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch(url, settings=settings, client=client, resolver=resolver, **kwargs)

    return asyncio.run(go())


class Recorder:
    """A handler that records requests and answers from a script."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._respond(request)


def test_ok_response_carries_body_and_cache_metadata(settings: Settings) -> None:
    handler = Recorder(
        lambda r: httpx.Response(
            200,
            content=FEED,
            headers={
                "Content-Type": 'application/rss+xml; charset="windows-1256"',
                "ETag": '"abc"',
                "Last-Modified": "Wed, 13 Sep 2023 10:00:00 GMT",
                "Cache-Control": "public, max-age=600",
            },
        )
    )
    result = _run(handler, settings)
    assert result is not None
    assert result.body == FEED
    assert result.status == 200
    assert result.final_url == URL
    assert (result.content_type, result.charset) == ("application/rss+xml", "windows-1256")
    assert (result.etag, result.last_modified, result.max_age) == (
        '"abc"',
        "Wed, 13 Sep 2023 10:00:00 GMT",
        600,
    )
    sent = handler.requests[0].headers
    assert sent["user-agent"] == settings.user_agent
    assert sent["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_not_modified_returns_none_after_sending_validators(settings: Settings) -> None:
    handler = Recorder(lambda r: httpx.Response(304))
    result = _run(handler, settings, etag='"v1"', last_modified="Wed, 13 Sep 2023 10:00:00 GMT")
    assert result is None
    sent = handler.requests[0].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Wed, 13 Sep 2023 10:00:00 GMT"


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("max-age=300", 300), ("public, max-age=60, must-revalidate", 60), ("no-cache", None), (None, None)],
)
def test_parse_max_age(value: str | None, expected: int | None) -> None:
    assert parse_max_age(value) == expected


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, "120", 120.0),
        (503, "7", 7.0),
        (429, None, None),
        (503, "not-a-date", None),
        (404, "120", None),  # Retry-After only means something on 429/503
        (500, None, None),
        (410, None, None),
    ],
)
def test_error_statuses_raise_with_retry_after(
    settings: Settings, status: int, retry_after: str | None, expected: float | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    with pytest.raises(HTTPStatusError) as info:
        _run(lambda r: httpx.Response(status, headers=headers), settings)
    assert info.value.status == status
    assert info.value.retry_after == expected
    assert info.value.url == URL


def test_http_date_retry_after_is_relative_to_now(settings: Settings) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=3600), usegmt=True)
    with pytest.raises(HTTPStatusError) as info:
        _run(lambda r: httpx.Response(429, headers={"Retry-After": later}), settings)
    assert info.value.retry_after is not None
    assert 3500 < info.value.retry_after <= 3600


def _redirect_chain(length: int) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        step = int(request.url.params.get("step", "0"))
        if step < length:
            return httpx.Response(302, headers={"Location": f"/rss.xml?step={step + 1}"})
        return httpx.Response(200, content=FEED)

    return respond


@pytest.mark.parametrize(("hops", "limit"), [(0, 0), (1, 1), (3, 5), (5, 5)])
def test_redirects_within_limit_are_followed(
    settings_factory: Callable[..., Settings], hops: int, limit: int
) -> None:
    handler = Recorder(_redirect_chain(hops))
    result = _run(handler, settings_factory(fetch_max_redirects=limit))
    assert result is not None
    assert result.redirects == hops
    assert result.final_url.endswith(f"step={hops}") or hops == 0
    assert len(handler.requests) == hops + 1


@pytest.mark.parametrize(("hops", "limit"), [(1, 0), (6, 5), (3, 2)])
def test_redirects_beyond_limit_raise(
    settings_factory: Callable[..., Settings], hops: int, limit: int
) -> None:
    handler = Recorder(_redirect_chain(hops))
    with pytest.raises(TooManyRedirects):
        _run(handler, settings_factory(fetch_max_redirects=limit))
    assert len(handler.requests) == limit + 1


@pytest.mark.parametrize(
    "locations",
    [
        {"/a": "/a"},  # to itself
        {"/a": "/b", "/b": "/a"},  # ping-pong
        {"/a": "/b", "/b": "/c", "/c": "https://news.example.com/a#frag"},  # back to start, fragment ignored
    ],
)
def test_redirect_loops_are_detected(
    settings_factory: Callable[..., Settings], locations: dict[str, str]
) -> None:
    handler = Recorder(lambda r: httpx.Response(301, headers={"Location": locations[r.url.path]}))
    with pytest.raises(TooManyRedirects, match="loop"):
        _run(handler, settings_factory(fetch_max_redirects=10), url="https://news.example.com/a")
    assert len(handler.requests) == len(locations)


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "gopher://news.example.com/",
        "http://127.0.0.1/admin",
        "http://169.254.169.254/latest/",
    ],
)
def test_each_redirect_hop_is_rechecked(settings: Settings, target: str) -> None:
    handler = Recorder(lambda r: httpx.Response(302, headers={"Location": target}))
    with pytest.raises(FetchRefused):
        _run(handler, settings)
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://news.example.com/1",
        "ftp://news.example.com/feed.xml",
        "/etc/passwd",
        "feed.xml",
        "javascript:alert(1)",
        "http:///no-host",
        "http://news.example.com:99999/",
    ],
)
def test_non_http_urls_are_refused_before_any_io(settings: Settings, url: str) -> None:
    handler = Recorder(lambda r: httpx.Response(200, content=FEED))
    resolved: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["93.184.216.34"]

    with pytest.raises(FetchRefused):
        _run(handler, settings, url=url, resolver=resolver)
    assert handler.requests == [] and resolved == []


def _resolving_to(*addresses: str) -> Callable[[str, int], Any]:
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


@pytest.mark.parametrize(
    "addresses",
    [
        ("127.0.0.1",),
        ("10.1.2.3",),
        ("172.16.0.9",),
        ("192.168.1.1",),
        ("169.254.169.254",),  # cloud metadata
        ("100.64.0.1",),  # carrier-grade NAT
        ("0.0.0.0",),
        ("224.0.0.251",),
        ("240.0.0.1",),
        ("::1",),
        ("fe80::1%eth0",),
        ("fc00::5",),
        ("::ffff:127.0.0.1",),  # IPv4-mapped loopback
        ("2002:7f00:1::",),  # 6to4 wrapping 127.0.0.1
        ("ff02::1",),
        ("93.184.216.34", "10.0.0.1"),  # one bad address is enough
    ],
)
def test_private_addresses_are_refused(settings: Settings, addresses: tuple[str, ...]) -> None:
    handler = Recorder(lambda r: httpx.Response(200, content=FEED))
    with pytest.raises(FetchRefused, match="non-public"):
        _run(handler, settings, resolver=_resolving_to(*addresses))
    assert handler.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/rss",
        "http://[::1]/rss",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
    ],
)
def test_literal_private_ips_are_refused_without_dns(settings: Settings, url: str) -> None:
    with pytest.raises(FetchRefused):
        _run(
            lambda r: httpx.Response(200, content=FEED),
            settings,
            url=url,
            resolver=_resolving_to("93.184.216.34"),
        )


@pytest.mark.parametrize("allowed", [["feeds.internal"], ["FEEDS.internal."]])
def test_allow_list_overrides_the_address_guard(
    settings_factory: Callable[..., Settings], allowed: list[str]
) -> None:
    settings = settings_factory(fetch_allowed_hosts=allowed)
    result = _run(
        lambda r: httpx.Response(200, content=FEED),
        settings,
        url="http://feeds.internal/rss.xml",
        resolver=_resolving_to("10.0.0.5"),
    )
    assert result is not None and result.body == FEED


def test_public_addresses_pass(settings: Settings) -> None:
    result = _run(
        lambda r: httpx.Response(200, content=FEED), settings, resolver=_resolving_to("2606:4700::1111")
    )
    assert result is not None


def test_dns_failure_is_a_network_error(settings: Settings) -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(NetworkError, match="cannot resolve"):
        _run(lambda r: httpx.Response(200, content=FEED), settings, resolver=failing)


class _Stream(httpx.AsyncByteStream):
    """A body of `chunks` pieces of `size` bytes, optionally slow; counts what was pulled."""

    def __init__(
        self, chunks: int, size: int = 1024, delay: float = 0.0, payload: bytes | None = None
    ) -> None:
        self.chunks, self.size, self.delay, self.payload = chunks, size, delay, payload
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.payload is not None:
            for start in range(0, len(self.payload), self.size):
                self.pulled += 1
                yield self.payload[start : start + self.size]
            return
        for _ in range(self.chunks):
            if self.delay:
                await asyncio.sleep(self.delay)
            self.pulled += 1
            yield b"x" * self.size


def test_declared_oversize_body_is_refused_unread(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(fetch_max_body_bytes=4096)
    stream = _Stream(chunks=100)
    with pytest.raises(ResponseTooLarge):
        _run(lambda r: httpx.Response(200, headers={"Content-Length": "102400"}, stream=stream), settings)
    assert stream.pulled == 0


def test_streamed_body_is_cut_at_the_cap(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(fetch_max_body_bytes=4096)
    stream = _Stream(chunks=1000)  # 1 MB without Content-Length
    with pytest.raises(ResponseTooLarge):
        _run(lambda r: httpx.Response(200, stream=stream), settings)
    assert stream.pulled <= 5


@pytest.mark.parametrize("declared", [True, False])
@pytest.mark.parametrize("coding", ["identity", "gzip", "pre-read"])
def test_a_prefix_fetch_keeps_the_first_bytes_of_a_long_body(
    settings_factory: Callable[..., Settings], coding: str, declared: bool
) -> None:
    settings = settings_factory(fetch_max_body_bytes=4096)
    payload = bytes(range(256)) * 400  # 100 KiB, every byte position distinct modulo 256
    headers = {"Content-Length": str(len(payload))} if declared else {}
    if coding == "pre-read":
        response = lambda r: httpx.Response(200, content=payload)  # noqa: E731
        stream = None
    else:
        wire = gzip.compress(payload) if coding == "gzip" else payload
        headers |= {"Content-Encoding": "gzip"} if coding == "gzip" else {}
        if coding == "gzip" and declared:
            headers["Content-Length"] = str(len(wire))
        stream = _Stream(chunks=0, size=1024, payload=wire)
        response = lambda r: httpx.Response(200, headers=headers, stream=stream)  # noqa: E731
    result = _run(response, settings, prefix=True)
    assert result is not None and result.truncated
    assert result.body == payload[:4096]
    if stream is not None:
        assert stream.pulled <= 6  # stopped at the cap, not read to the end
    exact = _run(lambda r: httpx.Response(200, content=payload[:4096]), settings, prefix=True)
    assert exact is not None and (exact.body, exact.truncated) == (payload[:4096], False)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "deflate-raw", "magic-bytes"])
def test_compressed_bodies_are_decompressed(settings: Settings, coding: str) -> None:
    if coding == "gzip":
        payload, headers = gzip.compress(FEED), {"Content-Encoding": "gzip"}
    elif coding == "deflate":
        payload, headers = zlib.compress(FEED), {"Content-Encoding": "deflate"}
    elif coding == "deflate-raw":
        raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        payload, headers = raw.compress(FEED) + raw.flush(), {"Content-Encoding": "deflate"}
    else:  # a .gz file served without Content-Encoding
        payload, headers = gzip.compress(FEED), {}
    stream = _Stream(chunks=0, size=7, payload=payload)  # small pieces: decoding must span chunks
    result = _run(lambda r: httpx.Response(200, stream=stream, headers=headers), settings)
    assert result is not None and result.body == FEED


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compression_bomb_is_stopped_early(settings_factory: Callable[..., Settings], coding: str) -> None:
    settings = settings_factory(fetch_max_body_bytes=1024 * 1024)
    zeros = b"\0" * (64 * 1024 * 1024)
    bomb = gzip.compress(zeros, compresslevel=9) if coding == "gzip" else zlib.compress(zeros, 9)
    assert len(bomb) < 200_000
    stream = _Stream(chunks=0, size=16 * 1024, payload=bomb)
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="decompressed"):
        _run(lambda r: httpx.Response(200, headers={"Content-Encoding": coding}, stream=stream), settings)
    assert time.monotonic() - started < 2.0
    assert stream.pulled < 5  # stopped after ~1 MB of output, long before the 64 MB


def test_unknown_content_encoding_is_an_error(settings: Settings) -> None:
    with pytest.raises(NetworkError, match="Content-Encoding"):
        _run(lambda r: httpx.Response(200, stream=_Stream(1), headers={"Content-Encoding": "br"}), settings)


def test_corrupt_gzip_is_an_error(settings: Settings) -> None:
    with pytest.raises(NetworkError, match="corrupt"):
        _run(
            lambda r: httpx.Response(
                200, stream=_Stream(0, payload=b"not gzip"), headers={"Content-Encoding": "gzip"}
            ),
            settings,
        )


def test_total_deadline_stops_a_slow_server(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(fetch_total_timeout_s=0.3)

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200, content=FEED)

    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="deadline"):
        _run(slow, settings)
    assert time.monotonic() - started < 2.0


def test_total_deadline_covers_a_trickling_body(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(fetch_total_timeout_s=0.3)
    stream = _Stream(chunks=1000, size=10, delay=0.05)  # would take 50 s
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        _run(lambda r: httpx.Response(200, stream=stream), settings)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), NetworkError),
        (httpx.ReadError("reset"), NetworkError),
        (httpx.RemoteProtocolError("bad"), NetworkError),
        (httpx.ConnectTimeout("slow"), FetchTimeout),
        (httpx.ReadTimeout("slow"), FetchTimeout),
    ],
)
def test_httpx_errors_are_translated(settings: Settings, exc: Exception, expected: type[Exception]) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(expected) as info:
        _run(boom, settings)
    assert info.value.__cause__ is exc


def test_non_ascii_validators_are_neither_kept_nor_sent(settings: Settings) -> None:
    # httpx cannot encode a non-ASCII header value: sent back, it used to stop the feed for good
    handler = Recorder(
        lambda r: httpx.Response(
            200,
            content=FEED,
            headers=[
                (b"ETag", '"v\u00e9"'.encode()),
                (b"Last-Modified", "Wed, 13 Sep 2023 10:00:00 GMT\u00a0".encode("latin-1")),
            ],
        )
    )
    result = _run(handler, settings)
    assert result is not None and result.body == FEED
    assert (result.etag, result.last_modified) == (None, None)
    # validators stored before this check still must not break the request
    result = _run(handler, settings, etag='"v\u00e9"', last_modified="Mi, 13 Sep 2023 \u0661\u0660:00")
    assert result is not None and result.body == FEED
    sent = handler.requests[-1].headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_printable_ascii_validators_are_kept_and_sent(settings: Settings) -> None:
    handler = Recorder(lambda r: httpx.Response(304))
    assert _run(handler, settings, etag='W/"a b~"', last_modified="Wed, 13 Sep 2023 10:00:00 GMT") is None
    assert handler.requests[0].headers["if-none-match"] == 'W/"a b~"'


def test_a_request_that_cannot_be_built_is_a_fetch_error(settings: Settings) -> None:
    handler = Recorder(lambda r: httpx.Response(200, content=FEED))
    with pytest.raises(FetchError, match="cannot build the request") as info:
        _run(handler, settings, user_agent="Rasd/1.0 (r\u00e9sum\u00e9)")
    assert isinstance(info.value.__cause__, UnicodeEncodeError)
    assert handler.requests == []


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_concatenated_gzip_members_are_all_decompressed(settings: Settings, size: int) -> None:
    # RFC 1952: a gzip body may be several members back to back (size 1 splits every magic number)
    parts = [FEED[:20], FEED[20:50], b"", FEED[50:]]
    payload = b"".join(gzip.compress(part) for part in parts)
    stream = _Stream(chunks=0, size=size, payload=payload)
    result = _run(
        lambda r: httpx.Response(200, stream=stream, headers={"Content-Encoding": "gzip"}), settings
    )
    assert result is not None and result.body == FEED


def test_trailing_bytes_after_a_gzip_stream_are_ignored(settings: Settings) -> None:
    stream = _Stream(chunks=0, size=5, payload=gzip.compress(FEED) + b"\x00\x00\n\x1f")
    result = _run(
        lambda r: httpx.Response(200, stream=stream, headers={"Content-Encoding": "gzip"}), settings
    )
    assert result is not None and result.body == FEED


def test_the_size_cap_counts_every_gzip_member(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(fetch_max_body_bytes=1024 * 1024)
    member = gzip.compress(b"\0" * (600 * 1024))  # each member alone is under the cap
    stream = _Stream(chunks=0, size=16 * 1024, payload=member * 4)
    with pytest.raises(ResponseTooLarge, match="decompressed"):
        _run(lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream), settings)


def test_a_flood_of_empty_gzip_members_is_refused(settings: Settings) -> None:
    payload = gzip.compress(FEED) + gzip.compress(b"") * MAX_GZIP_MEMBERS
    stream = _Stream(chunks=0, size=len(payload), payload=payload)  # one chunk: no per-chunk rescue
    with pytest.raises(ResponseTooLarge, match="gzip members"):
        _run(lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream), settings)
