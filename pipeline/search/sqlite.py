"""The embedded search backend: SQLite FTS5 from the standard library, no server.

Layout (schema version in ``PRAGMA user_version``):

- ``articles``: one row per article id, with the columns filters and sorting need and the full
  `Article` as JSON (the only copy of the original text). ``at`` is the article's place on the
  timeline (``published``, or the fetch time when unpublished), indexed with ``doc`` for `scan`.
- ``article_fts``: FTS5 over the *analysed* text: space-joined `Analyzer` stems of the title, and of
  summary + body. FTS5's own tokenizer only splits those stems at spaces again, so Arabic clitic
  handling and normalisation stay in `pipeline.text`. Contentless (no second copy of the text)
  where SQLite supports deleting from contentless tables (3.43+).
- ``article_entities`` / ``article_topics``: one row per (article, entity|topic), for filters and facets.
- ``meta``: the `Analyzer.fingerprint` the FTS terms were made with, and a re-analysis's progress.

The Faust indexer and CLI searches may share the file from different processes: WAL mode, a busy
timeout, and ``SearchUnavailable`` when SQLite still reports the database locked. A batch of more
than one chunk is analysed in the calling thread while a second thread writes the chunk before.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import queue
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from pipeline import sqlite_files
from pipeline.errors import InvalidQuery, SearchError, SearchUnavailable
from pipeline.models import Article, dumps
from pipeline.search.base import (
    Facets,
    IndexReport,
    SearchHit,
    SearchQuery,
    SearchResult,
    joined_body_terms,
)
from pipeline.search.highlight import entity_marks, highlight_fields
from pipeline.search.query import ParsedQuery, parse_user_query
from pipeline.search.sqlite_sql import (
    MAX_FILTER_VALUES,
    encode_cursor,
    facets,
    matches_sql,
    micros,
    page_sql,
    scan_sql,
)
from pipeline.text import Analyzer

__all__ = ["DEFAULT_WINDOW", "SCHEMA_VERSION", "SqliteBackend"]

SCHEMA_VERSION = 4  # 2: articles.at (published or fetched) for `scan`; 3: articles_match; 4: meta
DEFAULT_WINDOW = 2_000
_RETRY_AFTER_S = 1.0
_CHUNK = 250  # articles analysed while the chunk before them is written
# 16 KiB pages hold six ~2.5 KB article rows where 4 KiB pages held one (the rest of the page
# mostly wasted) and make FTS5's segment writes larger: 1.6x the write throughput
_PAGE_SIZE = 16_384
_CACHE_KIB = 32_768
_T = TypeVar("_T")
_ANALYSIS = "analysis"  # meta key: the fingerprint of the analyzer every article's terms came from
_PROGRESS = "reanalysed"  # meta key: "<fingerprint> <doc>" while a re-analysis is under way

_TABLES = (
    """CREATE TABLE IF NOT EXISTS articles (
        doc INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        language TEXT,
        published INTEGER,
        url TEXT,
        title TEXT NOT NULL,
        data TEXT NOT NULL,
        at INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS articles_published ON articles(published)",
    # what a text match needs of its article, dense: the row itself is a page of JSON (1.6x faster)
    "CREATE INDEX IF NOT EXISTS articles_match ON articles(doc, published, source, language)",
    "CREATE INDEX IF NOT EXISTS articles_at ON articles(at, doc)",
    "CREATE INDEX IF NOT EXISTS articles_source ON articles(source, published)",
    "CREATE INDEX IF NOT EXISTS articles_language ON articles(language, published)",
    """CREATE TABLE IF NOT EXISTS article_entities (
        doc INTEGER NOT NULL,
        entity_id TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        PRIMARY KEY (doc, entity_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS article_entities_entity ON article_entities(entity_id, doc)",
    """CREATE TABLE IF NOT EXISTS article_topics (
        doc INTEGER NOT NULL,
        topic_id TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (doc, topic_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS article_topics_topic ON article_topics(topic_id, doc)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)
# the tokenizer only re-splits our space-joined stems (normalisation is the analyzer's business):
# `ascii` keeps every non-ASCII character in its token, so a stem stays whole, and indexes 1.35x
# faster than `unicode61`. An index made with `unicode61` keeps it (the table declares it).
_FTS_TOKENIZE = "tokenize='ascii'"


def _fts_table_sql() -> str:
    contentless = "content='', contentless_delete=1, " if sqlite3.sqlite_version_info >= (3, 43, 0) else ""
    return (
        "CREATE VIRTUAL TABLE IF NOT EXISTS article_fts "
        f"USING fts5(title, body, {contentless}{_FTS_TOKENIZE})"
    )


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return True
    return "locked" in str(exc) or "busy" in str(exc)


@contextmanager
def _map_sqlite_errors(action: str) -> Iterator[None]:
    """Translate sqlite3 errors: locked/busy → SearchUnavailable, anything else → SearchError."""
    try:
        yield
    except sqlite3.Error as exc:
        if _is_busy(exc):
            raise SearchUnavailable(
                f"sqlite index busy while {action}: {exc}", retry_after=_RETRY_AFTER_S
            ) from exc
        raise SearchError(f"sqlite index failed while {action}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Row:
    """An article analysed and serialised, ready to write."""

    id: str
    source: str
    language: str | None
    published: int | None
    at: int
    url: str | None
    title: str
    data: bytes  # the article's JSON, UTF-8
    title_terms: str
    body_terms: str
    entities: tuple[tuple[str, str, str], ...]
    topics: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Rows to insert, with each table's values as one JSON array for ``json_each``."""

    rows: list[_Row]
    articles: str
    data: bytes  # the articles' JSON, one after the other; `articles` holds each one's place
    fts: str
    entities: str
    topics: str


_json = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def _chunk(rows: list[_Row]) -> _Chunk:
    """The JSON for `_insert_new`; entity and topic rows name their article by its place in `rows`.

    The articles' own JSON goes in as one blob beside the array, each row naming its bytes (start,
    length): inside the array SQLite parsed and re-rendered every article (60 µs an article), and
    as escaped strings Python spent a third of this function escaping them.
    """
    starts = itertools.accumulate((len(r.data) for r in rows), initial=1)
    return _Chunk(
        rows=rows,
        articles=_json(
            [
                [r.id, r.source, r.language, r.published, r.url, r.title, r.at, start, len(r.data)]
                for r, start in zip(rows, starts, strict=False)
            ]
        ),
        data=b"".join(r.data for r in rows),
        fts=_json([[r.title_terms, r.body_terms] for r in rows]),
        entities=_json([[i, *e] for i, r in enumerate(rows) for e in r.entities]),
        topics=_json([[i, *t] for i, r in enumerate(rows) for t in r.topics]),
    )


def _columns(n: int) -> str:
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in range(n))


# ?1 is the first new doc number; an article's doc is ?1 + its place in the chunk (json_each's key)
_INSERT_ARTICLES = (
    "INSERT INTO articles (doc, id, source, language, published, url, title, at, data) "
    f"SELECT ?1 + key, {_columns(7)}, "
    "CAST(substr(?3, json_extract(value, '$[7]'), json_extract(value, '$[8]')) AS TEXT) FROM json_each(?2)"
)
_INSERT_FTS = (
    f"INSERT INTO article_fts (rowid, title, body) SELECT ?1 + key, {_columns(2)} FROM json_each(?2)"
)
# entity and topic rows start with their article's place in the chunk
_INSERT_ENTITIES = (
    f"INSERT INTO article_entities (doc, entity_id, name, type) SELECT ?1 + {_columns(4)} FROM json_each(?2)"
)
_INSERT_TOPICS = (
    f"INSERT INTO article_topics (doc, topic_id, score) SELECT ?1 + {_columns(3)} FROM json_each(?2)"
)


class _QuickHandover:
    """Shortens the interpreter's switch interval while a writer thread runs beside the analysis.

    The writer needs the GIL back between its statements, and the analysing thread keeps it for the
    whole interval each time (5 ms by default): the writer spent 180 µs an article waiting, 125 at
    0.5 ms, and the batch ran 1.16x faster. While no thread waits for the GIL the interval costs
    nothing. Process-wide, so counted: the last batch to finish restores the interval it found.
    """

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0.0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self._interval_s))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    sys.setswitchinterval(self._saved)


_quick_handover = _QuickHandover(0.0005)


@dataclass(frozen=True, slots=True)
class _Page:
    total: int
    capped: bool
    hits: list[tuple[float, str]]
    facets: Facets
    next_cursor: str | None = None


class SqliteBackend:
    """`SearchBackend` on one SQLite file (or ``":memory:"``), using FTS5 over analyser stems.

    Args:
        path: the index file; its parent directory must exist. ``":memory:"`` for tests.
        analyzer: the analyzer used for both indexing and queries; change its protected names
            and the index must be rebuilt.
        busy_timeout_s: how long SQLite waits for another process's write lock before
            `SearchUnavailable` is raised.
        window: a search ranks, pages and facets at most this many matches, the most recently
            indexed; past it the total is reported as "at least" (``total_relation="gte"``), as
            Elasticsearch does past ``track_total_hits``. Keeps a word found in half of a million
            articles from costing seconds (bm25 scores every match it is given).
    """

    def __init__(
        self,
        path: Path | str,
        analyzer: Analyzer,
        *,
        busy_timeout_s: float = 5.0,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        self._path = str(path)
        self._analyzer = analyzer
        self._busy_timeout_s = busy_timeout_s
        if window < 1:
            raise ValueError("window must be at least 1")
        self._window = window
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteBackend({self._path!r})"

    # -- lifecycle -------------------------------------------------------------------------

    async def setup(self) -> None:
        """Open the file (WAL mode) and create the schema if needed; safe to call again."""
        await asyncio.to_thread(self._locked, "setting up", self._setup)

    async def close(self) -> None:
        """Close the connection; later calls raise `SearchError` until `setup` runs again."""
        await asyncio.to_thread(self._locked, "closing", self._close)

    def _setup(self) -> None:
        if self._conn is None:
            conn = sqlite_files.connect(
                self._path, timeout_s=self._busy_timeout_s, isolation_level=None, page_size=_PAGE_SIZE
            )
            try:
                if self._path != ":memory:":
                    conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA temp_store = MEMORY")
                conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
                try:
                    conn.execute("SELECT json_extract('[1]', '$[0]')")
                except sqlite3.OperationalError as exc:
                    raise SearchError(
                        f"this Python's SQLite {sqlite3.sqlite_version} lacks JSON functions"
                    ) from exc
                self._create_schema(conn)
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS matches "
                    "(doc INTEGER PRIMARY KEY, published INTEGER, score REAL, source TEXT)"
                )
            except BaseException:
                conn.close()
                raise
            self._conn = conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        if self._user_version(conn) == SCHEMA_VERSION:
            return
        with self._transaction(conn, write=True):
            version = self._user_version(conn)  # another process may have created it meanwhile
            if version > SCHEMA_VERSION:
                raise SearchError(
                    f"{self._path} has search schema {version}, newer than this build ({SCHEMA_VERSION}); "
                    "upgrade Rasd or rebuild the index"
                )
            if version == SCHEMA_VERSION:
                return
            if version == 1:
                conn.execute("ALTER TABLE articles ADD COLUMN at INTEGER")
            for statement in (*_TABLES, _fts_table_sql()):
                try:
                    conn.execute(statement)
                except sqlite3.OperationalError as exc:
                    if "fts5" in str(exc):
                        raise SearchError(
                            f"this Python's SQLite {sqlite3.sqlite_version} lacks FTS5"
                        ) from exc
                    raise
            if version == 1:
                self._backfill_at(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    def _backfill_at(conn: sqlite3.Connection) -> None:
        """Schema 1 → 2: give every stored article its timeline position (fetch time if unpublished)."""
        conn.execute("UPDATE articles SET at = published WHERE published IS NOT NULL")
        unpublished = conn.execute("SELECT doc, data FROM articles WHERE published IS NULL").fetchall()
        conn.executemany(
            "UPDATE articles SET at = ? WHERE doc = ?",
            [(micros(datetime.fromisoformat(json.loads(data)["fetched"])), doc) for doc, data in unpublished],
        )

    @staticmethod
    def _user_version(conn: sqlite3.Connection) -> int:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- plumbing --------------------------------------------------------------------------

    def _locked(self, action: str, fn: Callable[[], _T]) -> _T:
        """Run `fn` holding the connection lock, with sqlite errors translated."""
        with self._lock, _map_sqlite_errors(action):
            return fn()

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SearchError(f"{self!r} is not set up (call setup() first) or was closed")
        return self._conn

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection, *, write: bool) -> Iterator[None]:
        """One transaction: IMMEDIATE for writes (fail fast on the lock), deferred snapshot for reads."""
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (busy, full disk)
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- writes ----------------------------------------------------------------------------

    async def index_many(self, articles: Sequence[Article]) -> IndexReport:
        """Upsert articles by id in one transaction; an article that fails is reported, not raised."""
        return await asyncio.to_thread(self._index_many, list(articles))

    def _index_many(self, articles: list[Article]) -> IndexReport:
        latest = list({a.id: a for a in articles}.values())  # the last copy of a repeated id wins
        failed: list[tuple[str, str]] = []

        def analysed(part: list[Article]) -> _Chunk:
            rows: list[_Row] = []
            for article in part:
                try:
                    rows.append(self._analyse(article))
                except Exception as exc:  # reported per document for the DLQ; the batch goes on
                    failed.append((article.id, f"{type(exc).__name__}: {exc}"))
            return _chunk(rows)

        parts = [latest[k : k + _CHUNK] for k in range(0, len(latest), _CHUNK)]
        if len(parts) > 1:
            written, db_failed = self._write_while_analysing(map(analysed, parts))
        else:
            chunks = [c for c in map(analysed, parts) if c.rows]
            if not chunks:
                return IndexReport(failed=failed)
            written, db_failed = self._locked("indexing", lambda: self._write(chunks))
        return IndexReport(indexed=written, failed=failed + db_failed)

    def _write_while_analysing(self, chunks: Iterator[_Chunk]) -> tuple[list[str], list[tuple[str, str]]]:
        """Write each chunk in one transaction from a second thread while the next is analysed.

        SQLite runs without the GIL, but only inside one statement: hence each table's rows go in
        as one ``json_each`` statement. With ``executemany`` the writer takes the GIL back for
        every row and waits out the analysing thread's switch interval each time (35x slower).
        """
        pending: queue.SimpleQueue[_Chunk | BaseException | None] = queue.SimpleQueue()
        outcome: list[tuple[list[str], list[tuple[str, str]]] | BaseException] = []

        def received() -> Iterator[_Chunk]:
            while (item := pending.get()) is not None:
                if isinstance(item, BaseException):
                    raise item  # the transaction rolls back
                yield item

        def write() -> None:
            try:
                outcome.append(self._locked("indexing", lambda: self._write(received())))
            except BaseException as exc:  # handed to the calling thread
                outcome.append(exc)

        writer = threading.Thread(target=write, name="rasd-index-writer", daemon=True)
        with _quick_handover():
            writer.start()
            try:
                for chunk in chunks:
                    if not writer.is_alive():  # it failed: its error is raised below
                        break
                    if chunk.rows:
                        pending.put(chunk)
            except BaseException:
                pending.put(SearchError("indexing interrupted while analysing"))
                raise
            finally:
                pending.put(None)
                writer.join()
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _analyse(self, article: Article) -> _Row:
        title_terms, body_terms = self._terms(article.title, article.summary, article.body)
        entities: dict[str, tuple[str, str, str]] = {}
        for m in article.entities:
            entities.setdefault(m.canonical_id, (m.canonical_id, m.canonical_name, m.type))
        topics: dict[str, float] = {}
        for t in article.topics:
            topics[t.id] = max(t.score, topics.get(t.id, 0.0))
        return _Row(
            id=article.id,
            source=article.source,
            language=article.language,
            published=micros(article.published) if article.published else None,
            at=micros(article.published or article.fetched),
            url=article.url,
            title=article.title,
            data=dumps(article),
            title_terms=title_terms,
            body_terms=body_terms,
            entities=tuple(entities.values()),
            topics=tuple(topics.items()),
        )

    def _terms(self, title: str, summary: str, body: str) -> tuple[str, str]:
        """The two FTS columns of an article: its title's stems, and those of summary and body."""
        terms = self._analyzer.joined_terms
        return terms(title), joined_body_terms(terms(summary), terms(body))

    async def stale_analysis(self) -> int:
        """Articles whose terms another analyzer made, less those a re-analysis under way has done."""
        return await asyncio.to_thread(self._locked, "checking the analysis", self._stale)

    def _stale(self) -> int:
        conn = self._require()
        if _meta(conn, _ANALYSIS) == self._analyzer.fingerprint:
            return 0
        count: int = conn.execute(
            "SELECT COUNT(*) FROM articles WHERE doc > ?", (self._progress(conn),)
        ).fetchone()[0]
        return count

    async def reanalyse(self, batch_size: int = 500) -> AsyncIterator[int]:
        """Re-analyse stale articles in doc order, one write transaction per batch.

        The progress is recorded with each batch, so an interrupted run goes on where it stopped.
        Reading, analysing and writing a batch happen under the write lock, so a writer's update of
        an article cannot be overwritten with terms of its older text.
        """
        if batch_size < 1:
            raise InvalidQuery(f"batch_size must be at least 1, not {batch_size}")
        done = 0
        batch = functools.partial(self._reanalyse_batch, batch_size)
        while n := await asyncio.to_thread(self._locked, "re-analysing", batch):
            done += n
            yield done

    def _reanalyse_batch(self, size: int) -> int:
        conn = self._require()
        fingerprint = self._analyzer.fingerprint
        with self._transaction(conn, write=True):
            if _meta(conn, _ANALYSIS) == fingerprint:
                return 0
            rows = conn.execute(
                "SELECT doc, data FROM articles WHERE doc > ? ORDER BY doc LIMIT ?",
                (self._progress(conn), size),
            ).fetchall()
            fts = []
            for doc, data in rows:
                stored = json.loads(data)
                title, summary, body = (str(stored.get(f) or "") for f in ("title", "summary", "body"))
                fts.append((doc, *self._terms(title, summary, body)))
            conn.executemany("DELETE FROM article_fts WHERE rowid = ?", [(doc,) for doc, _, _ in fts])
            conn.executemany("INSERT INTO article_fts (rowid, title, body) VALUES (?, ?, ?)", fts)
            if len(rows) < size:
                _set_meta(conn, _ANALYSIS, fingerprint)
                conn.execute("DELETE FROM meta WHERE key = ?", (_PROGRESS,))
            else:
                _set_meta(conn, _PROGRESS, f"{fingerprint} {rows[-1][0]}")
        return len(rows)

    def _record_analysis(self, conn: sqlite3.Connection) -> None:
        """An index without articles takes the fingerprint of the analyzer that writes the first ones.

        Recorded on write, not on setup: a reader opening an empty index must not claim it. An
        index made before schema 4 holds none, so its articles count as stale until re-analysed.
        """
        fingerprint = self._analyzer.fingerprint
        if (
            _meta(conn, _ANALYSIS) != fingerprint
            and conn.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None
        ):
            _set_meta(conn, _ANALYSIS, fingerprint)

    def _progress(self, conn: sqlite3.Connection) -> int:
        """The last doc a re-analysis with this analyzer has done (0: none yet)."""
        fingerprint, _, doc = (_meta(conn, _PROGRESS) or "").partition(" ")
        return int(doc) if fingerprint == self._analyzer.fingerprint else 0

    def _write(self, chunks: Iterable[_Chunk]) -> tuple[list[str], list[tuple[str, str]]]:
        """Write chunks in one transaction: new articles in bulk, updates one by one."""
        conn = self._require()
        written: list[str] = []
        failed: list[tuple[str, str]] = []
        with self._transaction(conn, write=True):
            self._record_analysis(conn)
            for chunk in chunks:
                done, refused = self._write_chunk(conn, chunk)
                written += done
                failed += refused
        return written, failed

    def _write_chunk(
        self, conn: sqlite3.Connection, chunk: _Chunk
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """New articles go in with one statement per table and doc numbers assigned under the
        write lock (one statement, so a writer thread holds no GIL while it runs). Updates, and every
        row of a bulk insert SQLite refused (too big, constraint), take the per-article path, where
        one bad row is reported and the rest written.
        """
        rows = chunk.rows
        existing = self._existing_ids(conn, [r.id for r in rows])
        conn.execute("SAVEPOINT bulk")
        try:
            self._insert_new(conn, _chunk([r for r in rows if r.id not in existing]) if existing else chunk)
            bulk = True
        except sqlite3.Error as exc:
            if _is_busy(exc):
                raise
            conn.execute("ROLLBACK TO bulk")
            bulk = False
        conn.execute("RELEASE bulk")
        written, failed = self._write_each(conn, [r for r in rows if r.id in existing] if bulk else rows)
        if bulk:  # report in batch order, as the per-article path does
            done = set(written)
            written = [r.id for r in rows if r.id not in existing or r.id in done]
        return written, failed

    @staticmethod
    def _existing_ids(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for k in range(0, len(ids), MAX_FILTER_VALUES):  # under SQLite's bound-parameter limit
            chunk = ids[k : k + MAX_FILTER_VALUES]
            found.update(
                row[0]
                for row in conn.execute(
                    f"SELECT id FROM articles WHERE id IN ({', '.join('?' * len(chunk))})", chunk
                )
            )
        return found

    @staticmethod
    def _insert_new(conn: sqlite3.Connection, chunk: _Chunk) -> None:
        if not chunk.rows:
            return
        # the write lock is held (BEGIN IMMEDIATE): no other writer can take these numbers
        first = int(conn.execute("SELECT COALESCE(MAX(doc), 0) + 1 FROM articles").fetchone()[0])
        conn.execute(_INSERT_ARTICLES, (first, chunk.articles, chunk.data))
        SqliteBackend._insert_side_rows(conn, first, chunk)

    @staticmethod
    def _insert_side_rows(conn: sqlite3.Connection, first: int, chunk: _Chunk) -> None:
        """The FTS, entity and topic rows of a chunk whose articles are in `articles` from doc `first` on."""
        for sql, payload in (
            (_INSERT_FTS, chunk.fts),
            (_INSERT_ENTITIES, chunk.entities),
            (_INSERT_TOPICS, chunk.topics),
        ):
            conn.execute(sql, (first, payload))

    def _write_each(
        self, conn: sqlite3.Connection, rows: list[_Row]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        written: list[str] = []
        failed: list[tuple[str, str]] = []
        for row in rows:
            conn.execute("SAVEPOINT article")
            try:
                self._write_one(conn, row)
            except sqlite3.Error as exc:
                if _is_busy(exc):
                    raise
                conn.execute("ROLLBACK TO article")
                failed.append((row.id, f"{type(exc).__name__}: {exc}"))
            else:
                written.append(row.id)
            conn.execute("RELEASE article")
        return written, failed

    @staticmethod
    def _write_one(conn: sqlite3.Connection, row: _Row) -> None:
        doc: int = conn.execute(
            """INSERT INTO articles (id, source, language, published, url, title, data, at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET source = excluded.source, language = excluded.language,
                   published = excluded.published, url = excluded.url, title = excluded.title,
                   data = excluded.data, at = excluded.at
               RETURNING doc""",
            (row.id, row.source, row.language, row.published, row.url, row.title, row.data.decode(), row.at),
        ).fetchone()[0]
        SqliteBackend._delete_side_rows(conn, doc)
        SqliteBackend._insert_side_rows(conn, doc, _chunk([row]))

    @staticmethod
    def _delete_side_rows(conn: sqlite3.Connection, doc: int) -> None:
        conn.execute("DELETE FROM article_fts WHERE rowid = ?", (doc,))
        conn.execute("DELETE FROM article_entities WHERE doc = ?", (doc,))
        conn.execute("DELETE FROM article_topics WHERE doc = ?", (doc,))

    async def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles by id; returns how many existed."""
        ids = list(dict.fromkeys(article_ids))
        return await asyncio.to_thread(self._locked, "deleting", lambda: self._delete(ids))

    def _delete(self, ids: list[str]) -> int:
        conn = self._require()
        removed = 0
        with self._transaction(conn, write=True):
            for article_id in ids:
                found = conn.execute("SELECT doc FROM articles WHERE id = ?", (article_id,)).fetchone()
                if found is None:
                    continue
                self._delete_side_rows(conn, found[0])
                conn.execute("DELETE FROM articles WHERE doc = ?", (found[0],))
                removed += 1
        return removed

    # -- reads -----------------------------------------------------------------------------

    async def get(self, article_id: str) -> Article | None:
        """The stored article, or None when the id is not indexed."""
        data = await asyncio.to_thread(self._locked, "reading", lambda: self._get_data(article_id))
        return None if data is None else self._load(data)

    def _get_data(self, article_id: str) -> str | None:
        found = self._require().execute("SELECT data FROM articles WHERE id = ?", (article_id,)).fetchone()
        return None if found is None else str(found[0])

    @staticmethod
    def _load(data: str) -> Article:
        try:
            return Article.model_validate_json(data)
        except ValidationError as exc:
            raise SearchError(f"stored article cannot be read by this build: {exc}") from exc

    async def count(self) -> int:
        """How many articles are indexed."""
        return await asyncio.to_thread(self._locked, "counting", self._count)

    def _count(self) -> int:
        n: int = self._require().execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        return n

    async def scan(
        self, since: datetime | None = None, until: datetime | None = None, batch_size: int = 500
    ) -> AsyncIterator[Article]:
        """Stream stored articles dated in [since, until), oldest first, `batch_size` rows per read.

        An article is dated by `published`, or by its fetch time when unpublished. Pages follow
        the (date, row) key, so each read is an index range and the connection is free between
        batches; an article re-indexed with a later date during the scan may come again.
        """
        if batch_size < 1:
            raise InvalidQuery(f"batch_size must be at least 1, not {batch_size}")
        for label, bound in (("since", since), ("until", until)):
            if bound is not None and bound.tzinfo is None:
                raise InvalidQuery(f"{label} must be timezone-aware")
        lo = micros(since) if since is not None else None
        hi = micros(until) if until is not None else None
        after: tuple[int, int] | None = None
        while True:
            page = functools.partial(self._scan_page, lo, hi, after, batch_size)
            rows = await asyncio.to_thread(self._locked, "scanning", page)
            if not rows:
                return
            # parsing JSON is pure CPU: outside the connection lock, off the event loop
            articles = await asyncio.to_thread(self._load_all, [data for _, _, data in rows])
            for article in articles:
                yield article
            if len(rows) < batch_size:
                return
            after = (rows[-1][0], rows[-1][1])

    @classmethod
    def _load_all(cls, data: list[str]) -> list[Article]:
        return [cls._load(d) for d in data]

    def _scan_page(
        self, lo: int | None, hi: int | None, after: tuple[int, int] | None, size: int
    ) -> list[tuple[int, int, str]]:
        cursor = self._require().execute(*scan_sql(lo, hi, after, size))
        return [(int(a), int(d), str(data)) for a, d, data in cursor]

    async def search(self, query: SearchQuery) -> SearchResult:
        """Run a query: AND of text and filters, ranked by bm25 (title weighted) or newest first.

        Facets count all matches (the window of them when the total is capped); days are UTC dates,
        newest first. Raises `InvalidQuery` for text with nothing to search or too many filter values.
        """
        parsed = parse_user_query(query.text, self._analyzer)
        page = await asyncio.to_thread(self._locked, "searching", lambda: self._search(query, parsed))
        # highlighting is pure CPU on the original text: outside the connection lock
        return await asyncio.to_thread(self._result, page, parsed, frozenset(query.entities))

    def _result(self, page: _Page, parsed: ParsedQuery, entity_ids: frozenset[str]) -> SearchResult:
        hits = []
        for score, data in page.hits:
            article = self._load(data)
            fields = (
                ("title", article.title, True),
                ("summary", article.summary, False),
                ("body", article.body, False),
            )
            hits.append(
                SearchHit(
                    article=article,
                    score=score,
                    highlights=highlight_fields(
                        self._analyzer, fields, parsed, entity_marks(article, entity_ids)
                    ),
                )
            )
        return SearchResult(
            total=page.total,
            total_relation="gte" if page.capped else "eq",
            hits=hits,
            facets=page.facets,
            next_cursor=page.next_cursor,
        )

    def _search(self, query: SearchQuery, parsed: ParsedQuery) -> _Page:
        conn = self._require()
        sql, params = matches_sql(query, parsed, self._window)
        page_query, page_params, width = page_sql(
            query, by_score=query.sort == "relevance" and bool(parsed.groups)
        )
        with self._transaction(conn, write=False):
            conn.execute("DELETE FROM temp.matches")
            conn.execute(f"INSERT INTO temp.matches (doc, published, score, source) {sql}", params)
            total: int = conn.execute("SELECT COUNT(*) FROM temp.matches").fetchone()[0]
            capped = total > self._window
            if capped:  # the row past the window only told that it is full
                conn.execute("DELETE FROM temp.matches WHERE doc = (SELECT MIN(doc) FROM temp.matches)")
                total = self._window
            rows = conn.execute(page_query, page_params).fetchall()
            counts = facets(conn, query.facet_size) if query.facets and total else Facets()
            conn.execute("DELETE FROM temp.matches")
        shown = rows[: query.size]
        more = len(rows) > query.size
        return _Page(
            total=total,
            capped=capped,
            hits=[(float(row[-2]), str(row[-1])) for row in shown],
            facets=counts,
            next_cursor=encode_cursor(query, shown[-1][:width]) if more else None,
        )


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    found = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if found is None else str(found[0])


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
