"""`GET /search` over the real sample feeds, enriched and indexed: text, filters, sort, pages, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.search import parse_day
from tests.pipeline.api.corpus import Corpus

IRAN, TRUMP, PUTIN = "Q794", "Q22686", "Q7747"


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/search", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_arabic_query_gives_highlighted_hits_and_facets(client: TestClient) -> None:
    body = search(client, q="إيران")
    assert body["total"] >= 20 and len(body["hits"]) == 10 and body["pages"] == -(-body["total"] // 10)
    for hit in body["hits"]:
        marked = [f for frags in hit["highlights"].values() for f in frags if "<mark>" in f]
        assert marked, hit["title"]
    facets = body["facets"]
    assert facets["entities"][0]["value"] == IRAN and facets["entities"][0]["label"] == "إيران"
    assert facets["entities"][0]["count"] == body["total"]
    assert {f["value"] for f in facets["topics"]} and all(f["label"] for f in facets["topics"])
    assert sum(f["count"] for f in facets["sources"]) == body["total"]
    days = [f["value"] for f in facets["days"]]
    assert days == sorted(days, reverse=True) and all(len(d) == 10 for d in days)


def test_clitics_and_spelling_are_normalised(client: TestClient) -> None:
    assert search(client, q="لإيران")["total"] == search(client, q="إيران")["total"]
    assert search(client, q="ايران")["total"] == search(client, q="إيران")["total"]


def test_safe_syntax_phrases_exclusion_or(client: TestClient) -> None:
    iran = search(client, q="إيران")["total"]
    without_trump = search(client, q="إيران -ترامب -ترمب")["total"]
    assert 0 < without_trump < iran
    phrase = search(client, q='"مضيق هرمز"')
    assert phrase["total"] > 0
    assert all("مضيق" in h["title"] + h["summary"] for h in phrase["hits"]) or phrase["total"] <= 10
    either = search(client, q="روسيا OR أوكرانيا")["total"]
    assert either >= max(search(client, q="روسيا")["total"], search(client, q="أوكرانيا")["total"])


@pytest.mark.parametrize(
    "text", ["title:بوتين", "بوتين*", "NEAR(بوتين كيم)", "^بوتين", "بوتين AND", "'; DROP TABLE articles; --"]
)
def test_engine_syntax_never_reaches_the_engine(client: TestClient, text: str) -> None:
    response = client.get("/search", params={"q": text})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "invalid_query"


def test_filters_entity_by_name_topic_source(client: TestClient, corpus: Corpus) -> None:
    body = search(client, entity="بوتين", size=50)  # a name, resolved through the registry
    assert body["total"] > 0
    ids = {h["id"] for h in body["hits"]}
    expected = {a.id for a in corpus.articles if any(m.canonical_id == PUTIN for m in a.entities)}
    assert ids == expected
    either = search(client, entity=[IRAN, TRUMP], size=100)  # values of one filter are OR-ed
    assert either["total"] >= search(client, entity=IRAN)["total"]
    topic = search(client, topic="economy", size=100)
    assert topic["total"] > 0 and all("economy" in {t["id"] for t in h["topics"]} for h in topic["hits"])
    source = search(client, source="hespress", size=100)
    assert source["total"] > 0 and {h["source"] for h in source["hits"]} == {"hespress"}


def test_dates_accept_eastern_arabic_digits_and_include_the_until_day(client: TestClient) -> None:
    western = search(client, since="2026-04-01", until="2026-04-02", size=100)
    eastern = search(client, since="٢٠٢٦-٠٤-٠١", until="٢٠٢٦-٠٤-٠٢", size=100)
    assert western["total"] == eastern["total"] > 0
    for hit in western["hits"]:
        published = datetime.fromisoformat(hit["published"])
        assert "2026-04-01" <= published.date().isoformat() <= "2026-04-02"


def test_until_is_the_last_instant_of_its_day_and_the_range_is_checked_on_the_day_given(
    client: TestClient,
) -> None:
    assert parse_day("2026-04-01", "until", end=True) == datetime(2026, 4, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_day("٢٠٢٦-٠٤-٠١", "since") == datetime(2026, 4, 1, tzinfo=UTC)
    assert search(client, since="2099-12-01", until="2100-01-01")["total"] == 0  # the last day allowed


def test_sort_newest_and_pagination(client: TestClient) -> None:
    first = search(client, q="إيران", sort="newest", size=5)
    second = search(client, q="إيران", sort="newest", size=5, page=2)
    dates = [h["published"] for h in first["hits"] + second["hits"]]
    assert dates == sorted(dates, reverse=True)
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}
    assert first["sort"] == "newest" and second["page"] == 2


@pytest.mark.parametrize(
    ("params", "status", "field", "message"),
    [
        ({"size": 101}, 422, "size", "less than or equal to 100"),
        ({"page": 0}, 422, "page", "greater than or equal to 1"),
        ({"page": 1001}, 422, "page", "less than or equal to 1000"),
        ({"sort": "random"}, 422, "sort", "relevance"),
        ({"q": "x" * 1001}, 422, "q", "at most 1000"),
        ({"q": '"'}, 400, None, "no searchable words"),
        ({"q": "-بوتين"}, 400, None, "exclu"),
        ({"since": "2026-13-01"}, 400, "since", "is not a date"),
        ({"since": "yesterday"}, 400, "since", "is not a date"),
        ({"since": "2026-04-02", "until": "2026-04-01"}, 400, "since", "before until"),
        ({"since": "1990-01-01", "until": "2099-01-01"}, 400, "until", "longer than"),
        ({"since": "1066-10-14"}, 400, "since", "between 1990"),
        ({"until": "9999-12-31"}, 400, "until", "between 1990"),  # the day after it is no date
        ({"until": "٩٩٩٩-١٢-٣١"}, 400, "until", "between 1990"),
        ({"entity": "!"}, 400, "entity", "unknown entity"),  # a name without a word
        ({"entity": "ـــ"}, 400, "entity", "unknown entity"),
        ({"entity": "شخص لا يعرفه أحد"}, 400, "entity", "unknown entity"),
        ({"topic": "gardening"}, 400, "topic", "unknown topic"),
        ({"source": [f"s{i}" for i in range(21)]}, 400, "source", "at most 20"),
    ],
)
def test_bad_requests_get_a_json_error_naming_the_problem(
    client: TestClient, params: dict[str, Any], status: int, field: str | None, message: str
) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and message in error["message"]
    if field:
        assert error["field"] == field
