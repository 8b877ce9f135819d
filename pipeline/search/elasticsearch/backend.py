"""The production search backend: Elasticsearch 9 through the official async client.

Matching is compiled from `pipeline.text.Analyzer` stems (``terms_*`` fields) and highlights are
computed in Python from the stored article with `pipeline.search.highlight`, exactly as the SQLite
backend does: the same query finds the same articles and marks the same words in both backends.
The Elasticsearch Arabic analyzer on ``title``/``summary``/``body`` serves Kibana and ad-hoc queries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from elasticsearch import AsyncElasticsearch, BadRequestError

from pipeline.errors import ConfigError, InvalidQuery, SearchError, SearchUnavailable
from pipeline.models import Article
from pipeline.search.base import Facets, IndexReport, SearchHit, SearchQuery, SearchResult
from pipeline.search.elasticsearch.bulk import (
    BulkOptions,
    Refresh,
    backing_indices,
    locate,
    run_bulk,
)
from pipeline.search.elasticsearch.documents import article_document, article_from_source, search_terms
from pipeline.search.elasticsearch.errors import RETRYABLE_STATUSES, complete, map_errors
from pipeline.search.elasticsearch.mappings import (
    ANALYSIS_META,
    IlmPolicy,
    IndexNames,
    IndexOptions,
    ilm_policy,
    index_settings,
    index_template,
    watches_index,
)
from pipeline.search.elasticsearch.percolate import percolate, sync_watches
from pipeline.search.elasticsearch.queries import (
    encode_cursor,
    parse_facets,
    preference,
    scan_body,
    search_body,
)
from pipeline.search.highlight import entity_marks, highlight_fields
from pipeline.search.query import ParsedQuery, parse_user_query
from pipeline.text import Analyzer

if TYPE_CHECKING:
    from pipeline.alerts.rules import CompiledWatch
    from pipeline.settings import Settings

__all__ = ["ElasticsearchBackend", "client_from_settings"]

log = logging.getLogger("rasd.search.elasticsearch")

_PIT_KEEP_ALIVE = "2m"


def client_from_settings(settings: Settings) -> AsyncElasticsearch:
    """An async client for ``RASD_ELASTICSEARCH_*``; connection-level retries on 502/503/504 and timeouts.

    429 is not retried here: bulk writes retry it with backoff, and callers get `SearchUnavailable`.
    """
    if not settings.elasticsearch_url:
        raise ConfigError(
            "RASD_ELASTICSEARCH_URL is not set; it is needed for RASD_SEARCH_BACKEND=elasticsearch"
        )
    options: dict[str, Any] = {
        "request_timeout": settings.elasticsearch_request_timeout_s,
        "retry_on_status": (502, 503, 504),
        "retry_on_timeout": True,
        "max_retries": 2,
        "verify_certs": settings.elasticsearch_verify_certs,
    }
    if settings.elasticsearch_api_key is not None:
        options["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username:
        password = (
            settings.elasticsearch_password.get_secret_value() if settings.elasticsearch_password else ""
        )
        options["basic_auth"] = (settings.elasticsearch_username, password)
    if settings.elasticsearch_ca_certs is not None:
        options["ca_certs"] = str(settings.elasticsearch_ca_certs)
    if not settings.elasticsearch_verify_certs:
        log.warning("TLS certificate verification for elasticsearch is OFF (RASD_ELASTICSEARCH_VERIFY_CERTS)")
        options["ssl_show_warn"] = False
    return AsyncElasticsearch(settings.elasticsearch_url, **options)


class ElasticsearchBackend:
    """`SearchBackend` on Elasticsearch 9: time-based article indices behind an alias, ILM, percolator.

    Args:
        client: the async client (see `client_from_settings`); closed by `close` when `owns_client`.
        analyzer: the analyzer used for indexing, queries and highlights; its protected names also
            go into the index template (change them and re-index, as with SQLite).
        names: index, alias, template and policy names from one prefix.
        stopwords: stop words for the Elasticsearch Arabic analyzer (not for `search`, which uses
            every stem, as SQLite does).
        ilm: rollover and retention.
        index_options: refresh interval, idle-after, shards, replicas.
        bulk: chunk size (documents and bytes), retries and backoff of bulk writes.
        refresh: refresh after each write (`True`, ``"wait_for"``) so it is searchable at once: for
            tests and one-shot CLI use; the indexer leaves it off (near-real-time, ~1 s).
        writer: whether this process writes articles. Only a writer updates an existing policy and
            template: the template records the writer's analyzer, and a reader (the API, a search
            from the command line) started with other configuration during a rolling upgrade would
            make new indices claim an analysis their documents do not have.
    """

    def __init__(
        self,
        client: AsyncElasticsearch,
        analyzer: Analyzer,
        *,
        names: IndexNames | None = None,
        stopwords: Collection[str] = (),
        ilm: IlmPolicy | None = None,
        index_options: IndexOptions | None = None,
        bulk: BulkOptions | None = None,
        refresh: Refresh = False,
        owns_client: bool = True,
        writer: bool = True,
    ) -> None:
        self._client = client
        self._analyzer = analyzer
        self.names = names or IndexNames()
        self._stopwords = tuple(stopwords)
        self._ilm = ilm or IlmPolicy()
        self._index_options = index_options or IndexOptions()
        self._bulk = bulk or BulkOptions()
        self._refresh: Refresh = refresh
        self._owns_client = owns_client
        self.writer = writer

    def __repr__(self) -> str:
        return f"ElasticsearchBackend(alias={self.names.alias!r})"

    @classmethod
    def from_settings(
        cls, settings: Settings, analyzer: Analyzer, *, stopwords: Collection[str] = (), writer: bool = True
    ) -> ElasticsearchBackend:
        """The backend the ``RASD_ELASTICSEARCH_*`` settings describe.

        Raises:
            ConfigError: RASD_ELASTICSEARCH_URL is not set.
        """
        return cls(
            client_from_settings(settings),
            analyzer,
            names=IndexNames(settings.elasticsearch_index_prefix),
            stopwords=stopwords,
            ilm=IlmPolicy(
                max_primary_shard_size=settings.elasticsearch_rollover_max_size,
                max_age=settings.elasticsearch_rollover_max_age,
                retention=settings.elasticsearch_retention,
            ),
            bulk=BulkOptions(
                chunk_docs=settings.elasticsearch_bulk_max_docs,
                max_bytes=settings.elasticsearch_bulk_max_bytes,
            ),
            writer=writer,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def settings_body(self) -> dict[str, Any]:
        """Index settings (analysis included) of the article and watches indices."""
        return index_settings(self._analyzer.protected, self._stopwords, self._index_options)

    async def setup(self) -> None:
        """Create or update the ILM policy and index template, then the first index and watches index.

        Idempotent. Template changes reach new backing indices (after the next rollover); existing
        ones keep their analysis. A reader (``writer=False``) creates what is missing but leaves an
        existing template and policy as the writers made them.
        """
        names = self.names
        settings = self.settings_body()
        with map_errors("setting up"):
            if (
                self.writer
                or not (await self._client.indices.exists_index_template(name=names.template)).body
            ):
                await self._client.ilm.put_lifecycle(name=names.policy, policy=ilm_policy(self._ilm))
                await self._client.indices.put_index_template(
                    **index_template(names, settings, self._analyzer.fingerprint)
                )
            if not (await self._client.indices.exists_alias(name=names.alias)).body:
                await self._create(names.first_index, aliases={names.alias: {"is_write_index": True}})
            if not (await self._client.indices.exists(index=names.watches)).body:
                await self._create(names.watches, **watches_index(settings))

    async def _create(self, index: str, **body: Any) -> None:
        try:
            await self._client.indices.create(index=index, **body)
        except BadRequestError as exc:  # another worker created it meanwhile
            if exc.error != "resource_already_exists_exception":
                raise

    async def close(self) -> None:
        """Close the client's connections (when this backend owns the client)."""
        if self._owns_client:
            await self._client.close()

    async def refresh(self) -> None:
        """Make every write so far searchable now (tests; the indexer relies on the refresh interval)."""
        with map_errors("refreshing"):
            await self._client.indices.refresh(index=[self.names.alias, self.names.watches])

    async def drop(self) -> None:
        """Delete the indices, template and policy of this prefix (tests and teardown only)."""
        names = self.names
        with map_errors("dropping"):
            client = self._client.options(ignore_status=404)
            # by name: clusters refuse wildcard deletes (action.destructive_requires_name)
            found = await client.indices.get(
                index=[names.pattern, names.watches], allow_no_indices=True, ignore_unavailable=True
            )
            for index in sorted(found.body):
                if index == names.watches or index.startswith(f"{names.alias}-"):
                    await client.indices.delete(index=index)
            await client.indices.delete_index_template(name=names.template)
            await client.ilm.delete_lifecycle(name=names.policy)

    # -- writes ----------------------------------------------------------------------------

    async def _indices(self) -> list[str]:
        return await backing_indices(self._client, self.names.alias)

    async def index_many(self, articles: Sequence[Article]) -> IndexReport:
        """Upsert by id with the bulk API; per-document failures are reported with their reason.

        Raises:
            SearchUnavailable: the cluster cannot take writes (unreachable, or every document was
                refused with 429/5xx after the retries); the whole batch can be retried.
        """
        latest: dict[str, Article] = {a.id: a for a in articles}  # the last copy of a repeated id wins
        if not latest:
            return IndexReport()
        docs, failed = await asyncio.to_thread(self._documents, list(latest.values()))
        with map_errors("indexing"):
            indices = await self._indices()
            # with one backing index the alias writes there; after rollover, find the older copies
            where = await locate(self._client, indices, docs) if len(indices) > 1 else {}
            actions = [
                {
                    "_op_type": "index",
                    "_index": where[i]["_index"] if i in where else self.names.alias,
                    "_id": i,
                    "_source": doc,
                }
                for i, doc in docs.items()
            ]
            outcome = await run_bulk(self._client, actions, self._bulk, refresh=self._refresh)
        if outcome.only_retryable_failures:
            _, status, reason = outcome.failed[0]
            raise SearchUnavailable(f"elasticsearch refused every document (HTTP {status}): {reason}")
        return IndexReport(
            indexed=outcome.ok,
            failed=failed + [(i, f"HTTP {status}: {reason}") for i, status, reason in outcome.failed],
        )

    def _documents(self, articles: list[Article]) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
        """Documents by id, and the articles that could not be turned into one (for the DLQ)."""
        docs: dict[str, dict[str, Any]] = {}
        failed: list[tuple[str, str]] = []
        for article in articles:
            try:
                docs[article.id] = article_document(article, self._analyzer)
            except Exception as exc:  # reported per document; the batch goes on
                failed.append((article.id, f"{type(exc).__name__}: {exc}"))
        return docs, failed

    async def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles by id; returns how many existed."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return 0
        with map_errors("deleting"):
            found = await locate(self._client, await self._indices(), ids)
            actions = [{"_op_type": "delete", "_index": d["_index"], "_id": i} for i, d in found.items()]
            outcome = await run_bulk(
                self._client, actions, self._bulk, refresh=self._refresh, missing_ok=True
            )
        if outcome.failed:
            _, status, reason = outcome.failed[0]
            message = f"deleting failed for {len(outcome.failed)} article(s) (HTTP {status}): {reason}"
            if status in RETRYABLE_STATUSES:
                raise SearchUnavailable(message)
            raise SearchError(message)
        return len(outcome.ok)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, article_id: str) -> Article | None:
        """The stored article (real-time, refreshed or not), or None when the id is not indexed."""
        with map_errors("reading"):
            found = await locate(self._client, await self._indices(), [article_id], source=True)
        doc = found.get(article_id)
        return None if doc is None else article_from_source(doc["_source"])

    async def count(self) -> int:
        """How many articles are indexed (as of the last refresh)."""
        with map_errors("counting"):
            response = await self._client.count(index=self.names.alias)
        return int(complete(response.body, "counting")["count"])

    async def search(self, query: SearchQuery) -> SearchResult:
        """Full text on the Python stems, filters, facets, pages or a cursor; highlights from the text.

        Raises:
            InvalidQuery: nothing to search in the text, too many filter values, a bad cursor, or a
                query Elasticsearch rejects.
        """
        parsed = parse_user_query(query.text, self._analyzer)
        body = search_body(query, parsed)
        with map_errors("searching", query=True):
            response = await self._client.search(
                index=self.names.alias,
                body=body,
                allow_partial_search_results=False,
                preference=preference(query),
            )
        return await asyncio.to_thread(self._result, query, parsed, complete(response.body, "searching"))

    def _result(self, query: SearchQuery, parsed: ParsedQuery, body: Mapping[str, Any]) -> SearchResult:
        raw = body["hits"]["hits"]
        shown = raw[: query.size]
        hits = []
        for hit in shown:
            article = article_from_source(hit["_source"])
            fields = (
                ("title", article.title, True),
                ("summary", article.summary, False),
                ("body", article.body, False),
            )
            score = float(hit.get("_score") or 0.0) if parsed.groups else 0.0
            hits.append(
                SearchHit(
                    article=article,
                    score=score,
                    highlights=highlight_fields(
                        self._analyzer, fields, parsed, entity_marks(article, query.entities)
                    ),
                )
            )
        total = int(body["hits"]["total"]["value"])
        facets = parse_facets(body.get("aggregations", {}), query.facet_size) if total else Facets()
        return SearchResult(
            total=total,
            total_relation="gte" if body["hits"]["total"].get("relation") == "gte" else "eq",
            hits=hits,
            facets=facets,
            next_cursor=encode_cursor(query, shown[-1]["sort"]) if len(raw) > query.size else None,
        )

    async def stale_analysis(self) -> int:
        """Articles in backing indices whose mapping records another analyzer (or none)."""
        with map_errors("checking the analysis"):
            stale = await self._stale_indices()
            if not stale:
                return 0
            return int((await self._client.count(index=list(stale))).body["count"])

    async def _stale_indices(self) -> dict[str, dict[str, Any]]:
        """Backing index -> its mapping ``_meta``, for those not made with this analyzer."""
        found = await self._client.indices.get_mapping(index=self.names.alias)
        metas = {
            index: dict(body.get("mappings", {}).get("_meta") or {}) for index, body in found.body.items()
        }
        return {i: m for i, m in metas.items() if m.get(ANALYSIS_META) != self._analyzer.fingerprint}

    async def reanalyse(self, batch_size: int = 500) -> AsyncIterator[int]:
        """Make the ``terms_*`` fields of the stale indices' articles again, then record the analyzer.

        Partial updates of those two fields, computed from each stored source, in the index it lives
        in: an article deleted meanwhile is not brought back (its update finds nothing), and one
        re-indexed meanwhile was analysed by a worker anyway. An interrupted run starts over.

        Raises:
            SearchError: some articles could not be updated (the indices stay marked stale).
        """
        if batch_size < 1:
            raise InvalidQuery(f"batch_size must be at least 1, not {batch_size}")
        with map_errors("checking the analysis"):
            stale = await self._stale_indices()
        if not stale:
            return
        done, failed = 0, 0
        async for hits in self._scan_pages(sorted(stale), None, None, batch_size):
            actions = [
                {
                    "_op_type": "update",
                    "_index": hit["_index"],
                    "_id": hit["_id"],
                    "doc": self._source_terms(hit["_source"]),
                }
                for hit in hits
            ]
            with map_errors("re-analysing"):
                outcome = await run_bulk(
                    self._client, actions, self._bulk, refresh=self._refresh, missing_ok=True
                )
            failed += len(outcome.failed)
            done += len(hits)
            yield done
        if failed:
            raise SearchError(f"{failed} of {done} articles could not be re-analysed; run it again")
        with map_errors("recording the analysis"):
            for index, meta in sorted(stale.items()):
                await self._client.indices.put_mapping(
                    index=index, meta={**meta, ANALYSIS_META: self._analyzer.fingerprint}
                )

    async def scan(
        self, since: datetime | None = None, until: datetime | None = None, batch_size: int = 500
    ) -> AsyncIterator[Article]:
        """Stream stored articles dated in [since, until), oldest first, in a point in time.

        Pages follow (``at``, id) with ``search_after`` inside one point in time, so the scan sees
        one consistent view of the index however long it takes; the point in time is closed at the end.
        """
        if batch_size < 1:
            raise InvalidQuery(f"batch_size must be at least 1, not {batch_size}")
        for label, bound in (("since", since), ("until", until)):
            if bound is not None and bound.tzinfo is None:
                raise InvalidQuery(f"{label} must be timezone-aware")
        async for hits in self._scan_pages(self.names.alias, since, until, batch_size):
            for hit in hits:
                yield article_from_source(hit["_source"])

    def _source_terms(self, source: Mapping[str, Any]) -> dict[str, str]:
        title, summary, body = (str(source.get(f) or "") for f in ("title", "summary", "body"))
        return search_terms(title, summary, body, self._analyzer)

    async def _scan_pages(
        self, index: str | list[str], since: datetime | None, until: datetime | None, batch_size: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of raw hits (``_index``, ``_id``, ``_source``) of `index`, oldest first, in one point
        in time."""
        with map_errors("scanning"):
            opened = await self._client.open_point_in_time(index=index, keep_alive=_PIT_KEEP_ALIVE)
        pit_id = str(opened.body["id"])
        try:
            after: list[Any] | None = None
            while True:
                body = scan_body(pit_id, since, until, batch_size, after, _PIT_KEEP_ALIVE)
                with map_errors("scanning"):
                    response = await self._client.search(body=body, allow_partial_search_results=False)
                # a short page ends the scan: one from some shards only would end it early
                page = complete(response.body, "scanning")
                pit_id = str(page.get("pit_id", pit_id))
                hits = page["hits"]["hits"]
                if hits:
                    yield hits
                if len(hits) < batch_size:
                    return
                after = hits[-1]["sort"]
        finally:
            try:
                await self._client.close_point_in_time(id=pit_id)
            except Exception as exc:  # it expires by itself after the keep-alive
                log.warning("closing the scan's point in time failed: %s", exc)

    # -- alert rules -------------------------------------------------------------------------

    async def sync_watches(self, watches: Sequence[CompiledWatch]) -> int:
        """Store these watches as percolator queries (and remove the others); returns how many."""
        with map_errors("storing watches"):
            return await sync_watches(self._client, self.names, watches, self._bulk)

    async def percolate(self, articles: Sequence[Article], *, batch_size: int = 100) -> list[tuple[str, str]]:
        """(article id, watch id) candidates from the stored watches; see `percolate.percolate`."""
        with map_errors("percolating"):
            return await percolate(self._client, self.names, self._analyzer, articles, batch_size=batch_size)
