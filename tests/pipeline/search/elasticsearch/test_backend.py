"""The backend against an in-process double of the client: bulk outcomes, retries, upserts, reads."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import ConnectionError as EsConnectionError

from pipeline.errors import ConfigError, InvalidQuery, SearchError, SearchUnavailable
from pipeline.models import Article
from pipeline.search import SearchBackend, SearchQuery, SqliteBackend, open_backend
from pipeline.search.elasticsearch import BulkOptions, ElasticsearchBackend, IndexNames
from pipeline.search.elasticsearch.documents import article_document, search_terms
from pipeline.search.elasticsearch.errors import map_errors
from pipeline.settings import Settings
from pipeline.text import Analyzer
from tests.pipeline.search.elasticsearch.fake_client import FakeClient, api_error
from tests.pipeline.search.search_corpus import SEED_ID

pytestmark = pytest.mark.anyio

FAST = BulkOptions(chunk_docs=500, max_retries=2, initial_backoff_s=0.0, max_backoff_s=0.0)


def backend(client: FakeClient, analyzer: Analyzer, **kwargs: Any) -> ElasticsearchBackend:
    kwargs.setdefault("bulk", FAST)
    return ElasticsearchBackend(client, analyzer, **kwargs)


def test_it_is_a_search_backend(analyzer: Analyzer) -> None:
    assert isinstance(backend(FakeClient(), analyzer), SearchBackend)


# -- setup -----------------------------------------------------------------------------------


async def test_setup_creates_policy_template_first_index_and_watches(analyzer: Analyzer) -> None:
    client = FakeClient()
    client.fake_indices.answers.update(exists_alias=False, exists=False)
    await backend(client, analyzer, names=IndexNames("t1")).setup()
    assert client.fake_ilm.names() == ["put_lifecycle"]
    assert client.fake_ilm.calls[0][1]["name"] == "t1-articles"
    assert client.fake_indices.names() == ["put_index_template", "exists_alias", "create", "exists", "create"]
    template = client.fake_indices.calls[0][1]
    assert template["index_patterns"] == ["t1-articles-*"]
    first = client.fake_indices.calls[2][1]
    assert first == {"index": "t1-articles-000001", "aliases": {"t1-articles": {"is_write_index": True}}}
    watches = client.fake_indices.calls[4][1]
    assert watches["index"] == "t1-watches"
    assert watches["mappings"]["properties"]["query"] == {"type": "percolator"}


async def test_setup_is_idempotent(analyzer: Analyzer) -> None:
    client = FakeClient()
    client.fake_indices.answers.update(exists_alias=True, exists=True)
    await backend(client, analyzer).setup()
    assert "create" not in client.fake_indices.names()
    # a worker that loses the race to create the first index carries on
    racing = FakeClient()
    racing.fake_indices.answers.update(
        exists_alias=False,
        exists=True,
        create=api_error(
            400, "resource_already_exists_exception", "index [rasd-articles-000001] already exists"
        ),
    )
    await backend(racing, analyzer).setup()


# -- writes ----------------------------------------------------------------------------------


async def test_index_many_upserts_by_id(analyzer: Analyzer, corpus: list[Article]) -> None:
    client = FakeClient()
    changed = corpus[1].model_copy(update={"title": "عنوان جديد"})
    report = await backend(client, analyzer).index_many([*corpus, changed])
    assert report.failed == []
    assert report.indexed == [a.id for a in corpus]  # the repeated id once, its last copy written
    (request,) = client.bulk_calls
    assert [(p["op"], p["_index"], p["_id"]) for p in request] == [
        ("index", "rasd-articles", a.id) for a in corpus
    ]
    assert request[1]["source"] == article_document(changed, analyzer)
    assert client.mget_calls == []  # one backing index: the alias writes there, no lookup needed
    assert client.bulk_kwargs == [{}]  # no refresh unless asked


async def test_refresh_option_is_passed_to_writes(analyzer: Analyzer, corpus: list[Article]) -> None:
    client = FakeClient()
    await backend(client, analyzer, refresh=True).index_many(corpus[:1])
    assert client.bulk_kwargs == [{"refresh": True}]


async def test_chunks_by_count_and_bytes(analyzer: Analyzer, corpus: list[Article]) -> None:
    by_count = FakeClient()
    await backend(by_count, analyzer, bulk=BulkOptions(chunk_docs=3)).index_many(corpus)
    assert [len(c) for c in by_count.bulk_calls] == [3, 3, 2]
    by_bytes = FakeClient()
    report = await backend(by_bytes, analyzer, bulk=BulkOptions(max_bytes=1)).index_many(corpus)
    assert [len(c) for c in by_bytes.bulk_calls] == [1] * len(corpus)
    assert len(report.indexed) == len(corpus)


async def test_rejected_documents_are_reported_with_the_reason(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    bad = corpus[2].id
    client = FakeClient(bulk_rule=lambda doc_id, _: 400 if doc_id == bad else 201)
    report = await backend(client, analyzer).index_many(corpus)
    assert report.indexed == [a.id for a in corpus if a.id != bad]
    ((failed_id, reason),) = report.failed
    assert failed_id == bad
    assert reason.startswith("HTTP 400: document_parsing_exception: [1:42] failed to parse field [published]")
    assert "caused by illegal_argument_exception" in reason
    assert len(client.bulk_calls) == 1  # a mapping error is not retried


async def test_429_and_503_items_are_retried(analyzer: Analyzer, corpus: list[Article]) -> None:
    busy, shard = corpus[0].id, corpus[1].id

    def rule(doc_id: str, attempt: int) -> int:
        if doc_id == busy and attempt < 2:
            return 429
        if doc_id == shard and attempt == 0:
            return 503
        return 201

    client = FakeClient(bulk_rule=rule)
    report = await backend(client, analyzer).index_many(corpus)
    assert report.failed == []
    assert sorted(report.indexed) == sorted(a.id for a in corpus)
    assert [[p["_id"] for p in call] for call in client.bulk_calls[1:]] == [[busy, shard], [busy]]


async def test_documents_still_refused_after_retries_are_reported(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    busy = corpus[0].id
    client = FakeClient(bulk_rule=lambda doc_id, _: 429 if doc_id == busy else 201)
    report = await backend(client, analyzer).index_many(corpus)
    assert [i for i, _ in report.failed] == [busy]
    assert report.failed[0][1].startswith("HTTP 429: es_rejected_execution_exception")
    assert len(client.bulk_calls) == 1 + FAST.max_retries


async def test_a_cluster_refusing_everything_is_unavailable(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    client = FakeClient(bulk_rule=lambda _id, _attempt: 429)
    with pytest.raises(SearchUnavailable, match="HTTP 429"):
        await backend(client, analyzer).index_many(corpus)


async def test_a_refused_request_is_retried_whole(analyzer: Analyzer, corpus: list[Article]) -> None:
    client = FakeClient(
        bulk_errors=[api_error(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE]")]
    )
    report = await backend(client, analyzer).index_many(corpus)
    assert len(report.indexed) == len(corpus)
    assert len(client.bulk_calls) == 2


async def test_connection_errors_are_unavailable(analyzer: Analyzer, corpus: list[Article]) -> None:
    client = FakeClient(bulk_errors=[EsConnectionError("connection refused")])
    with pytest.raises(SearchUnavailable, match="unreachable"):
        await backend(client, analyzer).index_many(corpus)


async def test_an_article_that_cannot_be_analysed_is_reported(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    class Broken(Analyzer):
        def terms(self, text: str) -> list[str]:
            if "قزوين" in text:
                raise ValueError("boom")
            return super().terms(text)

    client = FakeClient()
    report = await backend(client, Broken()).index_many(corpus)
    assert report.failed == [(corpus[1].id, "ValueError: boom")]
    assert len(report.indexed) == len(corpus) - 1


async def test_after_rollover_an_update_goes_where_the_article_is(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    old, new = "rasd-articles-000001", "rasd-articles-000002"
    seed = corpus[0]
    client = FakeClient(indices=[old, new], stored={(old, seed.id): {"id": seed.id}})
    report = await backend(client, analyzer).index_many(corpus[:2])
    assert report.indexed == [seed.id, corpus[1].id]
    (request,) = client.bulk_calls
    assert [(p["_index"], p["_id"]) for p in request] == [(old, seed.id), ("rasd-articles", corpus[1].id)]
    (lookup,) = client.mget_calls
    assert {(d["_index"], d["_id"]) for d in lookup} == {(i, a.id) for i in (old, new) for a in corpus[:2]}


async def test_delete_removes_what_exists(analyzer: Analyzer, corpus: list[Article]) -> None:
    old, new = "rasd-articles-000001", "rasd-articles-000002"
    client = FakeClient(indices=[old, new], stored={(old, SEED_ID): {}, (new, corpus[1].id): {}})
    assert await backend(client, analyzer).delete([SEED_ID, corpus[1].id, "missing-id", SEED_ID]) == 2
    assert {(p["op"], p["_index"], p["_id"]) for p in client.bulk_calls[0]} == {
        ("delete", old, SEED_ID),
        ("delete", new, corpus[1].id),
    }
    assert await backend(client, analyzer).delete([]) == 0


# -- reads -----------------------------------------------------------------------------------


async def test_get_reads_in_real_time_from_any_backing_index(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    seed = corpus[0]
    old = "rasd-articles-000001"
    client = FakeClient(
        indices=[old, "rasd-articles-000002"], stored={(old, seed.id): article_document(seed, analyzer)}
    )
    es = backend(client, analyzer)
    assert await es.get(seed.id) == seed
    assert await es.get("no-such-article-id") is None


def _hit(article: Article, analyzer: Analyzer, score: float | None, sort: list[Any]) -> dict[str, Any]:
    source = {k: v for k, v in article_document(article, analyzer).items() if not k.startswith("terms_")}
    return {
        "_index": "rasd-articles-000001",
        "_id": article.id,
        "_score": score,
        "_source": source,
        "sort": sort,
    }


async def test_search_result_and_highlights_match_sqlite(
    tmp_path: Any, analyzer: Analyzer, corpus: list[Article]
) -> None:
    seed = corpus[0]
    answer = {
        "took": 2,
        "timed_out": False,
        "hits": {
            "total": {"value": 1, "relation": "eq"},
            "max_score": 7.5,
            "hits": [_hit(seed, analyzer, 7.5, [7.5, 1, "x"])],
        },
        "aggregations": {
            "entities": {
                "doc_count": 4,
                "ids": {
                    "buckets": [
                        {
                            "key": "Q7747",
                            "doc_count": 1,
                            "label": {"buckets": [{"key": "فلاديمير بوتين", "doc_count": 1}]},
                        }
                    ]
                },
            },
            "topics": {"buckets": []},
            "sources": {"buckets": [{"key": "arabicpost", "doc_count": 1}]},
            "days": {"buckets": [{"key_as_string": "2023-09-13", "key": 1694563200000, "doc_count": 1}]},
        },
    }
    client = FakeClient(search_responses=[answer])
    result = await backend(client, analyzer).search(SearchQuery(text="لبوتين"))
    assert client.search_calls[0]["index"] == "rasd-articles"
    (hit,) = result.hits
    assert hit.article == seed and hit.score == 7.5
    assert result.next_cursor is None
    assert result.facets.entities[0].label == "فلاديمير بوتين"
    # the reference backend marks the same words in the same fragments
    sqlite = SqliteBackend(tmp_path / "index.sqlite3", analyzer)
    await sqlite.setup()
    await sqlite.index_many(corpus)
    (expected,) = (await sqlite.search(SearchQuery(text="لبوتين"))).hits
    await sqlite.close()
    assert hit.highlights == expected.highlights
    assert "<mark>وبوتين</mark>" in hit.highlights["title"][0]


async def test_search_gives_a_cursor_when_there_is_more(analyzer: Analyzer, corpus: list[Article]) -> None:
    hits = [_hit(a, analyzer, None, [1000 - i, a.id]) for i, a in enumerate(corpus[:3])]
    answer = {"hits": {"total": {"value": 8, "relation": "eq"}, "hits": hits}, "aggregations": {}}
    client = FakeClient(search_responses=[answer])
    query = SearchQuery(sort="newest", size=2, facets=False)
    result = await backend(client, analyzer).search(query)
    assert [h.article.id for h in result.hits] == [a.id for a in corpus[:2]]
    assert all(h.score == 0.0 and h.highlights == {} for h in result.hits)
    assert result.next_cursor is not None
    from pipeline.search.elasticsearch.queries import decode_cursor

    assert decode_cursor(query, result.next_cursor) == [999, corpus[1].id]


async def test_scan_pages_in_a_point_in_time_and_closes_it(analyzer: Analyzer, corpus: list[Article]) -> None:
    pages = [
        {
            "pit_id": "pit-2",
            "hits": {"hits": [_hit(a, analyzer, None, [i, a.id, i]) for i, a in enumerate(corpus[:2])]},
        },
        {"pit_id": "pit-3", "hits": {"hits": [_hit(corpus[2], analyzer, None, [2, corpus[2].id, 2])]}},
    ]
    client = FakeClient(search_responses=pages)
    scanned = [a async for a in backend(client, analyzer).scan(batch_size=2)]
    assert scanned == corpus[:3]
    assert [c["body"]["pit"]["id"] for c in client.search_calls] == ["pit-1", "pit-2"]
    assert client.search_calls[1]["body"]["search_after"] == [1, corpus[1].id, 1]
    assert "index" not in client.search_calls[0]  # a point in time names its indices itself
    assert ("close_point_in_time", {"id": "pit-3"}) in client.other_calls


async def test_scan_refuses_bad_arguments_before_any_request(analyzer: Analyzer) -> None:
    from datetime import datetime

    client = FakeClient()
    with pytest.raises(InvalidQuery):
        [a async for a in backend(client, analyzer).scan(since=datetime(2026, 1, 1))]
    with pytest.raises(InvalidQuery):
        [a async for a in backend(client, analyzer).scan(batch_size=0)]
    assert client.other_calls == []


async def test_indices_of_another_analyzer_are_re_indexed_then_marked(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    old, current = "rasd-articles-000001", "rasd-articles-000002"
    metas = {
        old: {"rasd_mapping_version": 1},
        current: {"rasd_mapping_version": 1, "rasd_analysis": analyzer.fingerprint},
    }
    hits = [_hit(a, analyzer, None, [i, a.id, i]) for i, a in enumerate(corpus[:3])]
    pages = [{"pit_id": "pit-2", "hits": {"hits": hits[:2]}}, {"pit_id": "pit-3", "hits": {"hits": hits[2:]}}]
    deleted = corpus[1].id  # removed while the re-analysis runs: its update finds nothing
    client = FakeClient(
        indices=[old, current],
        search_responses=pages,
        stored={(old, a.id): {} for a in corpus[:3]},
        bulk_rule=lambda doc_id, _attempt: 404 if doc_id == deleted else 200,
    )
    client.fake_indices.answers["get_mapping"] = {i: {"mappings": {"_meta": m}} for i, m in metas.items()}
    es = backend(client, analyzer)
    assert await es.stale_analysis() == 3
    assert ("count", {"index": [old]}) in client.other_calls  # only the stale index is counted
    assert [n async for n in es.reanalyse(batch_size=2)] == [2, 3]
    assert ("open_point_in_time", {"index": [old], "keep_alive": "2m"}) in client.other_calls
    # partial updates of the two terms fields where each article lives: nothing else is rewritten,
    # and nothing deleted is brought back
    sent = [p for call in client.bulk_calls for p in call]
    assert [(p["op"], p["_index"], p["_id"]) for p in sent] == [("update", old, a.id) for a in corpus[:3]]
    assert sent[0]["source"] == {
        "doc": search_terms(corpus[0].title, corpus[0].summary, corpus[0].body, analyzer)
    }
    # the analyzer is recorded on the stale index only, its other _meta kept
    puts = [kw for name, kw in client.fake_indices.calls if name == "put_mapping"]
    assert puts == [
        {"index": old, "meta": {"rasd_mapping_version": 1, "rasd_analysis": analyzer.fingerprint}}
    ]


async def test_an_index_of_this_analyzer_is_not_scanned(analyzer: Analyzer) -> None:
    client = FakeClient()
    meta = {"rasd_mapping_version": 1, "rasd_analysis": analyzer.fingerprint}
    client.fake_indices.answers["get_mapping"] = {"rasd-articles-000001": {"mappings": {"_meta": meta}}}
    es = backend(client, analyzer)
    assert await es.stale_analysis() == 0
    assert [n async for n in es.reanalyse()] == []
    assert client.search_calls == [] and client.bulk_calls == []


async def test_setup_records_the_analyzer_in_the_template(analyzer: Analyzer) -> None:
    client = FakeClient()
    client.fake_indices.answers.update(exists_alias=True, exists=True)
    await backend(client, analyzer).setup()
    template = client.fake_indices.calls[0][1]
    assert template["template"]["mappings"]["_meta"]["rasd_analysis"] == analyzer.fingerprint


async def test_a_reader_leaves_an_existing_template_to_the_writers(analyzer: Analyzer) -> None:
    # an API pod started with another registry during a rolling upgrade must not make new indices
    # claim its analyzer while the workers still write with theirs
    client = FakeClient()
    client.fake_indices.answers.update(exists_index_template=True, exists_alias=True, exists=True)
    await backend(client, analyzer, writer=False).setup()
    assert "put_index_template" not in client.fake_indices.names()
    assert client.fake_ilm.names() == []
    # on a fresh cluster a reader still creates what it needs to answer
    fresh = FakeClient()
    fresh.fake_indices.answers.update(exists_index_template=False, exists_alias=False, exists=False)
    await backend(fresh, analyzer, writer=False).setup()
    assert fresh.fake_indices.names() == [
        "exists_index_template",
        "put_index_template",
        "exists_alias",
        "create",
        "exists",
        "create",
    ]
    assert fresh.fake_ilm.names() == ["put_lifecycle"]


def test_the_api_opens_the_backend_as_a_reader(tmp_path: Any) -> None:
    from pipeline.api.services import Services

    settings = Settings(
        search_backend="elasticsearch", elasticsearch_url="http://127.0.0.1:9", data_dir=tmp_path
    )
    services = Services.load(settings)
    try:
        assert isinstance(services.backend, ElasticsearchBackend)
        assert services.backend.writer is False
        assert isinstance(open_backend(settings, Analyzer()), ElasticsearchBackend)
        assert open_backend(settings, Analyzer()).writer is True  # type: ignore[attr-defined]
    finally:
        services.alerts.close()
        services.watch_store.close()


async def test_count_and_close(analyzer: Analyzer) -> None:
    client = FakeClient(stored={("i", "a"): {}, ("i", "b"): {}})
    es = backend(client, analyzer)
    assert await es.count() == 2
    await es.close()
    assert client.other_calls[-1] == ("close", {})


# -- errors and the factory ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "query", "expected", "retry_after"),
    [
        (
            api_error(429, "es_rejected_execution_exception", "queue full", {"Retry-After": "7"}),
            False,
            SearchUnavailable,
            7.0,
        ),
        (
            api_error(503, "search_phase_execution_exception", "all shards failed"),
            True,
            SearchUnavailable,
            1.0,
        ),
        (api_error(400, "parsing_exception", "unknown query"), True, InvalidQuery, None),
        (api_error(400, "illegal_argument_exception", "bad setting"), False, SearchError, None),
        (api_error(401, "security_exception", "missing authentication credentials"), True, SearchError, None),
        (EsConnectionError("refused"), False, SearchUnavailable, 1.0),
    ],
)
def test_client_errors_are_translated(
    exc: Exception, query: bool, expected: type[Exception], retry_after: float | None
) -> None:
    with pytest.raises(expected) as info, map_errors("testing", query=query):
        raise exc
    assert type(info.value) is expected
    assert info.value.__cause__ is exc
    if retry_after is not None:
        assert info.value.retry_after == retry_after  # type: ignore[attr-defined]


def test_factory_builds_the_elasticsearch_backend(tmp_path: Any, analyzer: Analyzer) -> None:
    settings = Settings(
        data_dir=tmp_path,
        search_backend="elasticsearch",
        elasticsearch_url="https://es.invalid:9200",
        elasticsearch_api_key="c2VjcmV0",
        elasticsearch_index_prefix="news",
    )
    es = open_backend(settings, analyzer)
    assert isinstance(es, ElasticsearchBackend)
    assert es.names.alias == "news-articles"
    # stop words from config/stopwords/ar.txt, normalised, reach the analysis settings
    assert "الي" in es.settings_body()["analysis"]["filter"]["rasd_stop"]["stopwords"]


def test_settings_validate_the_elasticsearch_fields() -> None:
    with pytest.raises(ValueError):
        Settings(elasticsearch_index_prefix="Bad Prefix")
    with pytest.raises(ValueError):
        Settings(elasticsearch_retention="forever")
    with pytest.raises(ConfigError, match="RASD_ELASTICSEARCH_URL"):
        ElasticsearchBackend.from_settings(Settings(elasticsearch_url=None), Analyzer())


async def test_drop_deletes_this_prefix_by_name(analyzer: Analyzer) -> None:
    client = FakeClient()
    client.fake_indices.answers["get"] = {"t-articles-000001": {}, "t-articles-000002": {}, "t-watches": {}}
    await backend(client, analyzer, names=IndexNames("t")).drop()
    deleted = [kw["index"] for name, kw in client.fake_indices.calls if name == "delete"]
    assert deleted == ["t-articles-000001", "t-articles-000002", "t-watches"]  # no wildcard delete
    assert ("delete_index_template", {"name": "t-articles"}) in client.fake_indices.calls
    assert client.fake_ilm.calls == [("delete_lifecycle", {"name": "t-articles"})]


PARTIAL = {"total": 2, "successful": 1, "skipped": 0, "failed": 1}
PARTIAL_FAILURES = [
    {"shard": 1, "index": "rasd-articles-000001", "reason": {"type": "node_closed", "reason": "x"}}
]


async def test_a_search_some_shards_missed_is_unavailable_not_a_smaller_answer(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    # a 200 with _shards.failed was read as the whole answer: totals and facets reported exact
    hits = [_hit(a, analyzer, None, [1000 - i, a.id]) for i, a in enumerate(corpus[:2])]
    whole = {"hits": {"total": {"value": 2, "relation": "eq"}, "hits": hits}, "aggregations": {}}
    partial = whole | {"_shards": PARTIAL | {"failures": PARTIAL_FAILURES}}
    client = FakeClient(search_responses=[whole, partial, whole | {"timed_out": True}, whole, whole])
    es = backend(client, analyzer)
    query = SearchQuery(sort="newest", facets=False)
    assert (await es.search(query)).total == 2
    for _ in range(2):
        with pytest.raises(SearchUnavailable, match=r"1 of 2 shards|timed out"):
            await es.search(query)
    assert all(c["allow_partial_search_results"] is False for c in client.search_calls)
    # every page of one query goes to the same shard copies (scores differ between copies)
    await es.search(query.model_copy(update={"page": 2}))
    await es.search(SearchQuery(text="بوتين", facets=False))
    prefs = [c["preference"] for c in client.search_calls]
    assert prefs[0] == prefs[3] and prefs[4] != prefs[0]


async def test_a_scan_page_some_shards_missed_fails_the_scan_instead_of_ending_it(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    # a short page ends a scan: a partial one silently ended backtests and re-analysis
    first = {
        "pit_id": "pit-2",
        "hits": {"hits": [_hit(a, analyzer, None, [i, a.id, i]) for i, a in enumerate(corpus[:2])]},
    }
    short = {"pit_id": "pit-3", "_shards": PARTIAL, "hits": {"hits": []}}
    client = FakeClient(search_responses=[first, short])
    with pytest.raises(SearchUnavailable, match="scanning"):
        [a async for a in backend(client, analyzer).scan(batch_size=2)]
    assert ("close_point_in_time", {"id": "pit-2"}) in client.other_calls


class RelocatingClient(FakeClient):
    """Multi-get answers one document with a per-document shard error."""

    def __init__(self, error_type: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error_type = error_type

    async def mget(self, *, docs: list[dict[str, Any]], source: bool = True, **_: Any) -> Any:  # type: ignore[override]
        answer = await super().mget(docs=docs, source=source)
        first = answer.body["docs"][0]
        answer.body["docs"][0] = {**first, "error": {"type": self.error_type, "reason": "shard moving"}}
        return answer


@pytest.mark.parametrize(
    ("error_type", "raised"),
    [("no_shard_available_action_exception", SearchUnavailable), ("illegal_argument_exception", SearchError)],
)
async def test_a_shard_moving_during_the_lookup_is_retried_not_dead_lettered(
    analyzer: Analyzer, corpus: list[Article], error_type: str, raised: type[Exception]
) -> None:
    # after a rollover index_many looks ids up first; a relocating shard failed the batch for good
    client = RelocatingClient(error_type, indices=["rasd-articles-000001", "rasd-articles-000002"])
    with pytest.raises(raised) as caught:
        await backend(client, analyzer).index_many(corpus[:2])
    assert isinstance(caught.value, SearchUnavailable) is (raised is SearchUnavailable)
