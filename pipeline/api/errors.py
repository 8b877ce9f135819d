"""One error shape for every 4xx/5xx the API returns, and the handlers that map exceptions to it.

    {"error": {"status": 400, "code": "invalid_query", "message": "...", "field": "q"}}

`InvalidQuery` and `ConfigError` (a bad watch, an unknown entity or topic) are the user's mistakes
(400); request validation errors name the parameter (422); `SearchUnavailable` is 503 with
`Retry-After`. Anything else is a 500 that says nothing about the internals.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pipeline.errors import ConfigError, InvalidQuery, SearchUnavailable

__all__ = ["ApiError", "error_body", "install_error_handlers"]

log = logging.getLogger("rasd.api")

_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 409: "conflict", 422: "invalid"}


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


def _json(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, field), status_code=status)


def _field_of(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header", "cookie")]
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(InvalidQuery)
    async def _invalid_query(_: Request, exc: InvalidQuery) -> JSONResponse:
        return _json(400, "invalid_query", str(exc))

    @app.exception_handler(ConfigError)
    async def _config_error(_: Request, exc: ConfigError) -> JSONResponse:
        return _json(400, "invalid_request", " ".join(str(exc).split()))

    @app.exception_handler(SearchUnavailable)
    async def _unavailable(_: Request, exc: SearchUnavailable) -> JSONResponse:
        response = _json(503, "unavailable", f"search is unavailable: {exc}")
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        first_field = ""
        for e in exc.errors():
            field = _field_of(e.get("loc", ()))
            first_field = first_field or field
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{field}: {msg}" if field else msg)
        return _json(422, "invalid", "; ".join(problems) or "invalid request", first_field or None)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        response = _json(exc.status_code, code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, "internal", "internal error (see the server log)")
