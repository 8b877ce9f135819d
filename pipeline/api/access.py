"""Who may use the API: open on loopback, an API key anywhere else, and always a key to change watches
when one is configured.

The policy is decided once from the settings and the listen address (`access_policy`, which refuses to
serve a non-loopback address without a key unless `RASD_API_OPEN` says so) and applied to every request
by a small middleware (`install_access_control`). A key is accepted from `X-API-Key`,
`Authorization: Bearer …`, or the `rasd_api_key` cookie the web UI's login form (`/ui/login`, in
`pipeline.web.routes`) sets; comparison is constant-time. `/healthz`, the UI's static files and the
login page are always reachable.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from pipeline.api.errors import error_body
from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = [
    "COOKIE",
    "AccessPolicy",
    "access_policy",
    "install_access_control",
    "is_loopback",
    "key_matches",
    "safe_next",
    "verdict",
]

COOKIE = "rasd_api_key"
_ALWAYS_OPEN = ("/healthz", "/ui/static/", "/ui/login")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def access_policy(settings: Settings, host: str) -> AccessPolicy:
    """The policy for serving on `host`; a ConfigError when that would expose the API unprotected."""
    key = settings.api_key.get_secret_value() if settings.api_key else None
    local = is_loopback(host)
    if not local and key is None and not settings.api_open:
        raise ConfigError(
            f"the API would listen on {host} without a key: set RASD_API_KEY (or RASD_API_OPEN=true for "
            "read-only access without one; watch changes then stay disabled)"
        )
    return AccessPolicy(key=key, open_reads=settings.api_open or (local and key is None), local=local)


def verdict(policy: AccessPolicy, method: str, path: str, presented: str | None) -> int:
    """200 to let the request through, 401 when it needs a (valid) key, 403 when nothing could do."""
    if path.startswith(_ALWAYS_OPEN) or path == "/ui/login":
        return 200
    valid = (
        policy.key is not None
        and presented is not None
        and hmac.compare_digest(presented.encode(), policy.key.encode())
    )
    if method.upper() in _SAFE_METHODS:
        return 200 if policy.open_reads or valid else 401
    # changes (watches, web forms)
    if policy.key is None:
        return 200 if policy.local else 403  # exposed without a key: nobody may change watches
    return 200 if valid else 401


def _presented(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header.strip()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE)


def safe_next(url: str) -> str:
    """Only a path on this site is a valid place to go after login (no open redirect)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return "/ui/search"
    return url


def key_matches(policy: AccessPolicy, key: str) -> bool:
    """Constant-time check of a key typed into the web UI's login form."""
    return policy.key is not None and hmac.compare_digest(key.encode(), policy.key.encode())


def install_access_control(app: FastAPI, policy: AccessPolicy) -> None:
    """Apply `policy` to every request (the web UI's login form reads it from `app.state.access`)."""
    app.state.access = policy

    @app.middleware("http")
    async def check_access(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        status = verdict(policy, request.method, request.url.path, _presented(request))
        if status == 200:
            return await call_next(request)
        if request.url.path.startswith("/ui/") and request.method.upper() in _SAFE_METHODS:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)
        message = (
            "an API key is required (X-API-Key or Authorization: Bearer)"
            if status == 401
            else "changes are disabled: the API is open for reading and has no RASD_API_KEY"
        )
        code = "unauthorized" if status == 401 else "forbidden"
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(status, code, message), status_code=status, headers=headers)
