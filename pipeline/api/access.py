"""Who may use the API: open on loopback, an API key anywhere else, and always a key to change watches
when one is configured.

The policy is decided once from the settings and the listen address (`access_policy`, which refuses to
serve a non-loopback address without a key unless `RASD_API_OPEN` says so) and applied to every request
by a small middleware (`install_access_control`). A key is accepted from `X-API-Key`,
`Authorization: Bearer …`, or the `rasd_api_key` cookie the web UI's login form (`/ui/login`, in
`pipeline.web.routes`) sets; comparison is constant-time. `/healthz`, the UI's static files and the
login page are always reachable.

Browsers are the other threat: a page on another site can send simple POSTs to a loopback server, and
DNS rebinding makes another site's name resolve to 127.0.0.1. So every unsafe request from another
origin (`Origin`, `Sec-Fetch-Site`) is refused, and where being on this machine is what grants access,
only requests whose `Host` names a loopback address are served. Decisions use the path routing uses
(`scope["path"]`), never `request.url`, which old Starlette rebuilt from the `Host` header.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser

from pipeline.api.errors import error_response, route_path
from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = [
    "COOKIE",
    "SECURITY_HEADERS",
    "AccessPolicy",
    "Refusal",
    "access_policy",
    "can_change",
    "cross_site",
    "host_allowed",
    "install_access_control",
    "is_loopback",
    "key_matches",
    "presented_key",
    "refusal",
    "route_path",
    "safe_next",
    "verdict",
]

COOKIE = "rasd_api_key"
_ALWAYS_OPEN = ("/healthz", "/ui/static/", "/ui/login")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# sent with every response: no framing (clickjacking of the UI's buttons), no MIME sniffing
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) only accepts connections from this machine."""
    if host.strip("[]").lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: could resolve anywhere


@dataclass(frozen=True)
class AccessPolicy:
    """`key`: the API key (None: none configured); `open_reads`: reads need no key; `local`: only
    this machine can connect, so with no key configured everything is allowed."""

    key: str | None
    open_reads: bool
    local: bool
    allowed_hosts: frozenset[str] = frozenset()  # lower case; empty: see `host_allowed`
    changes: bool = True  # watch changes allowed at all (`RASD_API_WATCH_CHANGES`)

    @property
    def trusts_locality(self) -> bool:
        """Being on this machine grants something without a key: then `Host` must name loopback."""
        return self.local and (self.key is None or self.open_reads)


def _check_key(key: str) -> None:
    """Headers are latin-1 and cookies a narrow charset: only a printable ASCII key can ever match."""
    if not key or key != key.strip() or not all(" " <= c <= "~" for c in key):
        raise ConfigError(
            "RASD_API_KEY must be printable ASCII without leading or trailing spaces (HTTP headers and "
            "cookies cannot carry anything else); generate one with `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )


def access_policy(settings: Settings, host: str) -> AccessPolicy:
    """The policy for serving on `host`; a ConfigError when that would expose the API unprotected
    or when the key could never be presented."""
    key = settings.api_key.get_secret_value() if settings.api_key else None
    if key is not None:
        _check_key(key)
    local = is_loopback(host)
    if not local and key is None and not settings.api_open:
        raise ConfigError(
            f"the API would listen on {host} without a key: set RASD_API_KEY (or RASD_API_OPEN=true for "
            "read-only access without one; watch changes then stay disabled)"
        )
    return AccessPolicy(
        key=key,
        open_reads=settings.api_open or (local and key is None),
        local=local,
        allowed_hosts=frozenset(h.strip().lower() for h in settings.api_allowed_hosts if h.strip()),
        changes=settings.api_watch_changes,
    )


def verdict(policy: AccessPolicy, method: str, path: str, presented: str | None) -> int:
    """200 to let the request through, 401 when it needs a (valid) key, 403 when nothing could do."""
    if path.startswith(_ALWAYS_OPEN) or path == "/ui/login":
        return 200
    valid = presented is not None and key_matches(policy, presented)
    if method.upper() in _SAFE_METHODS:
        return 200 if policy.open_reads or valid else 401
    # changes (watches, web forms)
    if not policy.changes:
        return 403
    if policy.key is None:
        return 200 if policy.local else 403  # exposed without a key: nobody may change watches
    return 200 if valid else 401


def can_change(policy: AccessPolicy, presented: str | None) -> bool:
    """Whether a request carrying `presented` may change watches (the UI shows its forms then)."""
    return verdict(policy, "POST", "/watches", presented) == 200


def host_allowed(policy: AccessPolicy, host: str | None) -> bool:
    """`Host` is one of `allowed_hosts` when those are given (`RASD_API_ALLOWED_HOSTS`: a server
    reachable by name, open reads, no key, cannot tell a rebound name otherwise); else it names a
    loopback address where locality is what grants access (DNS rebinding)."""
    if host is None or not (policy.allowed_hosts or policy.trusts_locality):
        return True  # no Host: not a browser
    try:
        name = urlsplit("//" + host).hostname
    except ValueError:
        return False
    if name is None or "/" in host:
        return False
    # a loopback name is no attacker's: only a browser on this machine pointed at it sends one
    return is_loopback(name) or name.lower() in policy.allowed_hosts


def cross_site(headers: Mapping[str, str]) -> bool:
    """Whether a browser says the request comes from another origin (`Sec-Fetch-Site`, `Origin`)."""
    if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = headers.get("origin")
    if origin is None:
        return False  # not sent: same-origin GET-like navigation, or not a browser
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return True
    return origin == "null" or netloc.lower() != headers.get("host", "").lower()


Refusal = tuple[int, str, str]  # status, error code, message


def refusal(policy: AccessPolicy, method: str, path: str, headers: Mapping[str, str]) -> Refusal | None:
    """Why the request may not go through (None: it may); `headers` keys in lower case."""
    if not host_allowed(policy, headers.get("host")):
        return 400, "bad_host", "this server does not answer to the name in the Host header"
    if method.upper() not in _SAFE_METHODS and cross_site(headers):
        return 403, "cross_site", "cross-site request refused"
    status = verdict(policy, method, path, presented_key(headers))
    if status == 401:
        return 401, "unauthorized", "an API key is required (X-API-Key or Authorization: Bearer)"
    if status == 403 and not policy.changes:
        return (
            403,
            "forbidden",
            (
                "watch changes are disabled here (RASD_API_WATCH_CHANGES=false): the workers keep their own "
                "watch stores, so a change would reach none of them; edit config/watchlists.yaml instead"
            ),
        )
    if status == 403:
        return 403, "forbidden", "changes are disabled: the API is open for reading and has no RASD_API_KEY"
    return None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries: `X-API-Key`, `Authorization: Bearer`, or the login cookie."""
    header = headers.get("x-api-key")
    if header:
        return header.strip()
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return cookie_parser(headers.get("cookie", "")).get(COOKIE)


def safe_next(url: str) -> str:
    """Only a path on this site is a valid place to go after login (no open redirect)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return "/ui/search"
    return url


def key_matches(policy: AccessPolicy, key: str) -> bool:
    """Constant-time check of a presented key (a typed one may hold anything: compare as UTF-8)."""
    return policy.key is not None and hmac.compare_digest(key.encode("utf-8", "replace"), policy.key.encode())


def install_access_control(app: FastAPI, policy: AccessPolicy) -> None:
    """Apply `policy` to every request (the web UI's login form reads it from `app.state.access`)."""
    app.state.access = policy

    @app.middleware("http")
    async def check_access(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refused = refusal(policy, request.method, route_path(request.scope), request.headers)
        if refused is None:
            response = await call_next(request)
        else:
            status, code, message = refused
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            response = error_response(request, status, code, message, headers=headers)
        _secure(response.headers)
        return response


def _secure(headers: MutableHeaders) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
