"""Article ⇄ Elasticsearch document (pure).

A document is the article's own JSON (the stored copy `get`, `scan` and search hits return) plus
fields derived for search:

- ``terms_title`` / ``terms_body``: `Analyzer` stems joined by spaces, the same text the SQLite
  backend gives FTS5 (summary and body in one text, a gap token between them), so both backends
  match the same articles.
- ``at``: where the article sits on the timeline (``published``, or the fetch time) for `scan`.
- ``entity`` (nested, one per canonical id: id, type, name of its first mention) for facets with
  labels, and ``entity_ids`` (flat keywords) for filters and watches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from pipeline.errors import SearchError
from pipeline.models import Article
from pipeline.search.base import joined_body_terms

__all__ = ["DERIVED_FIELDS", "TermAnalyzer", "article_document", "article_from_source", "search_terms"]

DERIVED_FIELDS = ("terms_title", "terms_body", "at", "entity", "entity_ids")


class TermAnalyzer(Protocol):
    """What documents need from `pipeline.text.Analyzer`."""

    def terms(self, text: str) -> list[str]: ...


def article_document(
    article: Article, analyzer: TermAnalyzer, *, percolation: bool = False
) -> dict[str, Any]:
    """The document indexed for `article`.

    With `percolation`, ``terms_body`` holds summary and body as two values, so a watch phrase cannot
    run from the end of the summary into the body (the alert rules match each field on its own);
    search keeps them as one text, as the SQLite backend does.
    """
    doc = article.model_dump(mode="json")
    if percolation:
        terms = analyzer.terms
        doc["terms_title"] = " ".join(terms(article.title))
        doc["terms_body"] = [" ".join(terms(article.summary)), " ".join(terms(article.body))]
    else:
        doc.update(search_terms(article.title, article.summary, article.body, analyzer))
    doc["at"] = (article.published or article.fetched).isoformat()
    entities: dict[str, dict[str, str]] = {}
    for m in article.entities:
        entities.setdefault(m.canonical_id, {"id": m.canonical_id, "type": m.type, "name": m.canonical_name})
    doc["entity"] = list(entities.values())
    doc["entity_ids"] = list(entities)
    return doc


def search_terms(title: str, summary: str, body: str, analyzer: TermAnalyzer) -> dict[str, str]:
    """The ``terms_title`` and ``terms_body`` fields: what search matches, and what re-analysis redoes."""
    terms = analyzer.terms
    summary_terms, body_terms = " ".join(terms(summary)), " ".join(terms(body))
    return {"terms_title": " ".join(terms(title)), "terms_body": joined_body_terms(summary_terms, body_terms)}


def article_from_source(source: Mapping[str, Any]) -> Article:
    """The stored article from a document's ``_source`` (derived fields are ignored).

    Raises:
        SearchError: the stored document cannot be read by this build.
    """
    try:
        return Article.model_validate({k: v for k, v in source.items() if k not in DERIVED_FIELDS})
    except ValidationError as exc:
        raise SearchError(f"stored article cannot be read by this build: {exc}") from exc
