"""Story assignment over a stream: a bounded index of recent articles behind a small store contract.

`StoryIndex.assign(article)` looks the article up by id (a redelivery gets its first answer back), by
exact content key, then by LSH band keys among the recent articles kept by a `StoryStore`, and
records it. Two stores implement the contract:

- `MemoryStore`: dicts, for tests and a single process (about 2.3 KB per article, see `MemoryStore`);
- `SqliteStore`: a file in WAL mode, so a restarted worker keeps its stories; several processes may
  share it (each assignment is one ``BEGIN IMMEDIATE`` transaction).

Both keep at most `max_articles` articles and forget those older than `window` (by `seen` time, the
article's `fetched` time unless given), evicting in insertion order, oldest first. The window ends at the
newest `seen` so far, which lets a backfill of old articles group them, but a `seen` later than the
worker's own clock (a connector with a wrong clock, a hand-made message) counts as now: one article
dated next month would otherwise have aged every recent story out at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Protocol

from pipeline import sqlite_files
from pipeline.enrich.dedupe import (
    DedupeParams,
    DedupeResult,
    Fingerprint,
    band_keys,
    fingerprint,
    match_score,
    similarity,
)
from pipeline.errors import ConfigError
from pipeline.models import Article

__all__ = ["MemoryStore", "SqliteStore", "StoredArticle", "StoryIndex", "StoryStore"]

DEFAULT_MAX_ARTICLES = 200_000
DEFAULT_WINDOW = timedelta(days=7)
# how far past the worker's clock a `seen` time is believed (connector and worker clocks differ a little)
_CLOCK_SKEW_S = 300.0
# candidates verified per article at most: a story syndicated 500 times needs only its recent copies
_MAX_CANDIDATES = 64


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """One indexed article: its fingerprint, the answer it got, and when it was seen (epoch s)."""

    article_id: str
    story_id: str
    duplicate_of: str | None
    similarity: float
    exact: bool
    content_key: str | None
    signature: bytes | None
    shingles: int
    short: bool
    seen: float

    @property
    def fingerprint(self) -> Fingerprint:
        """The fingerprint part, for `match_score`."""
        return Fingerprint(self.content_key, self.signature, self.shingles, self.short)

    @property
    def result(self) -> DedupeResult:
        """The answer this article got when it was first assigned."""
        return DedupeResult(
            story_id=self.story_id,
            duplicate_of=self.duplicate_of,
            similarity=self.similarity,
            exact=self.exact,
        )


class StoryStore(Protocol):
    """Storage of recent articles for `StoryIndex`, which serialises calls with its own lock.

    Lifecycle: `transaction()` wraps one lookup-then-add so that processes sharing a store cannot
    interleave; `add` records an article with its band keys; `evict` drops the oldest-inserted
    articles while more than `max_articles` are kept or the oldest was seen before `older_than`;
    `close` releases resources.
    """

    def transaction(self) -> AbstractContextManager[None]:
        """Context manager: one atomic lookup-then-add."""
        ...

    def get(self, article_id: str) -> StoredArticle | None:
        """The article indexed under this id, if still kept."""
        ...

    def by_content_key(self, key: str) -> StoredArticle | None:
        """The most recent article with this exact content key, if any."""
        ...

    def candidates(self, keys: Sequence[int]) -> list[StoredArticle]:
        """Recent articles sharing at least one band key (at most a few dozen, newest first)."""
        ...

    def add(self, entry: StoredArticle, keys: Sequence[int]) -> None:
        """Index an article under its content key and band keys."""
        ...

    def evict(self, *, max_articles: int, older_than: float) -> int:
        """Drop the oldest-inserted articles beyond the bounds; returns how many were dropped."""
        ...

    def count(self) -> int:
        """How many articles are kept."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


class MemoryStore:
    """Dict-backed store: one process, lost on restart.

    A band key and a content key point to the latest article that had them (copies of one story
    share keys, and the latest copy is evicted last); about 2.3 KB per article with the default
    signature shape, so about 460 MB at 200k articles: use `SqliteStore` for large windows.
    """

    def __init__(self) -> None:
        self._articles: OrderedDict[str, StoredArticle] = OrderedDict()
        self._keys: dict[str, tuple[int, ...]] = {}
        self._exact: dict[str, str] = {}
        self._bands: dict[int, str] = {}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nothing to do: `StoryIndex` holds its lock around the whole assignment."""
        yield

    def get(self, article_id: str) -> StoredArticle | None:
        """The article indexed under this id, if still kept."""
        return self._articles.get(article_id)

    def by_content_key(self, key: str) -> StoredArticle | None:
        """The most recent article with this exact content key, if any."""
        article_id = self._exact.get(key)
        return None if article_id is None else self._articles.get(article_id)

    def candidates(self, keys: Sequence[int]) -> list[StoredArticle]:
        """Recent articles sharing at least one band key."""
        ids = dict.fromkeys(i for i in (self._bands.get(k) for k in keys) if i is not None)
        found = [self._articles[i] for i in ids if i in self._articles]
        return found[:_MAX_CANDIDATES]

    def add(self, entry: StoredArticle, keys: Sequence[int]) -> None:
        """Index an article under its content key and band keys."""
        article_id = entry.article_id
        self._articles[article_id] = entry
        self._keys[article_id] = tuple(keys)
        if entry.content_key is not None:
            self._exact[entry.content_key] = article_id
        for key in keys:
            self._bands[key] = article_id

    def evict(self, *, max_articles: int, older_than: float) -> int:
        """Drop the oldest-inserted articles beyond the bounds."""
        dropped = 0
        while self._articles:
            oldest = next(iter(self._articles.values()))
            if len(self._articles) <= max_articles and oldest.seen >= older_than:
                break
            self._articles.popitem(last=False)
            article_id = oldest.article_id
            # only unlink keys that still point here: a later copy may have taken them over
            for key in self._keys.pop(article_id, ()):
                if self._bands.get(key) == article_id:
                    del self._bands[key]
            if oldest.content_key is not None and self._exact.get(oldest.content_key) == article_id:
                del self._exact[oldest.content_key]
            dropped += 1
        return dropped

    def count(self) -> int:
        """How many articles are kept."""
        return len(self._articles)

    def close(self) -> None:
        """Forget everything."""
        self._articles.clear()
        self._keys.clear()
        self._exact.clear()
        self._bands.clear()


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS articles (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        story_id TEXT NOT NULL,
        duplicate_of TEXT,
        similarity REAL NOT NULL,
        exact INTEGER NOT NULL,
        content_key TEXT,
        signature BLOB,
        shingles INTEGER NOT NULL,
        short INTEGER NOT NULL,
        seen REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS articles_content_key ON articles(content_key) WHERE content_key IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS bands (
        key INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (key, seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS bands_seq ON bands(seq)",
)
_COLUMNS = "id, story_id, duplicate_of, similarity, exact, content_key, signature, shingles, short, seen"
_Row = tuple[str, str, str | None, float, int, str | None, bytes | None, int, int, float]


def _entry(row: _Row) -> StoredArticle:
    return StoredArticle(
        article_id=row[0],
        story_id=row[1],
        duplicate_of=row[2],
        similarity=row[3],
        exact=bool(row[4]),
        content_key=row[5],
        signature=row[6],
        shingles=row[7],
        short=bool(row[8]),
        seen=row[9],
    )


class SqliteStore:
    """SQLite-backed store under `path`: survives restarts, bounded by deleting the oldest rows.

    Rows get consecutive `seq` numbers and eviction deletes a prefix of them, so the count is
    ``last - first + 1`` without a scan. Count-based eviction runs in batches of `evict_batch`
    rows (the file holds at most `max_articles + evict_batch` articles).

    Raises:
        ConfigError: the file was built with another signature scheme (`DedupeParams.scheme`);
            its signatures cannot be compared with new ones: delete the file to start over.
    """

    def __init__(self, path: str | Path, scheme: str, *, evict_batch: int = 1024) -> None:
        self.path = Path(path)
        self.evict_batch = evict_batch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        what = "story index (a cache of recent articles)"
        with sqlite_files.named(self.path, what):
            self._db = sqlite_files.connect(self.path, isolation_level=None)
            try:
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
                with self.transaction():
                    for statement in _SCHEMA:
                        self._db.execute(statement)
                    row = self._db.execute("SELECT value FROM meta WHERE key = 'scheme'").fetchone()
                    if row is None:
                        self._db.execute("INSERT INTO meta (key, value) VALUES ('scheme', ?)", (scheme,))
            except BaseException:
                self._db.close()
                raise
        if row is not None and row[0] != scheme:
            self._db.close()
            raise ConfigError(
                f"dedupe index {self.path} was built with signature scheme {row[0]}, not {scheme}; "
                "delete it to rebuild"
            )
        self._pending_age_check = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, taken before the lookups so processes cannot interleave."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:  # SQLite has rolled back already after a full disk
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get(self, article_id: str) -> StoredArticle | None:
        """The article indexed under this id, if still kept."""
        row = self._db.execute(f"SELECT {_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return None if row is None else _entry(row)

    def by_content_key(self, key: str) -> StoredArticle | None:
        """The most recent article with this exact content key, if any."""
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE content_key = ? ORDER BY seq DESC LIMIT 1", (key,)
        ).fetchone()
        return None if row is None else _entry(row)

    def candidates(self, keys: Sequence[int]) -> list[StoredArticle]:
        """Recent articles sharing at least one band key, newest first."""
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE seq IN "
            f"(SELECT DISTINCT seq FROM bands WHERE key IN ({marks}) ORDER BY seq DESC LIMIT ?)",
            (*keys, _MAX_CANDIDATES),
        ).fetchall()
        return [_entry(r) for r in rows]

    def add(self, entry: StoredArticle, keys: Sequence[int]) -> None:
        """Index an article under its content key and band keys."""
        cursor = self._db.execute(
            f"INSERT INTO articles (seq, {_COLUMNS}) "
            "VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM articles), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.article_id,
                entry.story_id,
                entry.duplicate_of,
                entry.similarity,
                int(entry.exact),
                entry.content_key,
                entry.signature,
                entry.shingles,
                int(entry.short),
                entry.seen,
            ),
        )
        seq = cursor.lastrowid
        self._db.executemany("INSERT OR IGNORE INTO bands (key, seq) VALUES (?, ?)", [(k, seq) for k in keys])
        self._pending_age_check += 1

    def _bounds(self) -> tuple[int, int]:
        # two subqueries: SQLite answers a lone MIN or MAX from the index end, but MIN and MAX in one
        # SELECT scan the table (half a worker's time at 100k stored articles)
        first, last = self._db.execute(
            "SELECT (SELECT MIN(seq) FROM articles), (SELECT MAX(seq) FROM articles)"
        ).fetchone()
        return (first or 0), (last or 0)

    def evict(self, *, max_articles: int, older_than: float) -> int:
        """Drop the oldest-inserted articles beyond the bounds (in batches, see the class doc)."""
        first, last = self._bounds()
        if not last:
            return 0
        cutoff = first - 1
        if last - first + 1 > max_articles + self.evict_batch - 1:
            cutoff = last - max_articles
        if self._pending_age_check >= self.evict_batch:
            self._pending_age_check = 0
            # the first article young enough, in insertion order: everything before it goes
            young = self._db.execute(
                "SELECT seq FROM articles WHERE seq > ? AND seen >= ? ORDER BY seq LIMIT 1",
                (cutoff, older_than),
            ).fetchone()
            cutoff = last if young is None else max(cutoff, young[0] - 1)
        if cutoff < first:
            return 0
        self._db.execute("DELETE FROM bands WHERE seq <= ?", (cutoff,))
        self._db.execute("DELETE FROM articles WHERE seq <= ?", (cutoff,))
        return cutoff - first + 1

    def count(self) -> int:
        """How many articles are kept."""
        first, last = self._bounds()
        return last - first + 1 if last else 0

    def close(self) -> None:
        """Checkpoint and close the file."""
        self._db.close()


class StoryIndex:
    """Assigns each article of the stream to a story: thread-safe, idempotent per article id.

    Args:
        store: where recent articles are kept (`MemoryStore`, `SqliteStore`).
        params: signature shape and thresholds; must match what a persisted store was built with.
        max_articles: keep at most this many recent articles.
        window: forget articles seen longer ago than this before the newest one.
    """

    def __init__(
        self,
        store: StoryStore,
        params: DedupeParams | None = None,
        *,
        max_articles: int = DEFAULT_MAX_ARTICLES,
        window: timedelta = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_articles < 1:
            raise ValueError("max_articles must be positive")
        self.store = store
        self.params = params or DedupeParams()
        self.max_articles = max_articles
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._newest = float("-inf")

    @classmethod
    def in_memory(
        cls,
        params: DedupeParams | None = None,
        *,
        max_articles: int = DEFAULT_MAX_ARTICLES,
        window: timedelta = DEFAULT_WINDOW,
    ) -> StoryIndex:
        """An index kept in dicts (tests, one process)."""
        return cls(MemoryStore(), params, max_articles=max_articles, window=window)

    @classmethod
    def open(
        cls,
        path: str | Path,
        params: DedupeParams | None = None,
        *,
        max_articles: int = DEFAULT_MAX_ARTICLES,
        window: timedelta = DEFAULT_WINDOW,
    ) -> StoryIndex:
        """An index persisted in the SQLite file at `path` (created if missing)."""
        params = params or DedupeParams()
        store = SqliteStore(path, params.scheme)
        return cls(store, params, max_articles=max_articles, window=window)

    def assign(self, article: Article, *, seen: datetime | None = None) -> DedupeResult:
        """The story of `article`: its best earlier copy's story, or a new one named by its id.

        `seen` (default: `article.fetched`) orders the article in the age window.
        """
        fp = fingerprint(article, self.params)
        keys = band_keys(fp.signature, self.params) if fp.signature is not None else []
        when = (seen or article.fetched).timestamp()
        with self._lock, self.store.transaction():
            return self._assign(article.id, fp, keys, when)

    def assign_many(self, articles: Iterable[Article]) -> list[DedupeResult]:
        """`assign` for a batch, in order, in one store transaction (much faster on SQLite)."""
        prepared = []
        for article in articles:
            fp = fingerprint(article, self.params)
            keys = band_keys(fp.signature, self.params) if fp.signature is not None else []
            prepared.append((article.id, fp, keys, article.fetched.timestamp()))
        with self._lock, self.store.transaction():
            return [self._assign(*item) for item in prepared]

    def _assign(self, article_id: str, fp: Fingerprint, keys: list[int], seen: float) -> DedupeResult:
        seen = min(seen, self._clock() + _CLOCK_SKEW_S)
        known = self.store.get(article_id)
        if known is not None:
            return known.result
        result = self._match(article_id, fp, keys)
        self.store.add(
            StoredArticle(
                article_id=article_id,
                story_id=result.story_id,
                duplicate_of=result.duplicate_of,
                similarity=result.similarity,
                exact=result.exact,
                content_key=fp.content_key,
                signature=fp.signature,
                shingles=fp.shingles,
                short=fp.short,
                seen=seen,
            ),
            keys,
        )
        self._newest = max(self._newest, seen)
        self.store.evict(
            max_articles=self.max_articles, older_than=self._newest - self.window.total_seconds()
        )
        return result

    def _match(self, article_id: str, fp: Fingerprint, keys: list[int]) -> DedupeResult:
        if fp.content_key is not None:
            same = self.store.by_content_key(fp.content_key)
            if same is not None:
                return DedupeResult(
                    story_id=same.story_id, duplicate_of=same.article_id, similarity=1.0, exact=True
                )
        best: tuple[float, StoredArticle] | None = None
        founders: dict[str, bool] = {}
        for other in self.store.candidates(keys):
            score = match_score(fp, other.fingerprint, self.params)
            if score is None or (best is not None and score <= best[0]):
                continue
            if other.story_id != other.article_id:
                resembles = founders.get(other.story_id)
                if resembles is None:
                    resembles = founders[other.story_id] = self._resembles_founder(fp, other.story_id)
                if not resembles:
                    continue
            best = (score, other)
        if best is None:
            return DedupeResult(story_id=article_id, duplicate_of=None, similarity=0.0, exact=False)
        score, other = best
        return DedupeResult(
            story_id=other.story_id, duplicate_of=other.article_id, similarity=score, exact=False
        )

    def _resembles_founder(self, fp: Fingerprint, story_id: str) -> bool:
        """Whether an article matching a later member of a story also resembles the story's first
        article (Jaccard at least `containment_floor`), or that one is no longer kept.

        Single-link grouping let a digest that carries two unrelated stories hand the first story's
        id to copies of the second (quake → digest of quake and vote → vote joined "quake"), and made
        the outcome depend on arrival order. Chains of edited copies of one story still resemble
        their first article.
        """
        founder = self.store.get(story_id)
        if founder is None or founder.signature is None or fp.signature is None:
            return True
        return similarity(fp.signature, founder.signature) >= self.params.containment_floor

    def __len__(self) -> int:
        with self._lock:
            return self.store.count()

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            self.store.close()

    def __enter__(self) -> StoryIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
