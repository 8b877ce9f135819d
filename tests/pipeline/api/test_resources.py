"""Articles, entities, health, metrics and the OpenAPI document, over the indexed sample feeds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.errors import SearchUnavailable
from pipeline.metrics import MetricsRecorder
from pipeline.search.base import SearchQuery, SearchResult
from tests.pipeline.api.corpus import Corpus

IRAN, TRUMP, PUTIN = "Q794", "Q22686", "Q7747"


def test_openapi_document_lists_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/search",
        "/articles/{article_id}",
        "/entities/{entity_id}",
        "/alerts",
        "/alerts/stream",
        "/watches",
        "/watches/{watch_id}",
        "/watches/{watch_id}/pause",
        "/healthz",
        "/metrics",
    ):
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/watches"]) and "delete" in paths["/watches/{watch_id}"]


def test_article_with_entity_spans_into_the_original_text(client: TestClient, corpus: Corpus) -> None:
    seed = next(a for a in corpus.articles if a.source == "seed")
    body = client.get(f"/articles/{seed.id}").json()
    assert body["title"] == seed.title and body["body"] == seed.body
    assert len(body["entities"]) > 20
    for m in body["entities"]:
        assert body[m["field"]][m["start"] : m["end"]] == m["surface"]
    assert {PUTIN, "Q56226"} <= {m["canonical_id"] for m in body["entities"]}


def test_unknown_article_is_a_json_404(client: TestClient) -> None:
    response = client.get("/articles/no-such-article")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "status": 404,
        "code": "not_found",
        "message": "no article with id 'no-such-article'",
        "field": "id",
    }


def test_entity_profile(client: TestClient, corpus: Corpus) -> None:
    body = client.get(f"/entities/{IRAN}").json()
    assert (body["name_ar"], body["name_en"], body["type"], body["in_registry"]) == (
        "إيران",
        "Iran",
        "LOC",
        True,
    )
    mentioning = [a for a in corpus.articles if any(m.canonical_id == IRAN for m in a.entities)]
    assert body["articles"] == len(mentioning)
    days = [d["day"] for d in body["timeline"]]
    assert days == sorted(days) and sum(d["count"] for d in body["timeline"]) == len(mentioning)
    co = {c["id"]: c for c in body["co_mentions"]}
    assert TRUMP in co and co[TRUMP]["type"] == "PER" and IRAN not in co
    latest = [a["published"] for a in body["latest"]]
    assert len(latest) == 10 and latest == sorted(latest, reverse=True)
    assert "إيران" in body["variants"]


def test_entity_by_name_and_names_the_registry_does_not_know(client: TestClient, corpus: Corpus) -> None:
    assert client.get("/entities/بوتين").json()["id"] == PUTIN
    unknown = next(m for a in corpus.articles for m in a.entities if m.canonical_id.startswith("u:"))
    body = client.get(f"/entities/{unknown.canonical_id}").json()
    assert body["in_registry"] is False and body["articles"] >= 1 and body["type"] == unknown.type
    missing = client.get("/entities/Q0000000")
    assert missing.status_code == 404 and "unknown entity" in missing.json()["error"]["message"]
    for wordless in ("!", "ـ", "..."):  # no stems to look up: still a 404, not a crash
        assert client.get(f"/entities/{wordless}").status_code == 404


def test_health_and_metrics(client: TestClient, corpus: Corpus) -> None:
    health = client.get("/healthz").json()
    assert health == {
        "status": "ok",
        "search_backend": "sqlite",
        "articles": len(corpus.articles),
        "alerts": health["alerts"],
        "stale_articles": 0,  # indexed with the registry the API reads
    }
    assert health["alerts"] > 0
    recorder = MetricsRecorder(corpus.settings.data_dir, "worker")
    recorder.set("articles_indexed", len(corpus.articles))
    recorder.observe("indexed_latency_seconds", 0.4)
    recorder.flush()
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert f"rasd_articles_indexed_total {len(corpus.articles)}\n" in text
    assert "rasd_indexed_latency_seconds_count 1" in text
    assert "# TYPE rasd_articles_fetched_total counter" in text
    assert "rasd_dlq_messages" not in text  # no broker configured: left out, not an error


def test_search_outage_is_a_503_with_retry_after(fresh: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = fresh.app.state.services.backend  # type: ignore[attr-defined]

    async def down(query: SearchQuery) -> SearchResult:
        raise SearchUnavailable("index locked", retry_after=2.5)

    async def count() -> int:
        raise SearchUnavailable("index locked", retry_after=1)

    monkeypatch.setattr(backend, "search", down)
    monkeypatch.setattr(backend, "count", count)
    for path in ("/search?q=إيران", "/healthz"):
        response = fresh.get(path)
        assert response.status_code == 503
        body: dict[str, Any] = response.json()
        assert body["error"]["code"] == "unavailable" and "index locked" in body["error"]["message"]
    assert fresh.get("/search?q=إيران").headers["retry-after"] == "3"
