"""robots.txt: RFC 9309 matching, and the per-origin cache's answers to 2xx, 4xx, 5xx and network errors."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.fulltext.robots import (
    ROBOTS_MAX_BYTES,
    RobotsCache,
    RobotsRules,
    parse_robots,
    product_token,
    robots_text,
)
from pipeline.settings import Settings
from tests.connectors.conftest import public_resolver

ROBOTS = """
# comments and blank lines are ignored
User-agent: *
Disallow: /private/
Allow: /private/open/
Disallow: /*.pdf$
Disallow: /search?
Crawl-delay: 2

User-agent: OtherBot
Disallow: /

User-agent: rasd
User-agent: SomeoneElse
Disallow: /ar/مقالات-خاصة/
Allow: /ar/
Disallow: /ar/admin
Crawl-delay: 5
"""


@pytest.mark.parametrize(
    ("token", "path", "allowed"),
    [
        ("googlebot", "/", True),
        ("googlebot", "/private/x", False),
        ("googlebot", "/private/open/x", True),  # longer allow wins
        ("googlebot", "/doc.pdf", False),
        ("googlebot", "/doc.pdf?x=1", True),  # $ anchors the end
        ("googlebot", "/search?q=بوتين", False),
        ("googlebot", "/search", True),
        ("googlebot", "/robots.txt", True),
        ("otherbot", "/anything", False),
        ("rasd", "/private/x", True),  # our own group replaces the * group
        ("rasd", "/ar/مقالات-خاصة/1", False),
        ("rasd", "/ar/%D9%85%D9%82%D8%A7%D9%84%D8%A7%D8%AA-%D8%AE%D8%A7%D8%B5%D8%A9/1", False),
        ("rasd", "/ar/admin", False),  # the longer disallow beats the shorter allow
        ("rasd", "/ar/news/1", True),
    ],
)
def test_rules(token: str, path: str, allowed: bool) -> None:
    assert parse_robots(ROBOTS, token).allows(path) is allowed


def test_allow_wins_a_tie_and_empty_disallow_allows() -> None:
    tie = parse_robots("User-agent: *\nDisallow: /page\nAllow: /page\n", "rasd")
    assert tie.allows("/page")
    assert parse_robots("User-agent: *\nDisallow:\n", "rasd").allows("/x")
    assert parse_robots("", "rasd").allows("/x")
    assert parse_robots("Disallow: /\n", "rasd").allows("/x")  # rules outside any group are ignored


def test_crawl_delay_and_product_token() -> None:
    assert parse_robots(ROBOTS, "rasd").crawl_delay == 5
    assert parse_robots(ROBOTS, "googlebot").crawl_delay == 2
    assert product_token("Rasd/0.1 (Arabic news monitor)") == "rasd"
    assert RobotsRules.disallow_all().allows("/robots.txt")
    assert not RobotsRules.disallow_all().allows("/")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cache(
    handler: Callable[[httpx.Request], httpx.Response], settings: Settings, clock: Clock
) -> tuple[RobotsCache, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return RobotsCache(settings, client=client, resolver=public_resolver, clock=clock), client


def _check(cache: RobotsCache, client: httpx.AsyncClient, *urls: str) -> list[Any]:
    async def go() -> list[Any]:
        try:
            return [await cache.check(u) for u in urls]
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_2xx_rules_are_cached_per_origin(settings: Settings) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, text="User-agent: *\nDisallow: /no\n")

    cache, client = _cache(handler, settings, Clock())
    ok, no, other = _check(
        cache, client, "https://a.example/yes", "https://a.example/no", "https://b.example/no"
    )
    assert ok.allowed and not no.allowed and not other.allowed
    assert calls == ["https://a.example/robots.txt", "https://b.example/robots.txt"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_4xx_means_allowed(settings: Settings, status: int) -> None:
    cache, client = _cache(lambda r: httpx.Response(status), settings, Clock())
    (verdict,) = _check(cache, client, "https://a.example/x")
    assert verdict.allowed and f"HTTP {status}" in verdict.reason


@pytest.mark.parametrize("status", [500, 503, 429])
def test_5xx_disallows_for_a_while_then_asks_again(settings: Settings, status: int) -> None:
    calls: list[int] = []
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status) if len(calls) == 1 else httpx.Response(200, text="")

    cache, client = _cache(handler, settings, clock)

    async def go() -> list[bool]:
        try:
            first = await cache.check("https://a.example/x")
            second = await cache.check("https://a.example/y")
            clock.now += settings.fulltext_robots_error_ttl_s + 1
            third = await cache.check("https://a.example/x")
            return [first.allowed, second.allowed, third.allowed, "unreachable" in first.reason]
        finally:
            await client.aclose()

    assert asyncio.run(go()) == [False, False, True, True]
    assert len(calls) == 2


def test_network_error_is_unreachable_and_flagged(settings: Settings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    cache, client = _cache(handler, settings, Clock())
    (verdict,) = _check(cache, client, "https://a.example/x")
    assert not verdict.allowed and verdict.network and "unreachable" in verdict.reason


def test_concurrent_checks_fetch_once(settings: Settings) -> None:
    calls: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        await asyncio.sleep(0)
        return httpx.Response(200, text="User-agent: *\nAllow: /\n")

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    cache = RobotsCache(settings, client=client, resolver=public_resolver, clock=Clock())

    async def go() -> None:
        try:
            verdicts = await asyncio.gather(*(cache.check(f"https://a.example/{i}") for i in range(5)))
            assert all(v.allowed for v in verdicts)
        finally:
            await client.aclose()

    asyncio.run(go())
    assert len(calls) == 1


def _oracle(pattern: str, path: str) -> bool:
    """RFC 9309 matching spelled as a regex (fine for these tiny inputs): `*` any run, final `$` end."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*")) + ("$" if anchored else "")
    return re.match(regex, path, re.DOTALL) is not None


@pytest.mark.parametrize(
    "pattern",
    ["/a", "/a$", "/*.amp", "/*.amp$", "/a*b*c", "/a*b*c$", "/*a*a$", "/**", "/*$", "/a**$", "/x*/y*", "/$"],
)
@pytest.mark.parametrize(
    "path",
    ["/", "/a", "/ab", "/abc", "/abcx", "/axbxc", "/aa", "/x.amp", "/x.amp?y", "/x/y", "/x/q/y", "/ba"],
)
def test_wildcard_matching_agrees_with_the_rfc(pattern: str, path: str) -> None:
    rules = parse_robots(f"User-agent: *\nDisallow: {pattern}\n", "rasd")
    assert rules.allows(path) is not _oracle(pattern, path)


def test_runs_of_stars_are_collapsed_and_matched_without_a_regex() -> None:
    slug = "/news/2024-05-01-minister-says-talks-will-resume-next-week-in-the-capital-after-a-pause" * 3
    rules = parse_robots("User-agent: *\nDisallow: /******.amp\nDisallow: /" + "*" * 200 + "x$\n", "rasd")
    (amp, x) = rules.rules
    assert amp.parts == ("/", ".amp") and not amp.anchored
    assert x.parts == ("/", "x") and x.anchored
    assert not any(isinstance(v, re.Pattern) for rule in rules.rules for v in vars_of(rule))
    assert rules.allows(slug)  # no ".amp", no final "x": allowed (and answered at once)
    assert not rules.allows(slug + ".amp") and not rules.allows(slug + "x")


def vars_of(rule: object) -> list[object]:
    return [getattr(rule, name) for name in getattr(rule, "__slots__", ())]


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n",
        "User-agent: *\nDisallow: /\n".encode("utf-16"),  # with its BOM, in the machine's order
        "\ufeffUser-agent: *\nDisallow: /\n".encode("utf-16-be"),
    ],
)
def test_a_bom_or_utf16_robots_txt_is_read(settings: Settings, body: bytes) -> None:
    assert robots_text(body).startswith("User-agent: *\n")
    assert not parse_robots("\ufeffUser-agent: *\nDisallow: /\n", "rasd").allows("/a")
    cache, client = _cache(lambda r: httpx.Response(200, content=body), settings, Clock())
    (verdict,) = _check(cache, client, "https://a.example/a")
    assert not verdict.allowed and "disallows" in verdict.reason


def test_only_the_first_500_kib_are_parsed_cut_at_a_line_end() -> None:
    head = b"User-agent: *\nDisallow: /first\n"
    pad = b"#" * (ROBOTS_MAX_BYTES - 10 - len(head) - 1) + b"\n"  # the next line starts 10 bytes short
    body = head + pad + b"Disallow: /straddles-the-limit\n"
    body += b"Disallow: /late\n"
    assert len(body) > ROBOTS_MAX_BYTES
    text = robots_text(body)
    assert len(text.encode()) <= ROBOTS_MAX_BYTES and text.endswith("\n")
    rules = parse_robots(text, "rasd")
    assert not rules.allows("/first")
    assert rules.allows("/straddles-the-limit") and rules.allows("/late")  # past 500 KiB: ignored
    utf16 = robots_text(body.decode().encode("utf-16"))
    assert utf16.startswith("User-agent: *\n") and utf16.endswith("\n") and "/late" not in utf16


@pytest.mark.parametrize("size", [600_000, 5_000_000])
@pytest.mark.parametrize("gzipped", [False, True])
def test_a_long_robots_txt_is_parsed_from_its_first_500_kib(
    settings: Settings, size: int, gzipped: bool
) -> None:
    # a file past the read limit used to be "unusable", so everything was allowed
    head = b"User-agent: *\nDisallow: /private\n"
    body = head + b"# padding\n" * ((size - len(head)) // 10) + b"Disallow: /late\n"
    wire = gzip.compress(body) if gzipped else body
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    cache, client = _cache(lambda r: httpx.Response(200, content=wire, headers=headers), settings, Clock())
    (private, late) = _check(cache, client, "https://a.example/private/x", "https://a.example/late")
    assert not private.allowed and "disallows" in private.reason
    assert late.allowed  # past the parsed 500 KiB: ignored
