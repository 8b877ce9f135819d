"""robots.txt: RFC 9309 matching, and the per-origin cache's answers to 2xx, 4xx, 5xx and network errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.fulltext.robots import RobotsCache, RobotsRules, parse_robots, product_token
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
