"""Alert rules as percolator queries: store each watch as a query, then ask which watches match articles.

A watch compiles to a ``bool`` query over the fields `documents.article_document` derives: entities by
canonical id (``entity_ids``), topics by id, words as ``match_phrase`` on the Python stems of the title
or of summary/body (percolated documents keep summary and body apart, as the rules do), ``any_of`` →
``should`` (one needed), ``all_of`` → one ``filter`` per item, ``none_of`` → ``must_not``, and the
watch's sources/languages as filters. Paused and surge watches are not stored (they never fire on
one article).

``min_mentions`` cannot be expressed in a query (it counts mentions across items), so percolation
selects candidates: every pair `match_watch` would return, and for watches with ``min_mentions`` > 1
possibly more. The in-stream matcher (`pipeline.alerts.rules.match_watch`) stays the default and
must run on the candidates to apply it (and to gather the evidence an alert carries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.dsl import Q
from elasticsearch.dsl.query import Query

from pipeline.alerts.rules import CompiledCondition, CompiledWatch
from pipeline.errors import SearchError
from pipeline.models import Article
from pipeline.search.elasticsearch.bulk import BulkOptions, run_bulk
from pipeline.search.elasticsearch.documents import TermAnalyzer, article_document
from pipeline.search.elasticsearch.errors import complete
from pipeline.search.elasticsearch.mappings import IndexNames
from pipeline.search.query import Phrase

__all__ = [
    "PERCOLATED_FIELDS",
    "percolate",
    "percolate_body",
    "percolation_document",
    "sync_watches",
    "watch_document",
    "watch_to_percolator_query",
]

# what watch queries read; the rest of an article is not sent
PERCOLATED_FIELDS = ("id", "source", "language", "terms_title", "terms_body", "entity_ids", "topics")
_PAGE = 1000


def _phrase(stems: tuple[str, ...]) -> Query:
    """The phrase in title or body, its first word also behind a preposition (as `rules` matches it)."""
    texts = [" ".join(form.terms) for form in Phrase(stems).forms()]
    return Q(
        "bool",
        should=[
            Q("match_phrase", **{field: text}) for text in texts for field in ("terms_title", "terms_body")
        ],
        minimum_should_match=1,
    )


def _any_form(forms: tuple[tuple[str, ...], ...]) -> Query:
    """A watched phrase, or another spelling of the registry name it is (as `rules` matches them)."""
    if len(forms) == 1:
        return _phrase(forms[0])
    return Q("bool", should=[_phrase(f) for f in forms], minimum_should_match=1)


def _items(cond: CompiledCondition) -> list[Query]:
    """One query per item of a condition: entity ids, topic ids, then phrases (as `_evidence` lists them)."""
    return [
        *(Q("term", entity_ids=e) for e in cond.entity_ids),
        *(Q("term", **{"topics.id": t}) for t in cond.topics),
        *(_any_form(forms) for _, forms in cond.phrase_forms()),
    ]


def watch_to_percolator_query(cw: CompiledWatch) -> dict[str, Any] | None:
    """The stored percolator query of a watch, or None for a watch that never fires per article."""
    watch = cw.watch
    if watch.paused or watch.surge is not None:
        return None
    filters: list[Query] = []
    if watch.sources:
        filters.append(Q("terms", source=list(watch.sources)))
    if watch.languages:
        filters.append(Q("terms", language=list(watch.languages)))
    filters.extend(_items(cw.all_of))
    if cw.any_of:
        filters.append(Q("bool", should=_items(cw.any_of), minimum_should_match=1))
    query: dict[str, Any] = Q("bool", filter=filters, must_not=_items(cw.none_of)).to_dict()
    return query


def watch_document(cw: CompiledWatch) -> dict[str, Any] | None:
    """The document stored in the watches index for a watch (None when it is not percolated)."""
    query = watch_to_percolator_query(cw)
    if query is None:
        return None
    return {"query": query, "watch_id": cw.watch.id, "min_mentions": cw.watch.min_mentions}


def percolation_document(article: Article, analyzer: TermAnalyzer) -> dict[str, Any]:
    """The part of an article's document that watch queries read (summary and body kept apart)."""
    doc = article_document(article, analyzer, percolation=True)
    return {k: doc[k] for k in PERCOLATED_FIELDS}


def percolate_body(
    documents: Sequence[dict[str, Any]], size: int, after: Sequence[Any] | None
) -> dict[str, Any]:
    """A percolate search over the watches for several documents, one page of watches by id."""
    body: dict[str, Any] = {
        "query": {"percolate": {"field": "query", "documents": list(documents)}},
        "size": size,
        "sort": [{"watch_id": {"order": "asc"}}],
        "_source": ["watch_id"],
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = list(after)
    return body


async def sync_watches(
    client: AsyncElasticsearch,
    names: IndexNames,
    watches: Sequence[CompiledWatch],
    options: BulkOptions,
) -> int:
    """Make the watches index hold exactly these watches' queries; returns how many are stored.

    Raises:
        SearchError: Elasticsearch rejected a watch query (named in the message).
    """
    docs = {cw.watch.id: doc for cw in watches if (doc := watch_document(cw)) is not None}
    actions = [
        {"_op_type": "index", "_index": names.watches, "_id": i, "_source": d} for i, d in docs.items()
    ]
    outcome = await run_bulk(client, actions, options, refresh=True)
    if outcome.failed:
        detail = "; ".join(f"{i}: {reason}" for i, _, reason in outcome.failed)
        raise SearchError(f"watches rejected by elasticsearch: {detail}")
    await client.delete_by_query(
        index=names.watches,
        query={"bool": {"must_not": [{"ids": {"values": list(docs)}}]}},
        conflicts="proceed",
        refresh=True,
    )
    return len(docs)


async def percolate(
    client: AsyncElasticsearch,
    names: IndexNames,
    analyzer: TermAnalyzer,
    articles: Sequence[Article],
    *,
    batch_size: int = 100,
) -> list[tuple[str, str]]:
    """(article id, watch id) of every stored watch whose query matches, `batch_size` articles a request.

    Pairs come in article order, then by watch id. They are candidates: apply ``min_mentions`` (and
    build the evidence) with `pipeline.alerts.rules.match_watch`.
    """
    pairs: list[tuple[int, str]] = []
    for start in range(0, len(articles), batch_size):
        batch = articles[start : start + batch_size]
        documents = [percolation_document(a, analyzer) for a in batch]
        after: list[Any] | None = None
        while True:
            response = await client.search(
                index=names.watches,
                body=percolate_body(documents, _PAGE, after),
                allow_partial_search_results=False,
            )
            hits = complete(response.body, "matching watches")["hits"]["hits"]
            for hit in hits:
                watch_id = str(hit["_source"]["watch_id"])
                for slot in hit.get("fields", {}).get("_percolator_document_slot", [0]):
                    pairs.append((start + int(slot), watch_id))
            if len(hits) < _PAGE:
                break
            after = hits[-1]["sort"]
    return [(articles[i].id, watch_id) for i, watch_id in sorted(pairs)]
