"""An in-process test double of the async Python client: real client class, scripted answers.

`FakeClient` subclasses `AsyncElasticsearch` (so `helpers.async_streaming_bulk` runs for real on it)
and overrides the API methods the backend calls. Answers follow the response shapes documented in
the Elasticsearch REST API reference (bulk items with ``status``/``error``, multi-get ``docs`` with
``found``, search ``hits``/``aggregations``); nothing here listens on a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elastic_transport import ApiResponseMeta, HeadApiResponse, HttpHeaders, NodeConfig, ObjectApiResponse
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.exceptions import HTTP_EXCEPTIONS

NODE = NodeConfig("http", "es.invalid", 9200)


def meta(status: int = 200, headers: dict[str, str] | None = None) -> ApiResponseMeta:
    return ApiResponseMeta(
        status=status, http_version="1.1", headers=HttpHeaders(headers or {}), duration=0.0, node=NODE
    )


def response(body: dict[str, Any], status: int = 200) -> ObjectApiResponse[Any]:
    return ObjectApiResponse(body=body, meta=meta(status))


def api_error(status: int, error_type: str, reason: str, headers: dict[str, str] | None = None) -> ApiError:
    body = {
        "error": {
            "type": error_type,
            "reason": reason,
            "root_cause": [{"type": error_type, "reason": reason}],
        }
    }
    # the class the client raises for that status (BadRequestError for 400, …), as the client does
    cls = HTTP_EXCEPTIONS.get(status, ApiError)
    return cls(error_type, meta=meta(status, headers), body=body)


# (id, attempt) -> status of that document's bulk item; attempt counts from 0 per id
BulkRule = Callable[[str, int], int]

ERRORS = {
    400: {
        "type": "document_parsing_exception",
        "reason": "[1:42] failed to parse field [published] of type [date] in document with id 'x'",
        "caused_by": {
            "type": "illegal_argument_exception",
            "reason": "failed to parse date field [yesterday]",
        },
    },
    429: {
        "type": "es_rejected_execution_exception",
        "reason": "rejected execution of coordinating operation",
    },
    503: {
        "type": "unavailable_shards_exception",
        "reason": "[rasd-articles-000001][0] primary shard is not active",
    },
}


@dataclass
class Namespace:
    """`client.indices` / `client.ilm`: records calls, answers from `answers` (name -> value or callable)."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)

        async def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            answer = self.answers.get(name, {"acknowledged": True})
            if callable(answer):
                answer = answer(**kwargs)
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, bool):
                return HeadApiResponse(meta=meta(200 if answer else 404))  # exists_*: HEAD requests
            return response(answer)

        return call

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class FakeClient(AsyncElasticsearch):
    """Scripted answers per API; `bulk_rule` decides each bulk item's status, `bulk_errors` whole requests."""

    def __init__(
        self,
        *,
        bulk_rule: BulkRule | None = None,
        bulk_errors: list[Exception] | None = None,
        indices: list[str] | None = None,
        stored: dict[tuple[str, str], dict[str, Any]] | None = None,
        search_responses: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__("http://es.invalid:9200")
        self.bulk_rule = bulk_rule or (lambda _id, _attempt: 201)
        self.bulk_errors = list(bulk_errors or [])
        self.bulk_calls: list[list[dict[str, Any]]] = []  # (action, source) pairs per request, decoded
        self.bulk_kwargs: list[dict[str, Any]] = []
        self.attempts: dict[str, int] = {}
        self.stored = stored or {}  # (index, id) -> _source
        self.search_responses = list(search_responses or [])
        self.search_calls: list[dict[str, Any]] = []
        self.mget_calls: list[list[dict[str, Any]]] = []
        self.other_calls: list[tuple[str, dict[str, Any]]] = []
        backing = indices or ["rasd-articles-000001"]
        self.fake_indices = Namespace(
            answers={"get_alias": {i: {"aliases": {"rasd-articles": {}}} for i in backing}}
        )
        self.fake_ilm = Namespace()
        self.indices = self.fake_indices  # type: ignore[assignment]
        self.ilm = self.fake_ilm  # type: ignore[assignment]

    def options(self, **_: Any) -> FakeClient:
        return self

    async def close(self) -> None:
        self.other_calls.append(("close", {}))

    async def bulk(self, *, operations: list[bytes], **kwargs: Any) -> ObjectApiResponse[Any]:  # type: ignore[override]
        lines = [json.loads(line) for line in operations]
        pairs: list[dict[str, Any]] = []
        i = 0
        while i < len(lines):
            ((op, header),) = lines[i].items()
            source = lines[i + 1] if op != "delete" else None
            pairs.append({"op": op, **header, "source": source})
            i += 1 if op == "delete" else 2
        self.bulk_calls.append(pairs)
        self.bulk_kwargs.append(kwargs)
        if self.bulk_errors:
            raise self.bulk_errors.pop(0)
        items = []
        for pair in pairs:
            doc_id = pair["_id"]
            attempt = self.attempts.get(doc_id, 0)
            self.attempts[doc_id] = attempt + 1
            status = self.bulk_rule(doc_id, attempt)
            item: dict[str, Any] = {"_index": pair["_index"], "_id": doc_id, "status": status}
            if status < 300:
                item.update(
                    {"_version": attempt + 1, "result": "deleted" if pair["op"] == "delete" else "created"}
                )
                if pair["op"] == "delete":
                    self.stored.pop((pair["_index"], doc_id), None)
                else:
                    self.stored[(pair["_index"], doc_id)] = pair["source"]
            elif status == 404:
                item["result"] = "not_found"
            else:
                item["error"] = ERRORS[status]
            items.append({pair["op"]: item})
        return response(
            {"took": 3, "errors": any("error" in next(iter(x.values())) for x in items), "items": items}
        )

    async def mget(  # type: ignore[override]
        self, *, docs: list[dict[str, Any]], source: bool = True, **_: Any
    ) -> ObjectApiResponse[Any]:
        self.mget_calls.append(docs)
        out = []
        for d in docs:
            key = (d["_index"], d["_id"])
            if key in self.stored:
                hit: dict[str, Any] = {"_index": key[0], "_id": key[1], "_version": 1, "found": True}
                if source:
                    hit["_source"] = self.stored[key]
                out.append(hit)
            else:
                out.append({"_index": key[0], "_id": key[1], "found": False})
        return response({"docs": out})

    async def search(self, **kwargs: Any) -> ObjectApiResponse[Any]:
        self.search_calls.append(kwargs)
        answer = self.search_responses.pop(0)
        return response(answer)

    async def count(self, **kwargs: Any) -> ObjectApiResponse[Any]:
        self.other_calls.append(("count", kwargs))
        return response({"count": len(self.stored), "_shards": {"total": 1, "successful": 1, "failed": 0}})

    async def open_point_in_time(self, **kwargs: Any) -> ObjectApiResponse[Any]:
        self.other_calls.append(("open_point_in_time", kwargs))
        return response({"id": "pit-1", "_shards": {"total": 1, "successful": 1, "failed": 0}})

    async def close_point_in_time(self, **kwargs: Any) -> ObjectApiResponse[Any]:
        self.other_calls.append(("close_point_in_time", kwargs))
        return response({"succeeded": True, "num_freed": 1})

    async def delete_by_query(self, **kwargs: Any) -> ObjectApiResponse[Any]:
        self.other_calls.append(("delete_by_query", kwargs))
        return response({"took": 1, "deleted": 0, "failures": []})
