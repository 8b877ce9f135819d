"""Index names, mappings, the composable index template, the ILM policy and the watches index (pure).

Articles live in time-based indices ``<prefix>-articles-000001, -000002, …`` behind the write alias
``<prefix>-articles``, rolled over by ILM. An alias, not a data stream: data streams are append-only,
and every write here is an upsert by article id (see `pipeline.search.elasticsearch.bulk` for how an
upsert finds the backing index that already holds the article).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.search.base import MAX_PAGE, MAX_PAGE_SIZE
from pipeline.search.elasticsearch.analysis import (
    ARABIC_ANALYZER,
    LIGHT_ANALYZER,
    TERMS_ANALYZER,
    analysis_settings,
)

__all__ = [
    "ANALYSIS_META",
    "MAPPING_VERSION",
    "IlmPolicy",
    "IndexNames",
    "IndexOptions",
    "article_mappings",
    "ilm_policy",
    "index_settings",
    "index_template",
    "watches_index",
]

MAPPING_VERSION = 1
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,150}$")
# from + size + 1 of the deepest page the contract allows (the extra hit tells if there is a next page)
MAX_RESULT_WINDOW = MAX_PAGE * MAX_PAGE_SIZE + 1


@dataclass(frozen=True, slots=True)
class IndexNames:
    """Every name derived from one prefix, so tests (and tenants) can use their own."""

    prefix: str = "rasd"

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"index prefix {self.prefix!r} must be lowercase letters, digits, '-', '_' or '.', "
                "not starting with a symbol"
            )

    @property
    def alias(self) -> str:
        """The write alias: searches and writes go through it."""
        return f"{self.prefix}-articles"

    @property
    def pattern(self) -> str:
        """The backing indices the template applies to."""
        return f"{self.prefix}-articles-*"

    @property
    def first_index(self) -> str:
        """The first backing index; ILM rollover numbers the next ones."""
        return f"{self.prefix}-articles-000001"

    @property
    def template(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def policy(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def watches(self) -> str:
        """The percolator index of alert rules."""
        return f"{self.prefix}-watches"


@dataclass(frozen=True, slots=True)
class IlmPolicy:
    """Rollover when the primary shard or the index age reaches a limit; delete after `retention`."""

    max_primary_shard_size: str = "50gb"
    max_age: str = "30d"
    retention: str | None = None  # None: keep every article (backtests read the whole history)


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """Per-index settings: near-real-time refresh, shards, replicas.

    With `refresh_interval` unset, Elasticsearch refreshes every second, except shards not searched
    for `search_idle_after`, which skip refreshes until the next search (that search waits for one):
    bulk indexing at night costs no refreshes, and the first search after it still sees everything.
    Setting `refresh_interval` refreshes at that pace whether searched or not (search idle is off).
    """

    refresh_interval: str | None = None
    search_idle_after: str = "30s"
    shards: int = 1
    replicas: int = 1


def _arabic_text() -> dict[str, Any]:
    return {
        "type": "text",
        "analyzer": ARABIC_ANALYZER,
        "fields": {"light": {"type": "text", "analyzer": LIGHT_ANALYZER}},
    }


def _terms_text() -> dict[str, Any]:
    # positions are kept (the default for text) so phrases match adjacent stems
    return {"type": "text", "analyzer": TERMS_ANALYZER, "index_options": "positions"}


def article_mappings() -> dict[str, Any]:
    """Mappings of an article document (`pipeline.search.elasticsearch.documents`).

    Unknown fields are kept in ``_source`` but not indexed (``dynamic: false``), so a newer
    `Article` field never makes indexing fail. Mentions (``entities``) are stored, not indexed: the
    per-article ``entity`` objects and ``entity_ids`` serve filters, facets and watches.
    """
    keyword = {"type": "keyword"}
    return {
        "dynamic": False,
        "_meta": {"rasd_mapping_version": MAPPING_VERSION},
        "properties": {
            "id": keyword,
            "source": keyword,
            "url": keyword,
            "feed_url": keyword,
            "guid": keyword,
            "language": keyword,
            "story_id": keyword,
            "duplicate_of": keyword,
            "keywords": keyword,
            "title": _arabic_text(),
            "summary": _arabic_text(),
            "body": _arabic_text(),
            "terms_title": _terms_text(),
            "terms_body": _terms_text(),
            "published": {"type": "date"},
            "fetched": {"type": "date"},
            "enriched_at": {"type": "date"},
            "at": {"type": "date"},
            "topics": {"properties": {"id": keyword, "score": {"type": "float"}}},
            "entities": {"type": "object", "enabled": False},
            "entity_ids": keyword,
            "entity": {
                "type": "nested",
                "properties": {
                    "id": keyword,
                    "type": keyword,
                    "name": {
                        "type": "keyword",
                        "fields": {"text": {"type": "text", "analyzer": ARABIC_ANALYZER}},
                    },
                },
            },
        },
    }


def index_settings(
    protected: Iterable[str], stopwords: Iterable[str] = (), options: IndexOptions | None = None
) -> dict[str, Any]:
    """Settings shared by the article indices and the watches index (same analysis)."""
    options = options or IndexOptions()
    index: dict[str, Any] = {
        "number_of_shards": options.shards,
        "number_of_replicas": options.replicas,
        "search": {"idle": {"after": options.search_idle_after}},
        "max_result_window": MAX_RESULT_WINDOW,
    }
    if options.refresh_interval is not None:
        index["refresh_interval"] = options.refresh_interval
    return {"index": index, "analysis": analysis_settings(protected, stopwords)}


ANALYSIS_META = "rasd_analysis"  # mapping _meta key: the `Analyzer.fingerprint` of the index's terms


def index_template(
    names: IndexNames, settings: dict[str, Any], analysis: str | None = None
) -> dict[str, Any]:
    """The composable index template (``put_index_template`` arguments) for the article indices.

    `analysis` (the analyzer's fingerprint) goes into the mappings' ``_meta``: a backing index made
    from the template is written by workers with that analyzer.
    """
    mappings = article_mappings()
    if analysis is not None:
        mappings["_meta"] = {**mappings["_meta"], ANALYSIS_META: analysis}
    lifecycle = {"lifecycle": {"name": names.policy, "rollover_alias": names.alias}}
    merged = {**settings, "index": {**settings["index"], **lifecycle}}
    return {
        "name": names.template,
        "index_patterns": [names.pattern],
        "priority": 200,
        "template": {"settings": merged, "mappings": mappings},
        "meta": {"managed_by": "rasd", "rasd_mapping_version": MAPPING_VERSION},
    }


def ilm_policy(policy: IlmPolicy) -> dict[str, Any]:
    """The ILM policy body (``ilm.put_lifecycle(policy=...)``): hot with rollover, optional delete."""
    phases: dict[str, Any] = {
        "hot": {
            "actions": {
                "rollover": {
                    "max_primary_shard_size": policy.max_primary_shard_size,
                    "max_age": policy.max_age,
                }
            }
        }
    }
    if policy.retention is not None:
        # counted from rollover, so an index is deleted `retention` after it stopped taking new articles
        phases["delete"] = {"min_age": policy.retention, "actions": {"delete": {}}}
    return {"phases": phases, "_meta": {"managed_by": "rasd"}}


def watches_index(settings: dict[str, Any]) -> dict[str, Any]:
    """``indices.create`` arguments of the percolator index: article fields plus the stored queries."""
    mappings = article_mappings()
    mappings["properties"] = {
        **mappings["properties"],
        "query": {"type": "percolator"},
        "watch_id": {"type": "keyword"},
        "min_mentions": {"type": "integer"},
    }
    return {"settings": settings, "mappings": mappings}
