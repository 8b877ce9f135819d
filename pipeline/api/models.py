"""Request and response models of the HTTP API (what the OpenAPI document describes)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from pipeline.models import TopicScore
from pipeline.search.base import Facets

__all__ = [
    "ArticleSummary",
    "DayCount",
    "EntityCount",
    "EntityProfile",
    "Health",
    "HitOut",
    "SearchResponse",
    "WatchChange",
    "WatchRow",
]


class EntityCount(BaseModel):
    """An entity and how often it is mentioned (in an article, or across matching articles)."""

    id: str
    name: str
    type: str = ""
    count: int


class ArticleSummary(BaseModel):
    """An article without its body: what lists show."""

    id: str
    source: str
    source_name: str = ""
    url: str | None = None
    title: str
    summary: str = ""
    language: str | None = None
    published: AwareDatetime | None = None
    topics: list[TopicScore] = Field(default_factory=list)
    entities: list[EntityCount] = Field(
        default_factory=list, description="distinct entities, most mentioned first"
    )


class HitOut(ArticleSummary):
    """A search hit: the article summary, its score and highlighted fragments (HTML-escaped, <mark>ed)."""

    score: float
    highlights: dict[str, list[str]] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    total: int
    total_relation: Literal["eq", "gte"] = Field(
        default="eq", description="gte: at least `total` match; pages cover the most recent `total`"
    )
    page: int
    size: int
    pages: int
    sort: Literal["relevance", "newest"]
    hits: list[HitOut]
    facets: Facets


class DayCount(BaseModel):
    day: date
    count: int


class EntityProfile(BaseModel):
    """A canonical entity: names, type, mention timeline, co-mentioned entities, latest articles."""

    id: str
    type: str
    name_ar: str
    name_en: str = ""
    aliases_ar: list[str] = Field(default_factory=list)
    aliases_en: list[str] = Field(default_factory=list)
    variants: list[str] = Field(default_factory=list, description="surface forms seen in the latest articles")
    role: str = ""
    country: str | None = None
    in_registry: bool = Field(description="false for names the registry does not know (u:… ids)")
    articles: int = Field(description="indexed articles mentioning it")
    articles_relation: Literal["eq", "gte"] = Field(
        default="eq", description="gte: at least `articles`; the timeline then covers the most recent ones"
    )
    timeline: list[DayCount] = Field(
        default_factory=list, description="articles per day (published), oldest first"
    )
    co_mentions: list[EntityCount] = Field(default_factory=list)
    latest: list[ArticleSummary] = Field(default_factory=list)


class WatchRow(BaseModel):
    """A watch in force, as `rasd watch list --json` shows it."""

    id: str
    name: str
    owner: str
    state: Literal["active", "paused"]
    origin: Literal["config", "runtime"]
    summary: str
    entities: list[dict[str, str]]
    watch: dict[str, Any]


class WatchChange(BaseModel):
    status: Literal["added", "replaced", "paused", "resumed", "unchanged", "removed"]
    watch: WatchRow | None = None


class Health(BaseModel):
    status: Literal["ok"]
    search_backend: str
    articles: int
    alerts: int
    stale_articles: int = Field(
        description="indexed articles whose terms another entity registry or analyzer made: searches may "
        "miss them until `rasd reindex` runs"
    )
