"""Bulk writes: chunks by count and bytes, retries with backoff, one outcome per document.

`helpers.async_streaming_bulk` sends the chunks and retries documents rejected with 429/502/503/504
(and whole chunks the cluster refused with those statuses) with exponential backoff; whatever still
fails is returned with its reason, never dropped. Connection failures are raised (and mapped to
`SearchUnavailable` by the caller): nothing is known about that chunk, and upserts are safe to repeat.

Upserts across rollover: an article already indexed lives in some backing index, maybe not the
current write index. `locate` finds it with a real-time multi-get over the backing indices, so the
new version overwrites it there instead of leaving a stale copy behind the alias.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from elasticsearch import AsyncElasticsearch, helpers

from pipeline.errors import SearchError, SearchUnavailable
from pipeline.search.elasticsearch.errors import RETRYABLE_STATUSES, error_reason

__all__ = ["BulkOptions", "BulkOutcome", "Refresh", "backing_indices", "locate", "run_bulk"]

Refresh = Literal[False, True, "wait_for"]
_MGET_BATCH = 1000  # (index, id) pairs per multi-get


@dataclass(frozen=True, slots=True)
class BulkOptions:
    """Chunking and retry policy of bulk writes."""

    chunk_docs: int = 500
    max_bytes: int = 10 * 1024 * 1024
    max_retries: int = 3
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 10.0


@dataclass(slots=True)
class BulkOutcome:
    """Ids written (in request order), and (id, HTTP status, reason) of those that were not."""

    ok: list[str] = field(default_factory=list)
    failed: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def only_retryable_failures(self) -> bool:
        """True when nothing was written and every document failed with a retry-later status."""
        return not self.ok and bool(self.failed) and all(s in RETRYABLE_STATUSES for _, s, _ in self.failed)


def _item_outcome(item: Mapping[str, Any]) -> tuple[str, int, str]:
    """(id, status, reason) of one bulk response item (``{"index": {...}}``), as documented."""
    ((op, info),) = item.items()
    status = int(info.get("status", 500))
    reason = error_reason(info["error"]) if "error" in info else info.get("result", op)
    return str(info.get("_id", "")), status, str(reason)


async def run_bulk(
    client: AsyncElasticsearch,
    actions: Sequence[dict[str, Any]],
    options: BulkOptions,
    *,
    refresh: Refresh = False,
    missing_ok: bool = False,
) -> BulkOutcome:
    """Send `actions` (helper format: ``_op_type``, ``_index``, ``_id``, ``_source``) and report each.

    With `missing_ok`, a 404 (deleting what is not there) is neither a success nor a failure.
    """
    outcome = BulkOutcome()
    if not actions:
        return outcome
    kwargs: dict[str, Any] = {"refresh": refresh} if refresh else {}
    async for ok, item in helpers.async_streaming_bulk(
        client,
        actions,
        chunk_size=options.chunk_docs,
        max_chunk_bytes=options.max_bytes,
        raise_on_error=False,
        raise_on_exception=False,
        max_retries=options.max_retries,
        initial_backoff=options.initial_backoff_s,
        max_backoff=options.max_backoff_s,
        retry_on_status=RETRYABLE_STATUSES,
        **kwargs,
    ):
        doc_id, status, reason = _item_outcome(item)
        if ok:
            outcome.ok.append(doc_id)
        elif not (missing_ok and status == 404):
            outcome.failed.append((doc_id, status, reason))
    return outcome


# per-document multi-get errors of a shard that is moving or not yet started, not of the request
_RETRYABLE_DOC_ERRORS = frozenset(
    {
        "no_shard_available_action_exception",
        "unavailable_shards_exception",
        "shard_not_found_exception",
        "es_rejected_execution_exception",
        "node_not_connected_exception",
        "node_disconnected_exception",
    }
)


async def backing_indices(client: AsyncElasticsearch, alias: str) -> list[str]:
    """The indices behind the alias, oldest first (names end in a rollover counter)."""
    response = await client.indices.get_alias(name=alias)
    return sorted(response.body)


async def locate(
    client: AsyncElasticsearch, indices: Sequence[str], ids: Iterable[str], *, source: bool = False
) -> dict[str, dict[str, Any]]:
    """Where each stored id lives: id → the multi-get doc (``_index``, and ``_source`` if asked).

    Real-time (multi-get reads documents not refreshed yet). When an id is in several indices
    (written before this lookup existed), the newest index wins.
    """
    wanted = list(dict.fromkeys(ids))
    pairs = [{"_index": index, "_id": doc_id} for doc_id in wanted for index in indices]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(pairs), _MGET_BATCH):
        response = await client.mget(docs=pairs[start : start + _MGET_BATCH], source=source)
        for doc in response.body["docs"]:
            if "error" in doc:
                error = doc["error"]
                kind = error.get("type") if isinstance(error, Mapping) else None
                if kind == "index_not_found_exception":
                    continue  # deleted by ILM since the alias was read
                if kind in _RETRYABLE_DOC_ERRORS:  # a shard relocating or recovering: try again soon
                    raise SearchUnavailable(f"reading {doc.get('_id')!r} failed: {error_reason(error)}")
                raise SearchError(f"reading {doc.get('_id')!r} failed: {error_reason(error)}")
            if doc.get("found"):
                previous = found.get(doc["_id"])
                if previous is None or doc["_index"] >= previous["_index"]:
                    found[doc["_id"]] = doc
    return found
