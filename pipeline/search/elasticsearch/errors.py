"""Elasticsearch client errors → the project's exception tree, at the boundary where the client is called.

- connection failures and timeouts, 429, 502, 503, 504 → `SearchUnavailable` (``retry_after`` from the
  ``Retry-After`` header when there is one)
- 400 on a search → `InvalidQuery`; any other error → `SearchError` (TLS and authentication
  problems are configuration errors: retrying would not help)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from elasticsearch import ApiError, ConnectionError, ConnectionTimeout, SSLError, TransportError

from pipeline.errors import InvalidQuery, SearchError, SearchUnavailable

__all__ = ["RETRYABLE_STATUSES", "complete", "error_reason", "map_errors", "retry_after"]

RETRYABLE_STATUSES = (429, 502, 503, 504)
DEFAULT_RETRY_AFTER_S = 1.0


def retry_after(exc: ApiError) -> float:
    """Seconds from the response's ``Retry-After`` header, else a default."""
    value = exc.meta.headers.get("retry-after") if exc.meta is not None else None
    try:
        return max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


def error_reason(error: Any) -> str:
    """One line from an error object of a response (``{"type", "reason", "caused_by"}``) or a string."""
    if isinstance(error, Mapping):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
        cause = error.get("caused_by")
        if isinstance(cause, Mapping):
            text += f" (caused by {error_reason(cause)})"
        return text
    return str(error)


def _api_reason(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, Mapping) and "error" in body:
        return error_reason(body["error"])
    return str(exc.message)


@contextmanager
def map_errors(action: str, *, query: bool = False) -> Iterator[None]:
    """Translate client errors raised in the block; `query` makes a 400 an `InvalidQuery`."""
    try:
        yield
    except ApiError as exc:
        status = exc.status_code
        reason = _api_reason(exc)
        if status in RETRYABLE_STATUSES:
            raise SearchUnavailable(
                f"elasticsearch busy while {action} (HTTP {status}): {reason}", retry_after=retry_after(exc)
            ) from exc
        if status == 400 and query:
            raise InvalidQuery(f"elasticsearch rejected the query: {reason}") from exc
        raise SearchError(f"elasticsearch failed while {action} (HTTP {status}): {reason}") from exc
    except SSLError as exc:
        raise SearchError(f"TLS to elasticsearch failed while {action}: {exc}") from exc
    except (ConnectionError, ConnectionTimeout) as exc:
        raise SearchUnavailable(
            f"elasticsearch unreachable while {action}: {exc}", retry_after=DEFAULT_RETRY_AFTER_S
        ) from exc
    except TransportError as exc:
        raise SearchError(f"elasticsearch transport failed while {action}: {exc}") from exc


def complete(body: Mapping[str, Any], action: str) -> Mapping[str, Any]:
    """`body` of a search or count that every shard answered in time; else `SearchUnavailable`.

    Searches send `allow_partial_search_results=false`, but a shard can still time out, and a 200
    with `_shards.failed` would be read as the whole answer: totals and facets reported exact, and a
    scan that ends early (a re-analysis then marking indices current that it never reached).
    """
    shards = body.get("_shards") or {}
    failed = int(shards.get("failed") or 0)
    if failed or body.get("timed_out"):
        total = shards.get("total", "?")
        first = (shards.get("failures") or [{}])[0]
        why = f": {error_reason(first.get('reason'))}" if first.get("reason") else ""
        raise SearchUnavailable(
            f"elasticsearch answered while {action} from {total - failed if isinstance(total, int) else '?'} "
            f"of {total} shards{' (timed out)' if body.get('timed_out') else ''}{why}",
            retry_after=DEFAULT_RETRY_AFTER_S,
        )
    return body
