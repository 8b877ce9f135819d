"""What only the SQLite backend promises: the file, its schema, locking and the factory."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ConfigError, SearchError, SearchUnavailable
from pipeline.models import Article, EntityMention, dumps
from pipeline.search import SearchBackend, SearchQuery, SqliteBackend, open_backend, parse_user_query
from pipeline.search import sqlite as sqlite_module
from pipeline.search.sqlite import DEFAULT_WINDOW, SCHEMA_VERSION
from pipeline.search.sqlite_sql import compile_match
from pipeline.settings import Settings
from pipeline.text import Analyzer
from tests.pipeline.search.search_corpus import SEED_ID

pytestmark = pytest.mark.anyio


async def _opened(path: Path | str, analyzer: Analyzer, **options: Any) -> SqliteBackend:
    backend = SqliteBackend(path, analyzer, **options)
    await backend.setup()
    return backend


async def test_file_is_wal_with_schema_version(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    path = tmp_path / "index.sqlite3"
    backend = SqliteBackend(path, analyzer)
    assert isinstance(backend, SearchBackend)
    await backend.setup()
    await backend.setup()  # idempotent
    await backend.index_many(corpus)
    await backend.close()
    await backend.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert (
            raw.execute("SELECT COUNT(*) FROM article_entities WHERE entity_id = 'Q7747'").fetchone()[0] == 1
        )
    reopened = await _opened(path, analyzer)
    assert await reopened.count() == len(corpus)
    assert [h.article.id for h in (await reopened.search(SearchQuery(text="وبوتين"))).hits] == [SEED_ID]
    await reopened.close()


async def test_memory_database(analyzer: Analyzer, corpus: list[Article]) -> None:
    backend = await _opened(":memory:", analyzer)
    await backend.index_many(corpus)
    assert (await backend.search(SearchQuery(text="بوتين"))).total == 1
    await backend.close()


async def test_two_handles_on_one_file_see_each_other(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    writer, reader = SqliteBackend(tmp_path / "i.db", analyzer), SqliteBackend(tmp_path / "i.db", analyzer)
    await writer.setup()
    await reader.setup()
    await writer.index_many(corpus[:2])
    assert await reader.count() == 2
    await writer.delete([SEED_ID])
    assert await reader.get(SEED_ID) is None
    await writer.close()
    await reader.close()


@contextmanager
def _write_locked(path: Path) -> Iterator[None]:
    """Another process holds the file's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_locked_database_is_unavailable_and_searches_still_run(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    path = tmp_path / "index.sqlite3"
    backend = await _opened(path, analyzer, busy_timeout_s=0.05)
    await backend.index_many(corpus[:1])
    with _write_locked(path):
        with pytest.raises(SearchUnavailable) as caught:
            await backend.index_many(corpus[1:])
        assert caught.value.retry_after > 0
        with pytest.raises(SearchUnavailable):
            await backend.delete([SEED_ID])
        # WAL readers are not blocked by a writer
        assert (await backend.search(SearchQuery(text="بوتين"))).total == 1
        assert await backend.count() == 1
    assert (await backend.index_many(corpus[1:])).indexed
    await backend.close()


async def test_index_from_a_newer_build_is_refused(tmp_path: Path, analyzer: Analyzer) -> None:
    path = tmp_path / "index.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SearchError, match="newer"):
        await SqliteBackend(path, analyzer).setup()


async def test_a_damaged_index_file_is_a_search_error(tmp_path: Path, analyzer: Analyzer) -> None:
    # the backend's contract (the API answers it with 503), not the stores' ConfigError (a 400)
    path = tmp_path / "index.sqlite3"
    path.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(SearchError, match="not a database") as caught:
        await SqliteBackend(path, analyzer).setup()
    assert not isinstance(caught.value, ConfigError)


async def test_calls_before_setup_or_after_close_fail_clearly(tmp_path: Path, analyzer: Analyzer) -> None:
    backend = SqliteBackend(tmp_path / "index.sqlite3", analyzer)
    with pytest.raises(SearchError, match="setup"):
        await backend.count()
    await backend.setup()
    await backend.close()
    with pytest.raises(SearchError, match="setup"):
        await backend.search(SearchQuery(text="بوتين"))


class _FailingAnalyzer(Analyzer):
    def joined_terms(self, text: str) -> str:
        if "قزوين" in text:
            raise ValueError("cannot analyse this text")
        return super().joined_terms(text)


async def test_an_article_that_fails_is_reported_not_raised(tmp_path: Path, corpus: list[Article]) -> None:
    backend = await _opened(tmp_path / "index.sqlite3", _FailingAnalyzer())
    report = await backend.index_many(corpus)
    assert [article_id for article_id, _ in report.failed] == [corpus[1].id]
    assert "cannot analyse" in report.failed[0][1]
    assert len(report.indexed) == len(corpus) - 1
    assert await backend.count() == len(corpus) - 1
    await backend.close()


async def test_a_row_sqlite_refuses_fails_alone_and_the_batch_is_written(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    # the bulk insert fails as a whole; the batch is written again article by article
    path = tmp_path / "index.sqlite3"
    backend = await _opened(path, analyzer)
    refused = corpus[2].id
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON articles "
            f"WHEN NEW.id = '{refused}' BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
        )
    report = await backend.index_many(corpus)
    assert [article_id for article_id, _ in report.failed] == [refused]
    assert "refused by the database" in report.failed[0][1]
    assert report.indexed == [a.id for a in corpus if a.id != refused]
    assert await backend.count() == len(corpus) - 1
    assert await backend.get(refused) is None
    assert (await backend.search(SearchQuery(text="وبوتين"))).total == 1
    await backend.close()


async def test_a_batch_of_updates_and_new_articles(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    backend = await _opened(tmp_path / "index.sqlite3", analyzer)
    await backend.index_many(corpus[:2])
    changed = corpus[0].model_copy(update={"title": "عنوان جديد عن قزوين", "entities": []})
    report = await backend.index_many([corpus[2], changed, *corpus[3:]])
    assert report.indexed == [a.id for a in [corpus[2], changed, *corpus[3:]]]
    assert await backend.count() == len(corpus)
    assert (await backend.get(changed.id)) == changed
    hits = (await backend.search(SearchQuery(text="عنوان جديد"))).hits
    assert [h.article.id for h in hits] == [changed.id]
    with sqlite3.connect(tmp_path / "index.sqlite3") as raw:
        docs = raw.execute("SELECT doc FROM articles ORDER BY doc").fetchall()
        assert len({d for (d,) in docs}) == len(corpus)
        stale = raw.execute(
            "SELECT COUNT(*) FROM article_entities e JOIN articles a ON a.doc = e.doc WHERE a.id = ?",
            (changed.id,),
        ).fetchone()[0]
        assert stale == 0
    await backend.close()


def _forms(stems: str) -> str:
    """A quoted item OR its first word behind each preposition the analyzer leaves on OR a phrase's
    second word behind ل (`Phrase.forms`)."""
    first, *rest = stems.split()

    def arabic(word: str) -> bool:
        return len(word) >= 3 and "\u0621" <= word[0] <= "\u064a"

    firsts = (
        [first, *(p + first for p in ("ب", "ل", "ك", "ف", "فب", "فل", "فك"))] if arabic(first) else [first]
    )
    texts = [" ".join((f, *rest)) for f in firsts]
    if rest and arabic(rest[0]):
        texts.append(" ".join((first, "ل" + rest[0], *rest[1:])))
    return " OR ".join(f'"{t}"' for t in texts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("وبوتين", f"({_forms('بوتين')})"),
        ("روسيا OR موسكو كيم", f"({_forms('روسيا')} OR {_forms('موسكو')}) AND ({_forms('كيم')})"),
        ('"كيم جونغ أون" -روسيا', f"(({_forms('كيم جونغ اون')})) NOT ({_forms('روسيا')})"),
        (
            'NEAR(بوتين title:كيم) -"a b" -c',
            f'(({_forms("near بوتين")}) AND ({_forms("title كيم")})) NOT ("a b" OR "c")',
        ),
    ],
)
def test_compile_match_uses_only_quoted_stems(analyzer: Analyzer, text: str, expected: str) -> None:
    assert compile_match(parse_user_query(text, analyzer)) == expected


def test_factory_builds_sqlite_and_creates_the_directory(tmp_path: Path, analyzer: Analyzer) -> None:
    settings = Settings(data_dir=tmp_path / "nested" / "data", search_backend="sqlite")
    backend = open_backend(settings, analyzer)
    assert isinstance(backend, SqliteBackend)
    assert settings.index_path.parent.is_dir()
    assert backend._window == settings.search_window == DEFAULT_WINDOW
    narrow = open_backend(Settings(data_dir=tmp_path, search_window=100), analyzer)
    assert isinstance(narrow, SqliteBackend) and narrow._window == 100


def test_factory_refuses_elasticsearch_without_a_url(tmp_path: Path, analyzer: Analyzer) -> None:
    settings = Settings(data_dir=tmp_path, search_backend="elasticsearch", elasticsearch_url=None)
    with pytest.raises(ConfigError, match="RASD_ELASTICSEARCH_URL"):
        open_backend(settings, analyzer)


def mention_of(entity_id: str) -> EntityMention:
    return EntityMention(
        type="PER",
        surface="بوتين",
        canonical_id=entity_id,
        canonical_name="بوتين",
        field="body",
        start=0,
        end=5,
    )


async def test_past_the_window_the_total_is_at_least_and_hits_are_the_newest_matches(
    analyzer: Analyzer,
) -> None:
    # six articles match; the window holds the four most recently indexed, like ES past track_total_hits
    start = datetime(2026, 1, 1, tzinfo=UTC)
    articles = [
        Article(
            id=f"{n:032x}",
            source=f"s{n}",
            title=f"اجتماع رقم {n}",
            body="بوتين في اجتماع الحكومة اليوم",
            published=start - timedelta(days=n),  # indexed later, published earlier
            entities=[mention_of("Q7747")],
        )
        for n in range(6)
    ]
    backend = await _opened(":memory:", analyzer, window=4)
    for a in articles:  # one by one: index order is the list order
        await backend.index_many([a])
    newest_indexed = {a.id for a in articles[2:]}

    result = await backend.search(SearchQuery(text="اجتماع", size=10))
    assert (result.total, result.total_relation) == (4, "gte")
    assert {h.article.id for h in result.hits} == newest_indexed
    assert {f.value for f in result.facets.sources} == {"s2", "s3", "s4", "s5"}

    by_date = await backend.search(SearchQuery(text="اجتماع", sort="newest", size=3))
    assert [h.article.id for h in by_date.hits] == [a.id for a in articles[2:5]]
    last = await backend.search(SearchQuery(text="اجتماع", sort="newest", size=3, after=by_date.next_cursor))
    assert [h.article.id for h in last.hits] == [articles[5].id] and last.next_cursor is None

    entity = await backend.search(SearchQuery(entities=["Q7747"], sort="newest"))
    assert (entity.total, entity.total_relation) == (4, "gte")

    # filters apply before the window: an old match is still found, counted exactly
    old = await backend.search(SearchQuery(text="اجتماع", sources=["s0"]))
    assert (old.total, old.total_relation, [h.article.id for h in old.hits]) == (1, "eq", [articles[0].id])
    exact = await backend.search(SearchQuery(text="رقم", sources=["s1", "s2", "s3"]))
    assert (exact.total, exact.total_relation) == (3, "eq")
    await backend.close()


def test_window_must_be_positive(analyzer: Analyzer) -> None:
    with pytest.raises(ValueError, match="window"):
        SqliteBackend(":memory:", analyzer, window=0)


async def test_a_schema_2_index_is_upgraded_in_place(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    path = tmp_path / "index.sqlite3"
    backend = await _opened(path, analyzer)
    await backend.index_many(corpus)
    await backend.close()
    with sqlite3.connect(path) as raw:  # what schema 2 looked like: no articles_match index, no meta
        raw.execute("DROP INDEX articles_match")
        raw.execute("DROP TABLE meta")
        raw.execute("PRAGMA user_version = 2")
    reopened = await _opened(path, analyzer)
    assert [h.article.id for h in (await reopened.search(SearchQuery(text="وبوتين"))).hits] == [SEED_ID]
    # which analyzer made its terms is not recorded: every article is stale until re-analysed
    assert await reopened.stale_analysis() == len(corpus)
    assert [n async for n in reopened.reanalyse()] == [len(corpus)]
    assert await reopened.stale_analysis() == 0
    await reopened.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "articles_match" in names


async def test_one_entity_or_topic_without_text_matches_a_plain_filter(
    analyzer: Analyzer, corpus: list[Article]
) -> None:
    # those searches walk the entity's (or topic's) own index; the answers must be the filter's
    backend = await _opened(":memory:", analyzer)
    await backend.index_many(corpus)

    entity_ids = sorted({m.canonical_id for a in corpus for m in a.entities})
    topic_ids = sorted({t.id for a in corpus for t in a.topics})
    assert entity_ids and topic_ids
    for entity in entity_ids:
        having = [a for a in corpus if any(m.canonical_id == entity for m in a.entities)]
        result = await backend.search(SearchQuery(entities=[entity], sort="newest", size=100))
        assert {h.article.id for h in result.hits} == {a.id for a in having}, entity
        assert result.total == len(having)
    for topic in topic_ids:
        having = [a for a in corpus if any(t.id == topic for t in a.topics)]
        both = [a for a in having if a.source == having[0].source]
        result = await backend.search(
            SearchQuery(topics=[topic], sources=[having[0].source], sort="newest", size=100)
        )
        assert {h.article.id for h in result.hits} == {a.id for a in both}, topic
    # one entity drives, a topic filters
    entity = entity_ids[0]
    having = [a for a in corpus if any(m.canonical_id == entity for m in a.entities)]
    topic = having[0].topics[0].id if having[0].topics else topic_ids[0]
    result = await backend.search(SearchQuery(entities=[entity], topics=[topic], size=100))
    assert {h.article.id for h in result.hits} == {
        a.id for a in having if any(t.id == topic for t in a.topics)
    }
    await backend.close()


def _copies(article: Article, n: int) -> list[Article]:
    """`n` copies of `article` under distinct ids: a batch of several analysed chunks."""
    return [
        article.model_copy(update={"id": f"copy-{k:04d}", "title": f"{article.title} {k}"}) for k in range(n)
    ]


async def test_a_batch_of_several_chunks_is_written_whole_and_in_order(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    # more than two chunks: analysed in this thread while the writer thread writes the one before
    path = tmp_path / "index.sqlite3"
    backend = await _opened(path, analyzer)
    seed = next(a for a in corpus if a.id == SEED_ID)
    await backend.index_many([seed])
    copies = _copies(seed, 2 * sqlite_module._CHUNK + 7)
    refused = copies[sqlite_module._CHUNK + 3].id  # in the second chunk
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON articles "
            f"WHEN NEW.id = '{refused}' BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
        )
    updated = seed.model_copy(update={"title": "عنوان جديد"})
    batch = [*copies[:10], updated, *copies[10:]]  # an update in the first chunk
    report = await backend.index_many(batch)
    assert report.indexed == [a.id for a in batch if a.id != refused]
    assert [article_id for article_id, _ in report.failed] == [refused]
    assert await backend.count() == len(copies)  # the seed, updated in place, + all copies but one
    assert (await backend.get(SEED_ID)) == updated
    assert (await backend.get(copies[-1].id)) == copies[-1]
    assert (await backend.search(SearchQuery(text="وبوتين", size=1))).total == len(copies)
    # every copy's entity and topic rows point at its own article
    hits = (await backend.search(SearchQuery(entities=["Q7747"], sort="newest", size=3))).hits
    assert [h.article.id for h in hits] == [c.id for c in copies[-1:-4:-1]]
    await backend.close()


async def test_a_bulk_insert_stores_each_article_json_as_its_own_text(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    # the chunk carries all articles' JSON as one blob with byte offsets: multi-byte text
    # (Arabic, an emoji outside the BMP), quotes and backslashes must not shift the next article
    odd = corpus[0].model_copy(
        update={"id": "odd-title", "title": 'قال "الرئيس" \\ 🚀 وبوتين', "summary": "𝔸 ملخص"}
    )
    batch = [*corpus[1:], odd, *_copies(corpus[2], 3)]
    path = tmp_path / "index.sqlite3"
    backend = await _opened(path, analyzer)
    assert len((await backend.index_many(batch)).indexed) == len(batch)
    await backend.close()
    with sqlite3.connect(path) as raw:
        stored = {
            i: (kind, data) for i, kind, data in raw.execute("SELECT id, typeof(data), data FROM articles")
        }
    assert stored == {a.id: ("text", dumps(a).decode()) for a in batch}


async def test_a_locked_file_fails_a_several_chunk_batch_whole(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    path = tmp_path / "index.sqlite3"
    backend = await _opened(path, analyzer, busy_timeout_s=0.05)
    copies = _copies(corpus[0], 2 * sqlite_module._CHUNK + 1)
    with _write_locked(path), pytest.raises(SearchUnavailable):
        await backend.index_many(copies)
    assert await backend.count() == 0
    assert len((await backend.index_many(copies)).indexed) == len(copies)
    await backend.close()


class _Interrupted(BaseException):
    pass


class _InterruptingAnalyzer(Analyzer):
    def joined_terms(self, text: str) -> str:
        if text.endswith(f" {sqlite_module._CHUNK + 5}"):  # a title in the second chunk
            raise _Interrupted
        return super().joined_terms(text)


async def test_an_interrupted_analysis_writes_nothing_of_the_batch(
    tmp_path: Path, corpus: list[Article]
) -> None:
    backend = await _opened(tmp_path / "index.sqlite3", _InterruptingAnalyzer())
    copies = _copies(corpus[0], 2 * sqlite_module._CHUNK + 1)
    with pytest.raises(_Interrupted):
        await backend.index_many(copies)
    assert await backend.count() == 0  # the first chunk, already written, was rolled back
    assert (await backend.index_many(copies[:3])).indexed == [c.id for c in copies[:3]]
    await backend.close()


class _IntervalRecorder(Analyzer):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[float] = set()

    def joined_terms(self, text: str) -> str:
        self.seen.add(sys.getswitchinterval())
        return super().joined_terms(text)


async def test_the_switch_interval_is_short_only_while_a_writer_thread_runs(
    tmp_path: Path, corpus: list[Article]
) -> None:
    before = sys.getswitchinterval()
    recorder = _IntervalRecorder()
    backend = await _opened(tmp_path / "index.sqlite3", recorder)
    await backend.index_many(corpus[:3])  # one chunk: no writer thread
    assert recorder.seen == {before}
    recorder.seen.clear()
    await backend.index_many(_copies(corpus[0], 2 * sqlite_module._CHUNK + 1))
    assert max(recorder.seen) < before
    assert sys.getswitchinterval() == before
    # two batches at once, and one of them interrupted: the last one out restores it
    interrupting = await _opened(tmp_path / "other.sqlite3", _InterruptingAnalyzer())
    outcomes = await asyncio.gather(
        backend.index_many(_copies(corpus[1], 3 * sqlite_module._CHUNK)),
        interrupting.index_many(_copies(corpus[0], 2 * sqlite_module._CHUNK + 1)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], _Interrupted)
    assert sys.getswitchinterval() == before
    await backend.close()
    await interrupting.close()


async def test_an_interrupted_reanalysis_goes_on_where_it_stopped(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    path = tmp_path / "index.sqlite3"
    older = await _opened(path, Analyzer())
    await older.index_many(corpus)
    await older.close()
    backend = await _opened(path, analyzer)
    assert await backend.stale_analysis() == len(corpus)
    run = backend.reanalyse(batch_size=3)
    assert await anext(run) == 3
    await run.aclose()  # interrupted after one batch
    assert await backend.stale_analysis() == len(corpus) - 3
    await backend.close()
    again = await _opened(path, analyzer)  # another process goes on with the same analyzer
    assert [n async for n in again.reanalyse(batch_size=3)][-1] == len(corpus) - 3
    assert await again.stale_analysis() == 0
    await again.close()
    # a third analyzer ignores the second one's progress: all of it is stale for it
    third = await _opened(path, Analyzer(["لبنان"]))
    assert await third.stale_analysis() == len(corpus)
    await third.close()


async def test_the_first_writer_records_its_analyzer_not_a_reader_that_opened_it_before(
    tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    path = tmp_path / "index.sqlite3"
    reader = await _opened(path, Analyzer())  # e.g. a CLI polling an index no worker has written yet
    assert await reader.count() == 0 and await reader.stale_analysis() == 0
    writer = await _opened(path, analyzer)
    await writer.index_many(corpus)
    assert await writer.stale_analysis() == 0
    assert await reader.stale_analysis() == len(corpus)  # the reader's analyzer would cut words otherwise
    await reader.close()
    await writer.close()
