"""SearchQuery → request bodies: text from stems only, filters, sort, pages and cursors, facets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.errors import InvalidQuery
from pipeline.search import SearchQuery, parse_user_query
from pipeline.search.base import FacetCount
from pipeline.search.elasticsearch.queries import (
    TITLE_BOOST,
    decode_cursor,
    encode_cursor,
    parse_facets,
    scan_body,
    search_body,
)
from pipeline.text import Analyzer


def body(analyzer: Analyzer, text: str = "", **kwargs: Any) -> dict[str, Any]:
    query = SearchQuery(text=text, **kwargs)
    return search_body(query, parse_user_query(query.text, analyzer))


def either(text: str, boost: bool = True) -> list[dict[str, Any]]:
    title: dict[str, Any] = {"query": text, "boost": TITLE_BOOST} if boost else {"query": text}
    return [{"match_phrase": {"terms_title": title}}, {"match_phrase": {"terms_body": {"query": text}}}]


def forms(text: str) -> list[str]:
    """The item, its first word behind each preposition the analyzer leaves on, and a phrase's second
    word behind ل (`Phrase.forms`)."""
    first, *rest = text.split()

    def arabic(word: str) -> bool:
        return len(word) >= 3 and "\u0621" <= word[0] <= "\u064a"

    firsts = (
        [first, *(p + first for p in ("ب", "ل", "ك", "ف", "فب", "فل", "فك"))] if arabic(first) else [first]
    )
    if not rest:
        return firsts
    inner = [" ".join((first, "ل" + rest[0], *rest[1:]))] if arabic(rest[0]) else []
    return [" ".join((f, *rest)) for f in firsts] + inner


def group(*alternatives: str) -> dict[str, Any]:
    should = [c for a in alternatives for f in forms(a) for c in either(f)]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def excluded(text: str) -> list[dict[str, Any]]:
    return [c for f in forms(text) for c in either(f, boost=False)]


NEWEST = [{"published": {"order": "desc", "missing": "_last"}}, {"id": {"order": "desc"}}]


def test_empty_query_matches_all_newest_first(analyzer: Analyzer) -> None:
    b = body(analyzer, facets=False)
    assert "query" not in b  # match_all
    assert b["sort"] == NEWEST
    assert (b["size"], b["from"], b["track_total_hits"], b["track_scores"]) == (11, 0, True, False)
    assert b["_source"] == {"excludes": ["terms_title", "terms_body", "at", "entity", "entity_ids"]}
    assert "aggs" not in b


@pytest.mark.parametrize(
    ("text", "must", "must_not"),
    [
        ("وبوتين", [group("بوتين")], []),
        ("بوتين كيم", [group("بوتين"), group("كيم")], []),
        ('"كيم جونغ أون"', [group("كيم جونغ اون")], []),
        ("قزوين OR أبوظبي", [group("قزوين", "ابوظبي", "ابوظبيين", "ابوظبيون")], []),  # no registry here
        ("روسيا -أوكرانيا", [group("روسيا")], excluded("اوكرانيا")),
        ('روسيا -"بحر قزوين"', [group("روسيا")], excluded("بحر قزوين")),
        ("e-mail", [group("e mail")], []),  # split by the analyzer: a phrase of its parts
    ],
)
def test_text_is_compiled_from_stems(
    analyzer: Analyzer, text: str, must: list[dict[str, Any]], must_not: list[dict[str, Any]]
) -> None:
    b = body(analyzer, text)
    assert b["query"] == {"bool": {"must": must, **({"must_not": must_not} if must_not else {})}}
    assert b["sort"] == [{"_score": {"order": "desc"}}, *NEWEST]
    assert b["track_scores"] is True


@pytest.mark.parametrize(
    "text",
    [
        "title:بوتين",
        "NEAR(بوتين كيم)",
        "بوتين*",
        "^بوتين",
        "(بوتين)",
        "+بوتين",
        "{title body}:بوتين",
        "a|b\\c",
    ],
)
def test_engine_syntax_never_reaches_a_parser(analyzer: Analyzer, text: str) -> None:
    b = body(analyzer, text)
    raw = json.dumps(b, ensure_ascii=False)
    assert "query_string" not in raw and "simple_query_string" not in raw
    phrases = [
        leaf["match_phrase"][field]["query"]
        for g in b["query"]["bool"]["must"]
        for leaf in g["bool"]["should"]
        for field in leaf["match_phrase"]
    ]
    # every query string is stems joined by spaces (the first behind a preposition or not): no operator
    # character survives
    assert all(set(p) <= set("".join(analyzer.terms(text)) + " بلكف") for p in phrases)


def test_newest_sort_with_text_keeps_scores(analyzer: Analyzer) -> None:
    b = body(analyzer, "إيران", sort="newest")
    assert b["sort"] == NEWEST
    assert b["track_scores"] is True


def test_filters(analyzer: Analyzer) -> None:
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC)
    b = body(
        analyzer,
        entities=["Q7747", "Q7747", "Q794"],
        topics=["conflict"],
        sources=["aljazeera"],
        languages=["ar"],
        since=since,
        until=until,
    )
    assert b["query"] == {
        "bool": {
            "filter": [
                {"terms": {"source": ["aljazeera"]}},
                {"terms": {"language": ["ar"]}},
                {"terms": {"entity_ids": ["Q7747", "Q794"]}},
                {"terms": {"topics.id": ["conflict"]}},
                {
                    "range": {
                        "published": {"gte": "2026-03-01T00:00:00+00:00", "lte": "2026-03-31T12:00:00+00:00"}
                    }
                },
            ]
        }
    }


def test_text_and_filters_are_anded(analyzer: Analyzer) -> None:
    b = body(analyzer, "ترمب", entities=["Q794"])
    assert b["query"]["bool"]["must"] == [group("ترمب", "ترمبات", "ترمبين", "ترمبون")]  # no registry here
    assert b["query"]["bool"]["filter"] == [{"terms": {"entity_ids": ["Q794"]}}]


def test_too_many_filter_values(analyzer: Analyzer) -> None:
    with pytest.raises(InvalidQuery, match="too many sources"):
        body(analyzer, sources=[f"s{i}" for i in range(501)])


def test_pages_are_from_and_size_plus_one(analyzer: Analyzer) -> None:
    b = body(analyzer, page=3, size=20)
    assert (b["from"], b["size"]) == (40, 21)
    assert "search_after" not in b


def test_cursor_becomes_search_after(analyzer: Analyzer) -> None:
    query = SearchQuery(text="إيران", size=5)
    cursor = encode_cursor(query, [3.25, 1774361763000, "abc123"])
    after = SearchQuery(text="إيران", size=7, after=cursor)
    b = search_body(after, parse_user_query(after.text, analyzer))
    assert b["search_after"] == [3.25, 1774361763000, "abc123"]
    assert "from" not in b and b["size"] == 8


def test_cursor_is_opaque_and_bound_to_the_query() -> None:
    query = SearchQuery(text="إيران", sources=["a"])
    cursor = encode_cursor(query, [1.5, -9223372036854775808, "id"])  # an unpublished article's sort value
    assert decode_cursor(query.model_copy(update={"size": 50, "facets": False}), cursor) == [
        1.5,
        -9223372036854775808,
        "id",
    ]
    with pytest.raises(InvalidQuery, match="another query"):
        decode_cursor(SearchQuery(text="إيران"), cursor)
    with pytest.raises(InvalidQuery, match="malformed"):
        decode_cursor(query, "!!")
    from pipeline.search.sqlite_sql import encode_cursor as sqlite_cursor

    with pytest.raises(InvalidQuery, match="another search backend"):
        decode_cursor(query, sqlite_cursor(query, [1.5, 2, 3]))


def test_facet_aggregations(analyzer: Analyzer) -> None:
    aggs = body(analyzer, facet_size=5)["aggs"]
    by_count = [{"_count": "desc"}, {"_key": "asc"}]
    assert aggs["entities"] == {
        "nested": {"path": "entity"},
        "aggs": {
            "ids": {
                "terms": {"field": "entity.id", "size": 5, "order": by_count},
                "aggs": {"label": {"terms": {"field": "entity.name", "size": 1, "order": {"_key": "desc"}}}},
            }
        },
    }
    assert aggs["topics"] == {"terms": {"field": "topics.id", "size": 5, "order": by_count}}
    assert aggs["sources"] == {"terms": {"field": "source", "size": 5, "order": by_count}}
    assert aggs["days"] == {
        "date_histogram": {
            "field": "published",
            "calendar_interval": "day",
            "time_zone": "UTC",
            "format": "yyyy-MM-dd",
            "min_doc_count": 1,
            "order": {"_key": "desc"},
        }
    }


# the "aggregations" of a search response, in the documented shapes (terms, nested, date_histogram)
AGGREGATIONS: dict[str, Any] = {
    "entities": {
        "doc_count": 9,
        "ids": {
            "doc_count_error_upper_bound": 0,
            "sum_other_doc_count": 0,
            "buckets": [
                {
                    "key": "Q794",
                    "doc_count": 4,
                    "label": {
                        "doc_count_error_upper_bound": 0,
                        "sum_other_doc_count": 0,
                        "buckets": [{"key": "إيران", "doc_count": 4}],
                    },
                },
                {
                    "key": "Q22686",
                    "doc_count": 3,
                    "label": {"buckets": [{"key": "دونالد ترامب", "doc_count": 3}]},
                },
            ],
        },
    },
    "topics": {"buckets": [{"key": "diplomacy", "doc_count": 2}, {"key": "conflict", "doc_count": 1}]},
    "sources": {"buckets": [{"key": "aljazeera", "doc_count": 1}]},
    "days": {
        "buckets": [
            {"key_as_string": "2026-04-02", "key": 1775088000000, "doc_count": 1},
            {"key_as_string": "2026-03-24", "key": 1774310400000, "doc_count": 1},
            {"key_as_string": "2026-02-25", "key": 1771977600000, "doc_count": 2},
        ]
    },
}


def test_parse_facets() -> None:
    facets = parse_facets(AGGREGATIONS, size=2)
    assert facets.entities == [
        FacetCount(value="Q794", label="إيران", count=4),
        FacetCount(value="Q22686", label="دونالد ترامب", count=3),
    ]
    assert [(f.value, f.count) for f in facets.topics] == [("diplomacy", 2), ("conflict", 1)]
    assert [(f.value, f.count) for f in facets.sources] == [("aljazeera", 1)]
    # the histogram has no size: the newest `size` days are kept
    assert [f.value for f in facets.days] == ["2026-04-02", "2026-03-24"]
    assert parse_facets({}, size=10).entities == []


def test_scan_body() -> None:
    since = datetime(2026, 3, 24, 14, 16, 3, tzinfo=UTC)
    first = scan_body("pit-1", since, None, 2, None, "2m")
    assert first["pit"] == {"id": "pit-1", "keep_alive": "2m"}
    assert first["query"] == {"bool": {"filter": [{"range": {"at": {"gte": "2026-03-24T14:16:03+00:00"}}}]}}
    assert first["sort"] == [{"at": {"order": "asc"}}, {"id": {"order": "asc"}}]
    assert (first["size"], first["track_total_hits"]) == (2, False)
    assert "search_after" not in first and "index" not in first
    nxt = scan_body("pit-2", None, since, 2, [1774361763000, "x", 7], "2m")
    assert nxt["query"] == {"bool": {"filter": [{"range": {"at": {"lt": "2026-03-24T14:16:03+00:00"}}}]}}
    assert nxt["search_after"] == [1774361763000, "x", 7]
    assert "query" not in scan_body("p", None, None, 10, None, "2m")
