"""One error shape for every 4xx/5xx the API returns, and the handlers that map exceptions to it.

    {"error": {"status": 400, "code": "invalid_query", "message": "...", "field": "q"}}

`InvalidQuery` and `ConfigError` (a bad watch, an unknown entity or topic) are the user's mistakes
(400); request validation errors name the parameter (422); `SearchUnavailable` and any other
`SearchError` (a damaged index, say) are 503 with `Retry-After`. Anything else is a 500 that says
nothing about the internals. Under `/ui/` the web UI renders the same errors as HTML pages (the
`ui_error` hook `pipeline.web.mount_web` puts on `app.state`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Scope

from pipeline.alerts.watchstore import WatchConflict
from pipeline.errors import ConfigError, InvalidQuery, SearchError, SearchUnavailable

__all__ = ["ApiError", "UiError", "error_body", "error_response", "install_error_handlers", "route_path"]

# the web UI's page for an error under /ui/: (request, status, message) -> response
UiError = Callable[[Request, int, str], Response]

log = logging.getLogger("rasd.api")

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
}


class ApiError(Exception):
    """Raised by handlers for a request that cannot be served: status, stable code, message, field."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.field = field


def error_body(status: int, code: str, message: str, field: str | None = None) -> dict[str, object]:
    """The JSON error document."""
    err: dict[str, object] = {"status": status, "code": code, "message": message}
    if field:
        err["field"] = field
    return {"error": err}


def route_path(scope: Scope) -> str:
    """The path routing matches (`scope["path"]` less `root_path`): what to decide on, never
    `request.url`, which old Starlette rebuilt from the `Host` header."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (path == root or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The JSON error document, or the web UI's error page for a `/ui/` request."""
    ui: UiError | None = getattr(request.app.state, "ui_error", None)
    if ui is not None and route_path(request.scope).startswith("/ui/"):
        response = ui(request, status, message)
    else:
        response = JSONResponse(error_body(status, code, message, field), status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_of(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header", "cookie")]
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(InvalidQuery)
    async def _invalid_query(request: Request, exc: InvalidQuery) -> Response:
        return error_response(request, 400, "invalid_query", str(exc))

    @app.exception_handler(ConfigError)
    async def _config_error(request: Request, exc: ConfigError) -> Response:
        if isinstance(exc, WatchConflict):  # someone else changed it meanwhile: read again, retry
            return error_response(request, 409, "conflict", " ".join(str(exc).split()))
        return error_response(request, 400, "invalid_request", " ".join(str(exc).split()))

    @app.exception_handler(SearchUnavailable)
    async def _unavailable(request: Request, exc: SearchUnavailable) -> Response:
        retry = str(max(1, math.ceil(exc.retry_after)))
        return error_response(
            request, 503, "unavailable", f"search is unavailable: {exc}", headers={"Retry-After": retry}
        )

    @app.exception_handler(SearchError)
    async def _search_error(request: Request, exc: SearchError) -> Response:
        """The backend failed (not the query): the service is unavailable, not broken by the caller."""
        log.error("search backend error: %s", exc)
        return error_response(
            request, 503, "unavailable", "search failed (see the server log)", headers={"Retry-After": "30"}
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        first_field = ""
        for e in exc.errors():
            field = _field_of(e.get("loc", ()))
            first_field = first_field or field
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{field}: {msg}" if field else msg)
        message = "; ".join(problems) or "invalid request"
        return error_response(request, 422, "invalid", message, first_field or None)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        return error_response(request, exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return error_response(request, 500, "internal", "internal error (see the server log)")
