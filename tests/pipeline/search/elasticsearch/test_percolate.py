"""Watches as percolator queries select the same (watch, article) pairs as the in-stream matcher."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.alerts.rules import CompiledWatch, compile_watch, match_watch
from pipeline.enrich.registry import EntityRegistry
from pipeline.models import Article, Watch
from pipeline.search.elasticsearch import ElasticsearchBackend, IndexNames, watch_to_percolator_query
from pipeline.search.elasticsearch.bulk import BulkOptions
from pipeline.search.elasticsearch.percolate import percolate_body, percolation_document
from pipeline.text.spellings import other_spellings
from tests.pipeline.search.elasticsearch.fake_client import FakeClient

pytestmark = pytest.mark.anyio

TOPICS = {"conflict", "diplomacy", "economy", "space"}


# -- a tiny evaluator of the generated query structure ----------------------------------------


def _values(doc: dict[str, Any], field: str) -> list[Any]:
    if field == "topics.id":
        return [t["id"] for t in doc["topics"]]
    value = doc.get(field)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _has_phrase(values: list[str], phrase: str) -> bool:
    """Adjacent whitespace tokens within one value (the gap between array values stops a phrase)."""
    wanted = phrase.split()
    n = len(wanted)
    for value in values:
        tokens = value.split()
        if any(tokens[i : i + n] == wanted for i in range(len(tokens) - n + 1)):
            return True
    return False


def evaluate(query: dict[str, Any], doc: dict[str, Any]) -> bool:
    """Whether `doc` matches `query`, for the query types watches compile to (and nothing else)."""
    ((kind, spec),) = query.items()
    if kind == "bool":
        required = [*spec.get("filter", []), *spec.get("must", [])]
        ok = all(evaluate(q, doc) for q in required)
        should = spec.get("should", [])
        if should:
            needed = spec.get("minimum_should_match", 0 if required else 1)
            ok = ok and sum(evaluate(q, doc) for q in should) >= needed
        return ok and not any(evaluate(q, doc) for q in spec.get("must_not", []))
    ((field, arg),) = spec.items()
    if kind == "term":
        return arg in _values(doc, field)
    if kind == "terms":
        return bool(set(arg) & set(_values(doc, field)))
    if kind == "match_phrase":
        return _has_phrase(_values(doc, field), arg if isinstance(arg, str) else arg["query"])
    raise AssertionError(f"unexpected query type {kind}")


def _watches(registry: EntityRegistry, corpus: list[Article]) -> list[CompiledWatch]:
    seed = corpus[0]
    # a phrase running from the last word of the summary into the first of the body
    boundary = f"{seed.summary.split()[-1]} {seed.body.split()[0]}"
    specs: list[dict[str, Any]] = [
        {"id": "putin", "entities": ["بوتين"]},
        {"id": "iran-not-trump", "any_of": {"entities": ["إيران"]}, "none_of": {"entities": ["ترامب"]}},
        {"id": "iran-and-war", "all_of": {"words": ["حرب"]}, "any_of": {"entities": ["Q794"]}},
        {"id": "kim-phrase", "words": ["كيم جونغ أون"]},
        {"id": "reversed-phrase", "words": ["أون جونغ كيم"]},
        {"id": "clitic", "words": ["لروسيا"]},
        {"id": "diplomacy-aljazeera", "topics": ["diplomacy"], "sources": ["aljazeera"]},
        {"id": "arabic-iran", "words": ["إيران"], "languages": ["ar"]},
        {"id": "lebanon-conflict", "all_of": {"entities": ["لبنان"], "topics": ["conflict"]}},
        {"id": "space-or-oil", "any_of": {"topics": ["space"], "words": ["النفط"]}},
        {"id": "boundary", "words": [boundary]},
        {"id": "plural", "words": ["غارة"]},  # fires on غارات: a watched word's sound plural
        {"id": "iran-thrice", "entities": ["إيران"], "min_mentions": 3},
    ]
    return [compile_watch(Watch.model_validate(s), registry, TOPICS) for s in specs]


def test_percolator_queries_select_what_match_watch_selects(
    registry: EntityRegistry, corpus: list[Article]
) -> None:
    analyzer = registry.analyzer
    docs = [percolation_document(a, analyzer) for a in corpus]
    both = 0
    for cw in _watches(registry, corpus):
        query = watch_to_percolator_query(cw)
        assert query is not None
        for article, doc in zip(corpus, docs, strict=True):
            expected = match_watch(cw, article, analyzer) is not None
            got = evaluate(query, doc)
            if cw.watch.min_mentions == 1:
                assert got == expected, (cw.watch.id, article.title)
            else:  # min_mentions is applied by the in-stream check on the candidates
                assert got >= expected, (cw.watch.id, article.title)
            both += expected
    assert both >= 10  # the watches do fire: this compares real matches, not only misses


def test_query_body_of_a_watch(registry: EntityRegistry) -> None:
    watch = Watch.model_validate(
        {
            "id": "w",
            "any_of": {"entities": ["بوتين"], "words": ["قاعدة فوستوتشني"]},
            "all_of": {"topics": ["space"]},
            "none_of": {"words": ["أوكرانيا"]},
            "sources": ["arabicpost"],
            "languages": ["ar"],
        }
    )
    query = watch_to_percolator_query(compile_watch(watch, registry, TOPICS))

    def phrase(text: str) -> dict[str, Any]:
        first, *rest = text.split()
        forms = (
            [first, *(p + first for p in ("ب", "ل", "ك", "ف", "فب", "فل", "فك"))]
            if len(first) >= 3 and "\u0621" <= first[0] <= "\u064a"  # Arabic words only (not vostochny)
            else [first]
        )
        texts = [" ".join((form, *rest)) for form in forms]
        if rest and len(rest[0]) >= 3:  # a second word also behind ل (وقف لإطلاق النار)
            texts.append(" ".join((first, "ل" + rest[0], *rest[1:])))
        return {
            "bool": {
                "should": [
                    {"match_phrase": {field: text}}
                    for text in texts
                    for field in ("terms_title", "terms_body")
                ],
                "minimum_should_match": 1,
            }
        }

    def any_form(text: str) -> dict[str, Any]:
        """The phrase, or another spelling of the registry name it is (بوتين: بوطين، Putin …)."""
        others = other_spellings(tuple(text.split()), registry.name_forms)
        if not others:
            return phrase(text)
        forms = [phrase(text), *(phrase(" ".join(f)) for f in others)]
        return {"bool": {"should": forms, "minimum_should_match": 1}}

    assert other_spellings(("قاعده", "فوستوتشني"), registry.name_forms)  # the case is exercised
    assert query == {
        "bool": {
            "filter": [
                {"terms": {"source": ["arabicpost"]}},
                {"terms": {"language": ["ar"]}},
                {"term": {"topics.id": "space"}},
                {
                    "bool": {
                        "should": [{"term": {"entity_ids": "Q7747"}}, any_form("قاعده فوستوتشني")],
                        "minimum_should_match": 1,
                    }
                },
            ],
            "must_not": [any_form("اوكرانيا")],
        }
    }


def test_paused_and_surge_watches_are_not_percolated(registry: EntityRegistry) -> None:
    paused = Watch.model_validate({"id": "p", "entities": ["بوتين"], "paused": True})
    surge = Watch.model_validate({"id": "s", "entities": ["بوتين"], "surge": {"window": "1h"}})
    for watch in (paused, surge):
        assert watch_to_percolator_query(compile_watch(watch, registry, TOPICS)) is None


def test_percolate_body_pages_watches_by_id() -> None:
    body = percolate_body([{"id": "a"}, {"id": "b"}], 1000, ["w9"])
    assert body["query"] == {"percolate": {"field": "query", "documents": [{"id": "a"}, {"id": "b"}]}}
    assert body["sort"] == [{"watch_id": {"order": "asc"}}]
    assert body["search_after"] == ["w9"]


async def test_sync_and_percolate(registry: EntityRegistry, corpus: list[Article]) -> None:
    hits = [
        {
            "_index": "rasd-watches",
            "_id": "iran",
            "_source": {"watch_id": "iran"},
            "sort": ["iran"],
            "fields": {"_percolator_document_slot": [1, 0]},
        },
        {
            "_index": "rasd-watches",
            "_id": "putin",
            "_source": {"watch_id": "putin"},
            "sort": ["putin"],
            "fields": {"_percolator_document_slot": [0]},
        },
    ]
    client = FakeClient(search_responses=[{"hits": {"hits": hits}}, {"hits": {"hits": []}}])
    es = ElasticsearchBackend(client, registry.analyzer, names=IndexNames("rasd"), bulk=BulkOptions())
    watches = _watches(registry, corpus)
    paused = compile_watch(
        Watch.model_validate({"id": "off", "words": ["x"], "paused": True}), registry, TOPICS
    )
    assert await es.sync_watches([*watches, paused]) == len(watches)
    (stored,) = client.bulk_calls
    assert [p["_id"] for p in stored] == [cw.watch.id for cw in watches]
    assert all(p["_index"] == "rasd-watches" for p in stored)
    assert stored[-1]["source"]["min_mentions"] == 3
    assert client.bulk_kwargs == [{"refresh": True}]
    name, kwargs = client.other_calls[-1]
    assert name == "delete_by_query"
    assert kwargs["query"] == {"bool": {"must_not": [{"ids": {"values": [cw.watch.id for cw in watches]}}]}}

    pairs = await es.percolate(corpus[:3], batch_size=2)
    assert pairs == [(corpus[0].id, "iran"), (corpus[0].id, "putin"), (corpus[1].id, "iran")]
    first, second = client.search_calls
    assert [d["id"] for d in first["body"]["query"]["percolate"]["documents"]] == [a.id for a in corpus[:2]]
    assert [d["id"] for d in second["body"]["query"]["percolate"]["documents"]] == [corpus[2].id]
    assert first["index"] == "rasd-watches"
