"""Polite, bounded HTTP fetching of feed documents; the only module that imports httpx.

What the fetcher guarantees, whatever the server does:

* only `http`/`https` URLs are requested; anything else is `FetchRefused` before any I/O;
* the host must resolve to public addresses (no loopback, private, link-local, reserved, multicast,
  unspecified or CGNAT; IPv4-mapped IPv6 is unwrapped), unless it is in `settings.fetch_allowed_hosts`;
* redirects are followed by hand, re-checking scheme and address at every hop, at most
  `settings.fetch_max_redirects` times, and a loop is `TooManyRedirects`;
* connect/read/write/pool timeouts per phase, plus a total deadline for the whole fetch (`FetchTimeout`);
* the body is streamed and decompressed here in bounded steps, so neither a long body nor a gzip bomb is
  ever held beyond `settings.fetch_max_body_bytes` + one small chunk (`ResponseTooLarge`); a gzip body
  of several members (RFC 1952) is decompressed whole, under the same cap, up to `MAX_GZIP_MEMBERS`
  members (a flood of empty members would cost CPU for no output); a caller that can use the start of a
  long body (robots.txt: RFC 9309 parses a prefix) asks for `prefix=True` and gets the first
  `fetch_max_body_bytes` bytes, flagged `truncated`, instead of the error;
* conditional GET (`If-None-Match`, `If-Modified-Since`); 304 returns None, the only `None` there is;
  a validator that is not printable ASCII is neither returned nor sent (it could never be sent back);
* whatever goes wrong while a request is built is a `FetchError`, never a bare library exception;
* non-success statuses raise `HTTPStatusError`, with `retry_after` parsed for 429 and 503.

Known limit: the address check resolves the name itself and httpx resolves it again to connect, so a DNS
server that answers differently within milliseconds (rebinding) is not caught; a pinned-address transport
would close that gap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

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

__all__ = [
    "MAX_GZIP_MEMBERS",
    "FetchResult",
    "Resolver",
    "fetch",
    "make_client",
    "parse_max_age",
    "parse_retry_after",
    "system_resolver",
]

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""`(host, port) -> [address, ...]`; injectable so tests can fake DNS."""

ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
ACCEPT: Final = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
# Only codecs we can decompress in bounded steps; httpx would inflate a whole network chunk at once.
ACCEPT_ENCODING: Final = "gzip, deflate"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES: Final = frozenset({429, 503})
_DECOMPRESS_STEP: Final = 64 * 1024
# compressed input is handed to zlib in pieces this size, so what is left after a member end is small
_INPUT_STEP: Final = 64 * 1024
MAX_GZIP_MEMBERS: Final = 1_000
_GZIP_MAGIC: Final = b"\x1f\x8b"
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)
# an ETag or Last-Modified we can send back: printable ASCII only (httpx cannot encode anything else)
_VALIDATOR = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful (2xx) response: the decompressed body and the caching metadata."""

    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    redirects: int = 0
    truncated: bool = False


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the event loop's getaddrinfo (no blocking of the loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def make_client(
    settings: Settings, *, verify: bool = True, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An AsyncClient with split timeouts, no automatic redirects and no proxy/env surprises.

    `transport` replaces the network transport (tests wrap the real one to count the bytes read).
    """
    timeout = httpx.Timeout(
        connect=settings.fetch_connect_timeout_s,
        read=settings.fetch_read_timeout_s,
        write=settings.fetch_read_timeout_s,
        pool=settings.fetch_connect_timeout_s,
    )
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        verify=verify,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        transport=transport,
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_max_age(cache_control: str | None) -> int | None:
    """`max-age` seconds from Cache-Control, or None."""
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return int(match.group(1)) if match else None


def _is_public(address: str) -> bool:
    """True when an IP address is globally routable unicast."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        return False
    if ip.is_private or ip.is_reserved or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return False
    return ip.is_global


def _validator(value: str | None, *, name: str, url: str) -> str | None:
    """`value` when it can be sent back as a request header (printable ASCII), else None (logged)."""
    if value is None or _VALIDATOR.fullmatch(value):
        return value
    logger.warning("ignoring a validator that is not printable ASCII", extra={"header": name, "url": url})
    return None


def _host_allowed(host: str, settings: Settings) -> bool:
    allowed = {h.lower().rstrip(".") for h in settings.fetch_allowed_hosts}
    return host in allowed


async def _check_target(url: str, settings: Settings, resolver: Resolver) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to non-public addresses."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchRefused(f"fetcher: invalid URL: {exc}", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise FetchRefused(f"fetcher: scheme {scheme or '(none)'!r} is not allowed", url=url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise FetchRefused("fetcher: URL has no host", url=url)
    if _host_allowed(host, settings):
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            addresses = await resolver(host, port or (443 if scheme == "https" else 80))
        except (OSError, UnicodeError) as exc:
            raise NetworkError(f"fetcher: cannot resolve {host!r}: {exc}", url=url) from exc
    if not addresses:
        raise NetworkError(f"fetcher: {host!r} resolved to no address", url=url)
    for address in addresses:
        if not _is_public(address):
            raise FetchRefused(f"fetcher: {host!r} resolves to non-public address {address}", url=url)


@contextmanager
def _map_httpx_errors(url: str) -> Iterator[None]:
    """Translate httpx exceptions into the Rasd tree at the library boundary."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise FetchTimeout(f"fetcher: timed out ({type(exc).__name__})", url=url) from exc
    except httpx.TooManyRedirects as exc:
        raise TooManyRedirects(f"fetcher: {exc}", url=url) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise FetchRefused(f"fetcher: {exc}", url=url) from exc
    except httpx.HTTPError as exc:
        raise NetworkError(f"fetcher: {type(exc).__name__}: {exc}", url=url) from exc


class _TooManyMembers(Exception):
    """More than `MAX_GZIP_MEMBERS` gzip members in one body."""


class _Inflater:
    """Incremental, bounded decompression: never expands more than `step` bytes per call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        # 32 + MAX_WBITS accepts gzip and zlib headers; raw deflate is retried on the first error
        self._zobj = zlib.decompressobj(32 + zlib.MAX_WBITS) if encoding else None
        self._started = False
        # after the end of a stream: bytes too few to tell whether another gzip member follows
        self._pending = b""
        self._members = 1

    def feed(self, chunk: bytes, step: int) -> Iterator[bytes]:
        if self._zobj is None:
            yield chunk
            return
        for start in range(0, len(chunk), _INPUT_STEP):
            yield from self._feed(chunk[start : start + _INPUT_STEP], step)

    def _feed(self, chunk: bytes, step: int) -> Iterator[bytes]:
        assert self._zobj is not None
        data = self._pending + chunk
        self._pending = b""
        while True:
            if self._zobj.eof:
                # RFC 1952: a gzip file may hold several members back to back; anything else after the
                # end of the stream is ignored
                if len(data) < len(_GZIP_MAGIC) and _GZIP_MAGIC.startswith(data):
                    self._pending = data
                    return
                if not data.startswith(_GZIP_MAGIC):
                    return
                self._members += 1
                if self._members > MAX_GZIP_MEMBERS:
                    raise _TooManyMembers
                self._zobj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = self._zobj.decompress(data, step)
            except zlib.error:
                if self.encoding != "deflate" or self._started:
                    raise
                self._zobj = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._zobj.decompress(data, step)
            self._started = True
            data = self._zobj.unused_data if self._zobj.eof else self._zobj.unconsumed_tail
            if out:
                yield out
            # a full step may leave output pending inside zlib even when all input is consumed
            if not self._zobj.eof and not data and len(out) < step:
                return


async def _read_body(
    response: httpx.Response, *, url: str, limit: int, prefix: bool = False
) -> tuple[bytes, bool]:
    """Stream and decompress the body, stopping as soon as it would exceed `limit` bytes: an error, or
    with `prefix` the first `limit` bytes and True (cut)."""
    declared_length = response.headers.get("content-length", "")
    coding = response.headers.get("content-encoding", "").strip().lower()
    declared_over = declared_length.isdigit() and int(declared_length) > limit
    if coding in ("", "identity") and declared_over and not prefix:
        raise ResponseTooLarge(f"fetcher: Content-Length {declared_length} exceeds {limit} bytes", url=url)
    if response.is_stream_consumed:
        # a transport that pre-read the body (httpx does so for in-memory content) has decoded it already
        if len(response.content) > limit:
            if prefix:
                return response.content[:limit], True
            raise ResponseTooLarge(f"fetcher: body exceeds {limit} bytes", url=url)
        return response.content, False
    if coding in ("gzip", "x-gzip"):
        inflater = _Inflater("gzip")
    elif coding == "deflate":
        inflater = _Inflater("deflate")
    elif coding in ("", "identity"):
        inflater = _Inflater("")
    else:
        raise NetworkError(f"fetcher: unsupported Content-Encoding {coding!r}", url=url)
    chunks: list[bytes] = []
    total = 0
    try:
        async for raw in response.aiter_raw():
            if not inflater.encoding and not chunks and raw.startswith(_GZIP_MAGIC):
                # a .gz file served without Content-Encoding: detect compression by magic bytes
                inflater = _Inflater("gzip")
            for piece in inflater.feed(raw, _DECOMPRESS_STEP):
                if total + len(piece) > limit:
                    if prefix:
                        chunks.append(piece[: limit - total])
                        return b"".join(chunks), True
                    raise ResponseTooLarge(f"fetcher: body exceeds {limit} bytes (decompressed)", url=url)
                total += len(piece)
                chunks.append(piece)
    except zlib.error as exc:
        raise NetworkError(f"fetcher: corrupt {coding or 'gzip'} body: {exc}", url=url) from exc
    except _TooManyMembers as exc:
        raise ResponseTooLarge(f"fetcher: more than {MAX_GZIP_MEMBERS} gzip members", url=url) from exc
    return b"".join(chunks), False


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    """(media type, charset) from a Content-Type header."""
    if not value:
        return None, None
    media, *params = value.split(";")
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return media.strip().lower() or None, charset


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


async def _handle(
    response: httpx.Response, *, url: str, settings: Settings, redirects: int, prefix: bool = False
) -> FetchResult | None:
    """Turn a final (non-redirect) response into a result, None (304) or an error."""
    status = response.status_code
    final_url = str(response.url)
    if status == 304:
        return None
    if status < 200 or status >= 300:
        retry_after = (
            parse_retry_after(response.headers.get("retry-after")) if status in _RETRY_STATUSES else None
        )
        raise HTTPStatusError(
            f"fetcher: HTTP {status} {response.reason_phrase}".rstrip(),
            url=final_url,
            status=status,
            retry_after=retry_after,
        )
    body, truncated = await _read_body(
        response, url=final_url, limit=settings.fetch_max_body_bytes, prefix=prefix
    )
    media, charset = _content_type(response.headers.get("content-type"))
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() != "content-encoding"}
    headers.pop("content-length", None)  # the body is decompressed; the wire length no longer applies
    return FetchResult(
        url=url,
        final_url=final_url,
        status=status,
        body=body,
        content_type=media,
        charset=charset,
        etag=_validator(response.headers.get("etag"), name="ETag", url=final_url),
        last_modified=_validator(response.headers.get("last-modified"), name="Last-Modified", url=final_url),
        max_age=parse_max_age(response.headers.get("cache-control")),
        headers=headers,
        redirects=redirects,
        truncated=truncated,
    )


def _build_request(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Request:
    """The GET request; a failure to build it (a header value httpx cannot encode...) is a FetchError."""
    try:
        return client.build_request("GET", url, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL):
        raise  # translated by `_map_httpx_errors`
    except Exception as exc:
        raise FetchError(f"fetcher: cannot build the request: {type(exc).__name__}: {exc}", url=url) from exc


async def _fetch(
    url: str,
    *,
    settings: Settings,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    resolver: Resolver,
    prefix: bool = False,
) -> FetchResult | None:
    current = _without_fragment(url)
    visited = {current}
    for hop in range(settings.fetch_max_redirects + 1):
        await _check_target(current, settings, resolver)
        with _map_httpx_errors(current):
            request = _build_request(client, current, headers)
            response = await client.send(request, stream=True, follow_redirects=False)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                target = _without_fragment(urljoin(str(response.url), location.strip()))
                if target in visited:
                    raise TooManyRedirects(f"fetcher: redirect loop back to {target}", url=url)
                visited.add(target)
                current = target
                continue
            with _map_httpx_errors(current):
                return await _handle(response, url=url, settings=settings, redirects=hop, prefix=prefix)
        finally:
            await response.aclose()
    raise TooManyRedirects(f"fetcher: more than {settings.fetch_max_redirects} redirects", url=url)


@asynccontextmanager
async def _client_for(
    settings: Settings, client: httpx.AsyncClient | None
) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return
    async with make_client(settings) as own:
        yield own


async def fetch(
    url: str,
    *,
    settings: Settings,
    client: httpx.AsyncClient | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    resolver: Resolver | None = None,
    user_agent: str | None = None,
    prefix: bool = False,
) -> FetchResult | None:
    """GET a feed URL within the limits above; None means 304 Not Modified.

    Args:
        url: http(s) URL of the feed.
        settings: timeouts, body cap, redirect limit, allowed hosts and user agent.
        client: a shared client (tests inject `httpx.MockTransport`); one is made and closed otherwise.
        etag: ETag from the last 200, sent as If-None-Match.
        last_modified: Last-Modified from the last 200, sent as If-Modified-Since.
        resolver: DNS resolver for the address guard; `system_resolver` by default.
        user_agent: overrides `settings.user_agent` (per-feed user agent).
        prefix: a body over `settings.fetch_max_body_bytes` comes back cut to it (`truncated`) instead
            of raising `ResponseTooLarge`; for documents whose start is usable alone.

    Raises:
        FetchRefused, NetworkError, FetchTimeout, TooManyRedirects, ResponseTooLarge, HTTPStatusError.
    """
    headers = {
        "User-Agent": user_agent or settings.user_agent,
        "Accept": ACCEPT,
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    # validators saved before they were checked on receipt may still be unsendable
    etag = _validator(etag, name="ETag", url=url)
    last_modified = _validator(last_modified, name="Last-Modified", url=url)
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(settings.fetch_total_timeout_s):
            async with _client_for(settings, client) as active:
                return await _fetch(
                    url,
                    settings=settings,
                    client=active,
                    headers=headers,
                    resolver=resolver or system_resolver,
                    prefix=prefix,
                )
    except FetchError:
        raise
    except TimeoutError as exc:
        raise FetchTimeout(
            f"fetcher: total deadline of {settings.fetch_total_timeout_s}s exceeded", url=url
        ) from exc
