"""`GET /search`: free text in the safe syntax, filters, sort, pagination; hits with highlights, facets.

`build_query` turns request parameters into a `SearchQuery` (names resolved through the registry,
dates in Western or Eastern Arabic digits, bounded page sizes and date ranges) and `run_search` runs
it; the web UI calls the same two functions.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ValidationError

from pipeline.api.errors import ApiError
from pipeline.api.models import ArticleSummary, EntityCount, HitOut, SearchResponse
from pipeline.api.services import Services, services
from pipeline.errors import InvalidQuery
from pipeline.models import Article
from pipeline.search.base import MAX_PAGE, MAX_PAGE_SIZE, FacetCount, Facets, SearchQuery, SearchResult
from pipeline.text.normalise import unify_digits

__all__ = [
    "MAX_FILTER_VALUES",
    "MAX_RANGE_DAYS",
    "SearchParams",
    "build_query",
    "parse_day",
    "router",
    "run_search",
    "summary_of",
]

MAX_RANGE_DAYS = 3660  # about ten years: wider ranges are refused, not silently cut
MAX_FILTER_VALUES = 20
_MIN_DATE = date(1990, 1, 1)
_MAX_DATE = date(2100, 1, 1)

router = APIRouter(tags=["search"])


@dataclass
class SearchParams:
    """Search parameters as users give them (strings; entity names or ids)."""

    q: str = ""
    entity: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    since: str = ""
    until: str = ""
    sort: Literal["relevance", "newest"] = "relevance"
    page: int = 1
    size: int = 10


def parse_day(text: str, name: str, *, end: bool = False) -> datetime | None:
    """`YYYY-MM-DD` or an ISO date-time, in Western or Eastern Arabic digits (UTC unless given).

    With `end`, a bare date means the end of that day (an `until` date is included). Raises
    `ApiError` 400 naming the parameter for anything else or a date outside 1990–2100.
    """
    text = unify_digits(text.strip())
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            # the last instant of the day, not the next midnight: the bound is inclusive, and an
            # article dated D+1 00:00 (a feed giving only dates) belongs to `since=D+1` alone
            value = datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        else:
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {text!r} is not a date (use YYYY-MM-DD)", field=name) from exc
    if not _MIN_DATE <= value.date() <= _MAX_DATE:
        raise ApiError(400, f"{name}: dates must be between {_MIN_DATE} and {_MAX_DATE}", field=name)
    return value


def _bounded(values: list[str], name: str) -> list[str]:
    cleaned = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(cleaned) > MAX_FILTER_VALUES:
        raise ApiError(400, f"{name}: at most {MAX_FILTER_VALUES} values", field=name)
    if any(len(v) > 200 for v in cleaned):
        raise ApiError(400, f"{name}: values are at most 200 characters", field=name)
    return cleaned


def resolve_entity(svc: Services, name: str) -> str:
    """A canonical id for an id or a known name; ids of names the registry does not know (`u:…`) pass."""
    ent = svc.registry.resolve(name)
    if ent is not None:
        return ent.id
    if name.startswith("u:"):
        return name
    raise ApiError(400, f"entity: unknown entity {name!r}", field="entity")


def build_query(svc: Services, params: SearchParams, *, facet_size: int = 10) -> SearchQuery:
    """Validate and resolve parameters into a backend-neutral query; `ApiError`/`InvalidQuery` on mistakes."""
    entities = [resolve_entity(svc, e) for e in _bounded(params.entity, "entity")]
    topics = _bounded(params.topic, "topic")
    unknown = [t for t in topics if t not in svc.topics]
    if unknown:
        raise ApiError(400, f"topic: unknown topic(s) {unknown}", field="topic")
    since = parse_day(params.since, "since")
    until = parse_day(params.until, "until", end=True)
    if since and until:
        if since >= until:
            raise ApiError(400, "since must be before until", field="since")
        if until - since > timedelta(days=MAX_RANGE_DAYS):
            raise ApiError(400, f"the date range is longer than {MAX_RANGE_DAYS} days", field="until")
    if not 1 <= params.size <= MAX_PAGE_SIZE:
        raise ApiError(400, f"size: between 1 and {MAX_PAGE_SIZE}", field="size")
    if not 1 <= params.page <= MAX_PAGE:
        raise ApiError(400, f"page: between 1 and {MAX_PAGE}", field="page")
    try:
        return SearchQuery(
            text=params.q,
            entities=entities,
            topics=topics,
            sources=_bounded(params.source, "source"),
            languages=_bounded(params.language, "language"),
            since=since,
            until=until,
            sort=params.sort,
            page=params.page,
            size=params.size,
            facet_size=facet_size,
        )
    except ValidationError as exc:
        raise InvalidQuery(
            "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        ) from exc


def entity_counts(article: Article, limit: int = 10) -> list[EntityCount]:
    """Distinct entities of an article, most mentioned first."""
    counts = Counter((m.canonical_id, m.canonical_name, m.type) for m in article.entities)
    return [EntityCount(id=i, name=n, type=t, count=c) for (i, n, t), c in counts.most_common(limit)]


def summary_of(svc: Services, article: Article) -> ArticleSummary:
    """The list form of an article."""
    return ArticleSummary(
        id=article.id,
        source=article.source,
        source_name=svc.feed_names.get(article.source, ""),
        url=article.url,
        title=article.title,
        summary=article.summary,
        language=article.language,
        published=article.published,
        topics=article.topics,
        entities=entity_counts(article),
    )


def _labelled(svc: Services, facets: Facets) -> Facets:
    """Topic facets labelled in Arabic, sources with the feed name (entity labels come from the index)."""
    return facets.model_copy(
        update={
            "topics": [
                FacetCount(
                    value=f.value,
                    label=svc.topics[f.value].label_ar if f.value in svc.topics else "",
                    count=f.count,
                )
                for f in facets.topics
            ],
            "sources": [
                FacetCount(value=f.value, label=f.label or svc.feed_names.get(f.value, ""), count=f.count)
                for f in facets.sources
            ],
        }
    )


async def run_search(svc: Services, query: SearchQuery) -> SearchResult:
    """Run a query on the backend, with facet labels filled in."""
    result = await (await svc.search_backend()).search(query)
    return result.model_copy(update={"facets": _labelled(svc, result.facets)})


def _params(
    q: Annotated[str, Query(max_length=1000, description='words, "phrases", -excluded, OR')] = "",
    entity: Annotated[list[str], Query(description="canonical id or any known name (repeatable)")] = [],  # noqa: B006
    topic: Annotated[list[str], Query(description="topic id (repeatable)")] = [],  # noqa: B006
    source: Annotated[list[str], Query(description="feed id (repeatable)")] = [],  # noqa: B006
    language: Annotated[list[str], Query(description="language code (repeatable)")] = [],  # noqa: B006
    since: Annotated[str, Query(max_length=40, description="YYYY-MM-DD or ISO date-time (UTC)")] = "",
    until: Annotated[str, Query(max_length=40, description="YYYY-MM-DD (that day included) or ISO")] = "",
    sort: Literal["relevance", "newest"] = "relevance",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
) -> SearchParams:
    return SearchParams(q, entity, topic, source, language, since, until, sort, page, size)


@router.get("/search", response_model=SearchResponse, summary="Search articles")
async def search(
    params: Annotated[SearchParams, Depends(_params)], svc: Annotated[Services, Depends(services)]
) -> SearchResponse:
    """Hits with highlighted fragments and facets (top entities, topics, sources, per-day counts)."""
    query = build_query(svc, params)
    result = await run_search(svc, query)
    hits = [
        HitOut(**summary_of(svc, h.article).model_dump(), score=h.score, highlights=h.highlights)
        for h in result.hits
    ]
    return SearchResponse(
        total=result.total,
        total_relation=result.total_relation,
        page=query.page,
        size=query.size,
        pages=math.ceil(result.total / query.size),
        sort=query.sort,
        hits=hits,
        facets=result.facets,
    )
