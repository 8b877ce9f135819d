"""`SearchQuery` → Elasticsearch request bodies, and responses → facets and cursors (pure).

Text is compiled from the `ParsedQuery` stems only, as ``match_phrase`` queries on the fields of
Python stems (``terms_title``, boosted like the SQLite title column, and ``terms_body``), so no user
character reaches an Elasticsearch query parser and both backends match the same articles. A word
is a one-stem phrase. Requests are built with `elasticsearch.dsl`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from elasticsearch.dsl import A, Q, Search
from elasticsearch.dsl.query import Query

from pipeline.errors import InvalidQuery
from pipeline.search.base import FacetCount, Facets, SearchQuery
from pipeline.search.elasticsearch.documents import DERIVED_FIELDS
from pipeline.search.query import ParsedQuery, Phrase

__all__ = [
    "MAX_FILTER_VALUES",
    "TITLE_BOOST",
    "decode_cursor",
    "encode_cursor",
    "filter_clauses",
    "parse_facets",
    "phrase_clauses",
    "preference",
    "scan_body",
    "search_body",
    "sort_spec",
]

TITLE_BOOST = 5.0  # the SQLite backend's bm25 title weight
MAX_FILTER_VALUES = 500  # as in the SQLite backend
_CURSOR_VERSION = 1
_BACKEND = "elasticsearch"
_SOURCE_EXCLUDES = list(DERIVED_FIELDS)
_BY_COUNT = [{"_count": "desc"}, {"_key": "asc"}]  # biggest first, ties by value: as in SQLite


def phrase_clauses(phrase: Phrase, *, boost: bool = True) -> list[Query]:
    """The phrase (or one stem) in the title, boosted, or in summary + body."""
    text = " ".join(phrase.terms)
    title: dict[str, Any] = {"query": text}
    if boost:
        title["boost"] = TITLE_BOOST
    return [Q("match_phrase", terms_title=title), Q("match_phrase", terms_body={"query": text})]


def _text_clauses(parsed: ParsedQuery) -> tuple[list[Query], list[Query]]:
    """(must, must_not): each group is one clause matching any of its alternatives in either field."""
    must = [
        Q(
            "bool",
            should=[c for p in group for f in p.forms() for c in phrase_clauses(f)],
            minimum_should_match=1,
        )
        for group in parsed.groups
    ]
    must_not = [c for p in parsed.excluded for f in p.forms() for c in phrase_clauses(f, boost=False)]
    return must, must_not


def _unique(values: Sequence[str], label: str) -> list[str]:
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_FILTER_VALUES:
        raise InvalidQuery(f"too many {label} in the filter ({len(unique)} > {MAX_FILTER_VALUES})")
    return unique


def filter_clauses(query: SearchQuery) -> list[Query]:
    """Filters: values of one filter are OR-ed, filters AND-ed; dates are inclusive."""
    clauses: list[Query] = []
    for field, values, label in (
        ("source", query.sources, "sources"),
        ("language", query.languages, "languages"),
        ("entity_ids", query.entities, "entities"),
        ("topics.id", query.topics, "topics"),
    ):
        if values:
            clauses.append(Q("terms", **{field: _unique(values, label)}))
    bounds: dict[str, str] = {}
    if query.since is not None:
        bounds["gte"] = query.since.isoformat()
    if query.until is not None:
        bounds["lte"] = query.until.isoformat()
    if bounds:
        clauses.append(Q("range", published=bounds))
    return clauses


def sort_spec(query: SearchQuery, parsed: ParsedQuery) -> list[dict[str, Any]]:
    """Relevance (when there is text to rank by) or newest first; unpublished last; id breaks ties."""
    newest: list[dict[str, Any]] = [
        {"published": {"order": "desc", "missing": "_last"}},
        {"id": {"order": "desc"}},
    ]
    if query.sort == "relevance" and parsed.groups:
        return [{"_score": {"order": "desc"}}, *newest]
    return newest


def _facet_aggs(search: Search[Any], size: int) -> None:
    entities = A("nested", path="entity")
    entities.bucket("ids", "terms", field="entity.id", size=size, order=_BY_COUNT).bucket(
        # the label is the greatest name, as SQLite's MAX(name) (names only differ after a registry edit)
        "label",
        "terms",
        field="entity.name",
        size=1,
        order={"_key": "desc"},
    )
    search.aggs.bucket("entities", entities)
    search.aggs.bucket("topics", "terms", field="topics.id", size=size, order=_BY_COUNT)
    search.aggs.bucket("sources", "terms", field="source", size=size, order=_BY_COUNT)
    search.aggs.bucket(
        "days",
        "date_histogram",
        field="published",
        calendar_interval="day",
        time_zone="UTC",
        format="yyyy-MM-dd",
        min_doc_count=1,
        order={"_key": "desc"},
    )


def search_body(query: SearchQuery, parsed: ParsedQuery) -> dict[str, Any]:
    """The ``search`` request body: one page (plus one hit to tell if there is a next), facets.

    Pages come from ``from``/``size``, or after a cursor from ``search_after`` on the sort values of
    the last hit shown (no point in time: a cursor holds no server resource; it is a keyset position).
    """
    must, must_not = _text_clauses(parsed)
    filters = filter_clauses(query)
    search: Search[Any] = Search()
    if must or must_not or filters:
        search = search.query(Q("bool", must=must, must_not=must_not, filter=filters))
    extra: dict[str, Any] = {
        "size": query.size + 1,
        "track_total_hits": True,
        "track_scores": bool(parsed.groups),
    }
    if query.after is not None:
        extra["search_after"] = decode_cursor(query, query.after)
    else:
        extra["from_"] = (query.page - 1) * query.size
    search = search.sort(*sort_spec(query, parsed)).extra(**extra).source(excludes=_SOURCE_EXCLUDES)
    if query.facets:
        _facet_aggs(search, query.facet_size)
    return search.to_dict()


def _counts(buckets: Sequence[Mapping[str, Any]], size: int, key: str = "key") -> list[FacetCount]:
    return [FacetCount(value=str(b[key]), count=int(b["doc_count"])) for b in buckets[:size]]


def parse_facets(aggregations: Mapping[str, Any], size: int) -> Facets:
    """`Facets` from the ``aggregations`` of a `search_body` response."""
    if not aggregations:
        return Facets()
    entities = []
    for bucket in aggregations["entities"]["ids"]["buckets"][:size]:
        labels = bucket.get("label", {}).get("buckets", [])
        entities.append(
            FacetCount(
                value=str(bucket["key"]),
                label=str(labels[0]["key"]) if labels else "",
                count=int(bucket["doc_count"]),
            )
        )
    return Facets(
        entities=entities,
        topics=_counts(aggregations["topics"]["buckets"], size),
        sources=_counts(aggregations["sources"]["buckets"], size),
        days=_counts(aggregations["days"]["buckets"], size, key="key_as_string"),
    )


def _fingerprint(query: SearchQuery) -> str:
    """What a cursor is bound to: text, filters and sort (not the page, size or facets)."""
    fields = query.model_dump(mode="json", exclude={"page", "size", "after", "facets", "facet_size"})
    return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode(), digest_size=8).hexdigest()


def preference(query: SearchQuery) -> str:
    """The `preference` every page of one query is sent with: the same shard copies answer each
    page. Scores differ between a primary and its replica (deleted documents, merged at different
    times), so pages by relevance from different copies could skip or repeat hits."""
    return "rasd-" + _fingerprint(query)


def encode_cursor(query: SearchQuery, sort_values: Sequence[Any]) -> str:
    """An opaque cursor: the sort values of the last hit shown, bound to this query."""
    payload = {"v": _CURSOR_VERSION, "b": _BACKEND, "q": _fingerprint(query), "k": list(sort_values)}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: SearchQuery, cursor: str) -> list[Any]:
    """The ``search_after`` values in a cursor made by `encode_cursor` for this query.

    Raises:
        InvalidQuery: the cursor is malformed, from another backend, or from another query.
    """
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = payload["k"]
        valid = (
            payload["v"] == _CURSOR_VERSION
            and payload["b"] == _BACKEND
            and isinstance(key, list)
            and 2 <= len(key) <= 3
            and all(isinstance(k, int | float | str) and not isinstance(k, bool) for k in key)
            and all(-(2**63) <= k < 2**63 for k in key if isinstance(k, int))  # Elasticsearch's longs
            and isinstance(payload["q"], str)
        )
    except (ValueError, TypeError, KeyError, binascii.Error):
        valid = False
    if not valid:
        raise InvalidQuery("the cursor is malformed or was made by another search backend")
    if payload["q"] != _fingerprint(query):
        raise InvalidQuery("the cursor belongs to another query (text, filters or sort changed)")
    return list(key)


def scan_body(
    pit_id: str,
    since: datetime | None,
    until: datetime | None,
    size: int,
    after: Sequence[Any] | None,
    keep_alive: str,
) -> dict[str, Any]:
    """One page of a timeline scan in a point in time: [since, until) on ``at``, oldest first."""
    bounds: dict[str, str] = {}
    if since is not None:
        bounds["gte"] = since.isoformat()
    if until is not None:
        bounds["lt"] = until.isoformat()
    search: Search[Any] = Search()
    if bounds:
        search = search.filter(Q("range", at=bounds))
    extra: dict[str, Any] = {
        "size": size,
        "pit": {"id": pit_id, "keep_alive": keep_alive},
        "track_total_hits": False,
    }
    if after is not None:
        extra["search_after"] = list(after)
    search = search.sort({"at": {"order": "asc"}}, {"id": {"order": "asc"}}).extra(**extra)
    return search.source(excludes=_SOURCE_EXCLUDES).to_dict()
