"""The search contract: a backend-neutral query model and the `SearchBackend` protocol.

Backends (SQLite FTS5 embedded default, Elasticsearch for production) compile `SearchQuery`
themselves and pass one behavioural test suite. User text never reaches a raw query parser:
`pipeline.search.query.parse_user_query` turns it into a `ParsedQuery` first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from pipeline.models import Article

__all__ = [
    "HIGHLIGHT_POST",
    "HIGHLIGHT_PRE",
    "FacetCount",
    "Facets",
    "IndexReport",
    "SearchBackend",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "joined_body_terms",
]

HIGHLIGHT_PRE = "<mark>"
HIGHLIGHT_POST = "</mark>"
MAX_PAGE_SIZE = 100
MAX_PAGE = 1000
# stands between the summary's terms and the body's in the one searched text: a token no query
# produces (the analyzer's words have no format characters), so no phrase runs from one into the other
FIELD_GAP = "\u2063"


def joined_body_terms(summary_terms: str, body_terms: str) -> str:
    """The searched text of summary and body (both backends index this): the two, apart."""
    return f"{summary_terms} {FIELD_GAP} {body_terms}" if summary_terms.strip() else body_terms


class SearchQuery(BaseModel):
    """What a user asks: free text in the safe syntax plus filters.

    Filters are AND-ed; values in one filter are OR-ed.
    """

    text: str = Field(default="", max_length=1000, description='words, "phrases", -excluded, OR')
    entities: list[str] = Field(default_factory=list, description="canonical entity ids")
    topics: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    sort: Literal["relevance", "newest"] = "relevance"
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    size: int = Field(default=10, ge=1, le=MAX_PAGE_SIZE)
    facets: bool = True
    facet_size: int = Field(default=10, ge=1, le=100)
    after: str | None = Field(
        default=None,
        max_length=4096,
        description="opaque cursor from `SearchResult.next_cursor`: the page after that one (deep paging)",
    )

    @model_validator(mode="after")
    def _range_in_order(self) -> SearchQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        if self.after is not None and self.page != 1:
            raise ValueError("give either page or after (a cursor), not both")
        return self


class SearchHit(BaseModel):
    """One result: the stored article, its score and highlighted fragments (HTML-escaped, <mark>ed)."""

    article: Article
    score: float
    highlights: dict[str, list[str]] = Field(default_factory=dict)


class FacetCount(BaseModel):
    value: str
    label: str = ""
    count: int


class Facets(BaseModel):
    """Counts over all matching articles (not just the page); over the window when the total is capped."""

    entities: list[FacetCount] = Field(default_factory=list)
    topics: list[FacetCount] = Field(default_factory=list)
    sources: list[FacetCount] = Field(default_factory=list)
    days: list[FacetCount] = Field(default_factory=list, description="value = YYYY-MM-DD of `published`")


class SearchResult(BaseModel):
    """One page of results; `next_cursor` (None on the last page) is the `after` of the next page.

    A cursor belongs to the backend and the query (text, filters, sort) that produced it; the page
    size may change between pages. A cursor is a position in the sort order (keyset), not a snapshot:
    articles indexed or changed between pages show up where they now sort.
    """

    total: int
    total_relation: Literal["eq", "gte"] = Field(
        default="eq",
        description="eq: `total` is exact; gte: at least `total` articles match (a capped count, as "
        "Elasticsearch reports past track_total_hits; hits, pages and facets then come from the "
        "`total` most recently indexed matches)",
    )
    hits: list[SearchHit]
    facets: Facets = Field(default_factory=Facets)
    next_cursor: str | None = None


class IndexReport(BaseModel):
    """What `index_many` did: ids written, and per-document failures (id, reason) for the DLQ."""

    indexed: list[str] = Field(default_factory=list)
    failed: list[tuple[str, str]] = Field(default_factory=list)


@runtime_checkable
class SearchBackend(Protocol):
    """Lifecycle: `setup` once, then `index_many`/`search`/`get`/`scan`, then `close`.

    Writes are upserts by article id, so re-indexing the same article is idempotent.
    Raises `SearchUnavailable` when the engine cannot take requests now (retry later) and
    `InvalidQuery` for a malformed query.
    """

    async def setup(self) -> None: ...

    async def index_many(self, articles: Sequence[Article]) -> IndexReport: ...

    async def search(self, query: SearchQuery) -> SearchResult: ...

    async def get(self, article_id: str) -> Article | None: ...

    async def count(self) -> int: ...

    def scan(
        self, since: datetime | None = None, until: datetime | None = None, batch_size: int = 500
    ) -> AsyncIterator[Article]:
        """Every stored article dated in [since, until), oldest first (ties in a stable order).

        An article is dated by `published`, or by its fetch time when unpublished. Articles are
        read `batch_size` at a time, never all at once (backtests and reindexing walk the whole
        history). Bounds must be timezone-aware; `InvalidQuery` otherwise.
        """
        ...

    async def delete(self, article_ids: Sequence[str]) -> int: ...

    async def stale_analysis(self) -> int:
        """How many stored articles were analysed with another `Analyzer.fingerprint` (or an unknown one).

        Their terms are what the analyzer of that time produced: after the entity registry changed
        which words are protected, a query may miss them until `reanalyse` runs.
        """
        ...

    def reanalyse(self, batch_size: int = 500) -> AsyncIterator[int]:
        """Re-analyse every stale article from its stored text, `batch_size` at a time.

        Yields the running count after each batch; the index is current once it is exhausted. Safe
        to interrupt and run again, and beside a writer (new articles are analysed by it anyway).
        """
        ...

    async def close(self) -> None: ...
