"""Article → document: the stems SQLite indexes, the timeline date, one entity per canonical id."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.errors import SearchError
from pipeline.models import Article
from pipeline.search.elasticsearch.documents import DERIVED_FIELDS, article_document, article_from_source
from pipeline.search.sqlite import SqliteBackend
from pipeline.text import Analyzer
from tests.pipeline.search.search_corpus import KIM, PUTIN, RUSSIA, SEED_ID, UKRAINE


def test_stems_are_what_the_sqlite_backend_indexes(corpus: list[Article], analyzer: Analyzer) -> None:
    sqlite = SqliteBackend(":memory:", analyzer)
    for article in corpus:
        doc = article_document(article, analyzer)
        row = sqlite._analyse(article)  # the reference backend's analysed row
        # the same stems in the same order (SQLite's may have runs of spaces where a piece had none)
        assert doc["terms_title"].split() == row.title_terms.split()
        assert doc["terms_body"].split() == row.body_terms.split()


def test_seed_document(corpus: list[Article], analyzer: Analyzer) -> None:
    seed = next(a for a in corpus if a.id == SEED_ID)
    doc = article_document(seed, analyzer)
    assert doc["id"] == SEED_ID and doc["source"] == "arabicpost" and doc["language"] == "ar"
    assert doc["terms_title"].split()[:2] == ["كيم", "بوتين"]  # وبوتين → بوتين
    assert doc["at"] == "2023-09-13T09:30:00+00:00"
    # two mentions of Putin, one entity object each; the name of the first mention
    assert doc["entity_ids"] == [PUTIN, KIM, RUSSIA, UKRAINE]
    assert doc["entity"][0] == {"id": PUTIN, "type": "PER", "name": "فلاديمير بوتين"}
    assert [t["id"] for t in doc["topics"]] == ["diplomacy", "space"]
    assert set(DERIVED_FIELDS) <= set(doc)


def test_unpublished_article_is_dated_by_its_fetch_time(corpus: list[Article], analyzer: Analyzer) -> None:
    undated = corpus[1].model_copy(update={"published": None, "fetched": datetime(2024, 5, 1, tzinfo=UTC)})
    doc = article_document(undated, analyzer)
    assert doc["published"] is None
    assert doc["at"] == "2024-05-01T00:00:00+00:00"


def test_percolation_keeps_summary_and_body_apart(corpus: list[Article], analyzer: Analyzer) -> None:
    seed = next(a for a in corpus if a.id == SEED_ID)
    doc = article_document(seed, analyzer, percolation=True)
    assert doc["terms_body"] == [" ".join(analyzer.terms(seed.summary)), " ".join(analyzer.terms(seed.body))]


def test_the_source_gives_back_the_article(corpus: list[Article], analyzer: Analyzer) -> None:
    for article in corpus:
        source = json.loads(json.dumps(article_document(article, analyzer), ensure_ascii=False))
        assert article_from_source(source) == article


def test_an_unreadable_source_is_a_search_error() -> None:
    with pytest.raises(SearchError, match="cannot be read"):
        article_from_source({"id": "short", "source": ""})
