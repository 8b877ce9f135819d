"""robots.txt (RFC 9309): parse the rules for our product token, and cache them per origin.

Parsing (`parse_robots`) is pure: the groups whose `user-agent` equals our product token
(case-insensitive) are merged, else the `*` groups; the longest matching `allow`/`disallow` pattern wins,
`allow` on a tie; `*` and a final `$` are the only special characters (matched in linear time, without
regexes, whatever the number of `*`s); `/robots.txt` is always allowed;
`Crawl-delay` (not in the RFC, widely used) is read from the chosen groups.

`RobotsCache.check(url)` fetches `/robots.txt` through the hardened fetcher (same limits and address
guard as every fetch, redirects followed by the fetcher), reads only its first 500 KiB, however long the
file, and parses them (RFC 9309 §2.5, cut at a line end; UTF-8 with or without a BOM, or UTF-16 behind
its BOM); it keeps the outcome per origin (RFC 9309 §2.3.1 and §2.4):

* 2xx: the parsed rules, for `robots_ttl_s` (24 h);
* 4xx except 429 ("unavailable"), too many redirects, a body the fetcher refuses as too large (a flood
  of gzip members), or a robots.txt the address guard refuses: no rules, everything allowed, for
  `robots_ttl_s`;
* 5xx, 429, a timeout or a network error ("unreachable"): complete disallow for `robots_error_ttl_s`
  (1 h) or the server's `Retry-After`, then asked again. The verdict says `network=True` when the host
  could not be reached at all, so the caller can report a failed fetch rather than a robots block.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

import httpx

from connectors.fetch import FetchResult, Resolver, fetch
from connectors.fulltext.politeness import Clock, HostGate
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
    "ROBOTS_FETCH_MAX_BYTES",
    "ROBOTS_MAX_BYTES",
    "RobotsCache",
    "RobotsRules",
    "RobotsVerdict",
    "parse_robots",
    "product_token",
    "robots_text",
]

ROBOTS_MAX_BYTES: Final = 500 * 1024
"""How much of a robots.txt is parsed (RFC 9309 §2.5): the rest is ignored, cut at a line end."""
ROBOTS_FETCH_MAX_BYTES: Final = ROBOTS_MAX_BYTES + 1
"""The most a robots.txt fetch reads (a longer file comes back cut): one byte past the parsed part, so a
cut file is known to go on and is parsed up to its last whole line."""
_SAFE: Final = "/?=&;:@!$'()*+,-._~%"
_HEX_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def product_token(user_agent: str) -> str:
    """The product token of a User-Agent (`Rasd/0.1 (…)` → `rasd`), lower case."""
    head = user_agent.strip().split(None, 1)[0] if user_agent.strip() else ""
    return head.split("/", 1)[0].lower()


def _normalise(value: str) -> str:
    """Percent-encode what needs it (Arabic paths included) and upper-case the escapes, so a rule
    written `/ar/مقال` and a request for `/ar/%D9%85…` compare equal."""
    encoded = quote(value, safe=_SAFE)
    return _HEX_ESCAPE.sub(lambda m: m.group(0).upper(), encoded)


@dataclass(frozen=True, slots=True)
class _Rule:
    """One allow/disallow pattern: the literal pieces between its `*`s, and whether `$` ends it."""

    allow: bool
    length: int
    parts: tuple[str, ...]
    anchored: bool

    def matches(self, path: str) -> bool:
        """Whether the pattern matches `path` from its start (RFC 9309 §2.2.3), in linear time.

        A leading piece must be a prefix; each later piece is found leftmost after the previous one
        (greedy leftmost matching is exact for patterns whose only wildcard is `*`); with `$` the last
        piece must end the path. No regex, so no backtracking whatever the number of `*`s.
        """
        parts = self.parts
        first = parts[0]
        if len(parts) == 1:
            return path == first if self.anchored else path.startswith(first)
        if not path.startswith(first):
            return False
        last = parts[-1]
        if self.anchored:
            end = len(path) - len(last)
            if end < len(first) or not path.endswith(last):
                return False
        else:
            end = len(path)
        pos = len(first)
        for part in parts[1:-1] if self.anchored else parts[1:]:
            if not part:
                continue
            found = path.find(part, pos, end)
            if found < 0:
                return False
            pos = found + len(part)
        return True


_STARS: Final = re.compile(r"\*{2,}")


def _rule(allow: bool, pattern: str) -> _Rule:
    norm = _normalise(pattern)
    anchored = norm.endswith("$")
    body = _STARS.sub("*", norm[:-1] if anchored else norm)
    return _Rule(allow=allow, length=len(norm), parts=tuple(body.split("*")), anchored=anchored)


@dataclass(frozen=True)
class RobotsRules:
    """The rules that apply to us, and the crawl delay asked for (seconds), if any."""

    rules: tuple[_Rule, ...] = ()
    crawl_delay: float | None = None

    @classmethod
    def allow_all(cls) -> RobotsRules:
        return cls()

    @classmethod
    def disallow_all(cls) -> RobotsRules:
        return cls((_rule(False, "/"),))

    def allows(self, target: str) -> bool:
        """Whether a path (with its query) may be fetched: longest match wins, allow wins a tie."""
        path = _normalise(target or "/")
        if path == "/robots.txt":
            return True
        best: _Rule | None = None
        for rule in self.rules:
            if rule.matches(path) and (
                best is None or rule.length > best.length or (rule.length == best.length and rule.allow)
            ):
                best = rule
        return True if best is None else best.allow


@dataclass
class _Group:
    agents: list[str]
    rules: list[_Rule]
    crawl_delay: float | None = None


def _groups(lines: Iterable[str]) -> list[_Group]:
    groups: list[_Group] = []
    current: _Group | None = None
    in_rules = False
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if current is None or in_rules:
                current = _Group([], [])
                groups.append(current)
                in_rules = False
            current.agents.append(product_token(value) if value != "*" else "*")
        elif key in ("allow", "disallow") and current is not None:
            in_rules = True
            if value:  # an empty `disallow:` allows everything: no rule
                current.rules.append(_rule(key == "allow", value))
        elif key == "crawl-delay" and current is not None:
            in_rules = True
            try:
                delay = float(value)
            except ValueError:
                continue
            if delay >= 0:
                current.crawl_delay = delay
    return groups


def robots_text(body: bytes) -> str:
    """The text of a fetched robots.txt: its first `ROBOTS_MAX_BYTES` cut after the last line end,
    decoded as UTF-8 (a BOM dropped) or, behind a UTF-16 BOM, as UTF-16; bad bytes are replaced."""
    utf16 = body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if len(body) > ROBOTS_MAX_BYTES:
        head = body[:ROBOTS_MAX_BYTES]
        if utf16:
            text = head[: len(head) - len(head) % 2].decode("utf-16", errors="replace")
            return text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
        body = head[: max(head.rfind(b"\n"), head.rfind(b"\r")) + 1]
    return body.decode("utf-16" if utf16 else "utf-8-sig", errors="replace")


def parse_robots(text: str, token: str) -> RobotsRules:
    """The rules of `text` that apply to the product token `token` (case-insensitive)."""
    groups = _groups(text.removeprefix("\ufeff").splitlines())
    mine = [g for g in groups if token.lower() in g.agents]
    chosen = mine or [g for g in groups if "*" in g.agents]
    delays = [g.crawl_delay for g in chosen if g.crawl_delay is not None]
    return RobotsRules(
        rules=tuple(rule for g in chosen for rule in g.rules), crawl_delay=max(delays) if delays else None
    )


@dataclass(frozen=True)
class RobotsVerdict:
    """May the URL be fetched; why; the crawl delay to honour; whether the host was unreachable."""

    allowed: bool
    reason: str
    crawl_delay: float | None = None
    network: bool = False


@dataclass(frozen=True)
class _Entry:
    rules: RobotsRules
    expires: float
    note: str
    unreachable: bool = False
    network: bool = False


def _target(url: str) -> tuple[str, str, str]:
    """(origin, host, path?query) of a URL."""
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return origin, (parts.hostname or "").lower(), target


class RobotsCache:
    """robots.txt per origin, fetched once per `ttl` (one fetch at a time per origin), bounded in size."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        resolver: Resolver | None = None,
        gate: HostGate | None = None,
        clock: Clock = time.monotonic,
        max_entries: int = 5_000,
    ) -> None:
        self.token = product_token(settings.fulltext_user_agent) or "*"
        self._settings = settings.model_copy(
            update={"fetch_max_body_bytes": min(settings.fetch_max_body_bytes, ROBOTS_FETCH_MAX_BYTES)}
        )
        self._client = client
        self._resolver = resolver
        self._gate = gate
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    async def check(self, url: str) -> RobotsVerdict:
        """Whether robots.txt lets us fetch `url`."""
        origin, host, target = _target(url)
        entry = await self._entry(origin, host)
        if entry.rules.allows(target):
            return RobotsVerdict(True, entry.note, entry.rules.crawl_delay)
        if entry.unreachable:
            return RobotsVerdict(False, entry.note, network=entry.network)
        return RobotsVerdict(
            False, f"robots.txt disallows {target} for {self.token}", entry.rules.crawl_delay
        )

    async def _entry(self, origin: str, host: str) -> _Entry:
        entry = self._fresh(origin)
        if entry is not None:
            return entry
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            entry = self._fresh(origin)  # another task fetched it while we waited
            if entry is None:
                entry = await self._load(origin, host)
                self._entries[origin] = entry
                self._entries.move_to_end(origin)
                while len(self._entries) > self._max:
                    old, _ = self._entries.popitem(last=False)
                    self._locks.pop(old, None)
        return entry

    def _fresh(self, origin: str) -> _Entry | None:
        entry = self._entries.get(origin)
        if entry is None or entry.expires <= self._clock():
            return None
        self._entries.move_to_end(origin)
        return entry

    async def _load(self, origin: str, host: str) -> _Entry:
        s = self._settings
        ok_until = self._clock() + s.fulltext_robots_ttl_s
        self.fetches += 1
        try:
            if self._gate is not None:
                async with self._gate.slot(host):
                    result = await self._fetch(origin)
            else:
                result = await self._fetch(origin)
        except HTTPStatusError as exc:
            if exc.status == 429 or exc.status >= 500:
                wait = max(s.fulltext_robots_error_ttl_s, exc.retry_after or 0.0)
                return _Entry(
                    RobotsRules.disallow_all(),
                    self._clock() + wait,
                    f"robots.txt unreachable (HTTP {exc.status}): complete disallow for {wait:.0f}s",
                    unreachable=True,
                )
            return _Entry(RobotsRules.allow_all(), ok_until, f"no robots.txt (HTTP {exc.status}): allowed")
        except (NetworkError, FetchTimeout) as exc:
            return _Entry(
                RobotsRules.disallow_all(),
                self._clock() + s.fulltext_robots_error_ttl_s,
                f"robots.txt unreachable ({type(exc).__name__}: {exc})",
                unreachable=True,
                network=True,
            )
        except (TooManyRedirects, ResponseTooLarge, FetchRefused) as exc:
            return _Entry(
                RobotsRules.allow_all(), ok_until, f"robots.txt unusable ({type(exc).__name__}): allowed"
            )
        except FetchError as exc:  # any other fetch failure: treat as unreachable, ask again later
            return _Entry(
                RobotsRules.disallow_all(),
                self._clock() + s.fulltext_robots_error_ttl_s,
                f"robots.txt unreachable ({type(exc).__name__}: {exc})",
                unreachable=True,
            )
        if result is None:  # 304 without validators cannot happen; be safe
            return _Entry(RobotsRules.allow_all(), ok_until, "robots.txt not modified: allowed")
        return _Entry(parse_robots(robots_text(result.body), self.token), ok_until, "allowed by robots.txt")

    async def _fetch(self, origin: str) -> FetchResult | None:
        return await fetch(
            f"{origin}/robots.txt",
            settings=self._settings,
            client=self._client,
            resolver=self._resolver,
            user_agent=self._settings.fulltext_user_agent,
            prefix=True,
        )
