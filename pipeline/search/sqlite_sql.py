"""SQL for the SQLite backend: FTS5 MATCH expressions, match selection with filters, facets.

Every user value is a bound parameter; the MATCH expression is built only from quoted stems.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pipeline.errors import InvalidQuery
from pipeline.search.base import Facets, SearchQuery
from pipeline.search.query import ParsedQuery, Phrase

__all__ = [
    "BODY_WEIGHT",
    "MAX_FILTER_VALUES",
    "TITLE_WEIGHT",
    "compile_match",
    "decode_cursor",
    "encode_cursor",
    "facets",
    "matches_sql",
    "micros",
    "page_sql",
    "scan_sql",
]

TITLE_WEIGHT = 5.0
BODY_WEIGHT = 1.0
MAX_FILTER_VALUES = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# unpublished articles sort after every date: "published IS NULL, published DESC" as one key
_NO_DATE = -(2**63)
_CURSOR_VERSION = 1


def _quote(phrase: Phrase) -> str:
    return '"' + " ".join(t.replace('"', '""') for t in phrase.terms) + '"'


def compile_match(parsed: ParsedQuery) -> str | None:
    """The FTS5 MATCH expression for the positive part of a query (None when there is none).

    Built only from quoted stems joined by AND/OR/NOT, so no user character acts as FTS5 syntax.
    """
    if not parsed.groups:
        return None
    expr = " AND ".join(
        "(" + " OR ".join(_quote(f) for p in group for f in p.forms()) + ")" for group in parsed.groups
    )
    if parsed.excluded:
        expr = f"({expr}) NOT ({' OR '.join(_quote(f) for p in parsed.excluded for f in p.forms())})"
    return expr


def micros(dt: datetime) -> int:
    """Microseconds since the epoch: exact, and what the published column holds."""
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _in(column: str, values: Sequence[str], label: str) -> tuple[str, list[str]]:
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_FILTER_VALUES:
        raise InvalidQuery(f"too many {label} in the filter ({len(unique)} > {MAX_FILTER_VALUES})")
    return f"{column} IN ({', '.join('?' * len(unique))})", unique


def _driving_filter(query: SearchQuery) -> tuple[str, str, str] | None:
    """The side table to drive a text-less search from: a single entity, else a single topic."""
    entities, topics = set(query.entities), set(query.topics)
    if len(entities) == 1:
        return "article_entities", "entity_id", entities.pop()
    if not entities and len(topics) == 1:
        return "article_topics", "topic_id", topics.pop()
    return None


def matches_sql(query: SearchQuery, parsed: ParsedQuery, window: int) -> tuple[str, list[object]]:
    """SELECT (doc, published, score, source) of the `window` + 1 most recently indexed matches.

    All user values are bound parameters. FTS5 hands its matches over newest doc first and stops at
    the limit, so bm25 is computed for at most `window` + 1 of them rather than for every match (a
    word in half of a million articles cost 3 s). The extra row tells that the window is full.
    """
    where: list[str] = []
    params: list[object] = []
    match = compile_match(parsed)
    driver = None
    if match is not None:
        sql = (
            f"SELECT a.doc, a.published, -bm25(article_fts, {TITLE_WEIGHT}, {BODY_WEIGHT}), a.source "
            "FROM article_fts "
            "CROSS JOIN articles a INDEXED BY articles_match ON a.doc = article_fts.rowid"
        )
        newest_first = "article_fts.rowid DESC"
        where.append("article_fts MATCH ?")
        params.append(match)
    elif driver := _driving_filter(query):
        # one entity (or topic) and no text: walk its (id, doc) index newest first, which stops at
        # the window, instead of collecting every article that names it (6 vs 21 ms p50 at 300k)
        table, column, value = driver
        sql = (
            "SELECT a.doc, a.published, 0.0, a.source "
            f"FROM {table} d CROSS JOIN articles a INDEXED BY articles_match ON a.doc = d.doc"
        )
        newest_first = "d.doc DESC"
        where.append(f"d.{column} = ?")
        params.append(value)
    else:
        sql = "SELECT a.doc, a.published, 0.0, a.source FROM articles a"
        newest_first = "a.doc DESC"
    if match is None and parsed.excluded:  # exclusions alone: everything (filtered) but these
        where.append("a.doc NOT IN (SELECT rowid FROM article_fts WHERE article_fts MATCH ?)")
        params.append(" OR ".join(_quote(p) for p in parsed.excluded))
    for column, values, label in (
        ("a.source", query.sources, "sources"),
        ("a.language", query.languages, "languages"),
    ):
        if values:
            clause, bound = _in(column, values, label)
            where.append(clause)
            params.extend(bound)
    for table, column, values, label in (
        ("article_entities", "entity_id", query.entities, "entities"),
        ("article_topics", "topic_id", query.topics, "topics"),
    ):
        if values and not (driver and driver[0] == table):
            clause, bound = _in(column, values, label)
            where.append(f"a.doc IN (SELECT doc FROM {table} WHERE {clause})")
            params.extend(bound)
    if query.since is not None:
        where.append("a.published >= ?")
        params.append(micros(query.since))
    if query.until is not None:
        where.append("a.published <= ?")
        params.append(micros(query.until))
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {newest_first} LIMIT ?"
    params.append(window + 1)
    return sql, params


def facets(conn: sqlite3.Connection, size: int) -> Facets:
    """Facet counts over the whole `temp.matches` set (the window of matches).

    The matches drive the joins (CROSS JOIN fixes SQLite's loop order): left to itself, the planner
    walks the whole entity index to get its groups in order and probes the matches for each row,
    which made the entity facet cost the size of the index (0.6 s at 100k articles) instead of the
    number of matches (measured 11-25x faster). Sources were copied into the matches when found.
    Entity names are looked up for the top groups only (the newest name), not carried through the
    grouping (25% of the facet's time).
    """

    def counts(sql: str) -> list[dict[str, object]]:
        return [{"value": v, "label": label, "count": n} for v, label, n in conn.execute(sql, (size,))]

    return Facets.model_validate(
        {
            "entities": counts(
                """SELECT g.entity_id,
                          (SELECT x.name FROM article_entities x WHERE x.entity_id = g.entity_id
                           ORDER BY x.doc DESC LIMIT 1),
                          g.n
                   FROM (SELECT e.entity_id, COUNT(*) AS n
                         FROM temp.matches m CROSS JOIN article_entities e ON e.doc = m.doc
                         GROUP BY e.entity_id ORDER BY n DESC, e.entity_id LIMIT ?) g
                   ORDER BY g.n DESC, g.entity_id"""
            ),
            "topics": counts(
                """SELECT t.topic_id, '', COUNT(*) AS n
                   FROM temp.matches m CROSS JOIN article_topics t ON t.doc = m.doc
                   GROUP BY t.topic_id ORDER BY n DESC, t.topic_id LIMIT ?"""
            ),
            "sources": counts(
                """SELECT m.source, '', COUNT(*) AS n FROM temp.matches m
                   GROUP BY m.source ORDER BY n DESC, m.source LIMIT ?"""
            ),
            # whole seconds, floored in integers: date() would round 23:59:59.9996 up to the next day
            "days": counts(
                """SELECT date((m.published - ((m.published % 1000000) + 1000000) % 1000000) / 1000000,
                               'unixepoch') AS day, '', COUNT(*) FROM temp.matches m
                   WHERE m.published IS NOT NULL GROUP BY day ORDER BY day DESC LIMIT ?"""
            ),
        }
    )


def scan_sql(
    lo: int | None, hi: int | None, after: tuple[int, int] | None, size: int
) -> tuple[str, list[int]]:
    """One page of a timeline scan: keyset pagination on (at, doc), an index range at any depth."""
    where: list[str] = []
    params: list[int] = []
    # the cursor alone is the lower bound once there is one: beside `at >= lo`, SQLite would seek
    # from `lo` and filter up to the cursor, making every page slower than the last
    if after is not None:
        where.append("(at, doc) > (?, ?)")
        params.extend(after)
    elif lo is not None:
        where.append("at >= ?")
        params.append(lo)
    if hi is not None:
        where.append("at < ?")
        params.append(hi)
    sql = "SELECT at, doc, data FROM articles"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY at, doc LIMIT ?", [*params, size]


def _fingerprint(query: SearchQuery) -> str:
    """What a cursor is bound to: text, filters and sort (not the page, size or facets)."""
    fields = query.model_dump(mode="json", exclude={"page", "size", "after", "facets", "facet_size"})
    return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode(), digest_size=8).hexdigest()


def encode_cursor(query: SearchQuery, key: Sequence[float | int]) -> str:
    """An opaque cursor: the sort key of the last hit shown, bound to this query."""
    payload = {"v": _CURSOR_VERSION, "b": "sqlite", "q": _fingerprint(query), "k": list(key)}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(query: SearchQuery, cursor: str, width: int) -> tuple[float | int, ...]:
    """The sort key in a cursor made by `encode_cursor` for the same query; InvalidQuery otherwise."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = payload["k"]
        valid = (
            payload["v"] == _CURSOR_VERSION
            and payload["b"] == "sqlite"
            and isinstance(key, list)
            and len(key) == width
            and all(isinstance(k, int | float) and not isinstance(k, bool) for k in key)
            and all(-(2**63) <= k < 2**63 for k in key if isinstance(k, int))  # SQLite's integers
            and isinstance(payload["q"], str)
        )
    except (ValueError, TypeError, KeyError, binascii.Error):
        valid = False
    if not valid:
        raise InvalidQuery("the cursor is malformed or was made by another search backend")
    if payload["q"] != _fingerprint(query):
        raise InvalidQuery("the cursor belongs to another query (text, filters or sort changed)")
    return tuple(key)


def page_sql(query: SearchQuery, *, by_score: bool) -> tuple[str, list[object], int]:
    """One page of `temp.matches` in result order, from a page number or after a cursor.

    Returns the SQL, its parameters and the width of the sort key each row starts with: (score,
    date, doc) by relevance, (date, doc) newest first, where an unpublished article's date sorts
    last; the score and the article's JSON follow. One row more than the page size is read, to tell
    whether there is a next page. The page is cut from the matches before the articles are joined,
    so only its rows' JSON is read (joining first read every match's row: 10x slower at 20k matches).
    """
    dated = f"COALESCE(published, {_NO_DATE})"
    columns = ["score", dated, "doc"] if by_score else [dated, "doc"]
    keys = [f"k{i}" for i in range(len(columns))]
    params: list[object] = []
    inner = f"SELECT {', '.join(f'{c} AS {k}' for c, k in zip(columns, keys, strict=True))}, doc, score"
    inner += " FROM temp.matches"
    offset = (query.page - 1) * query.size
    if query.after is not None:
        # every column sorts descending, so "after the cursor" is one row-value comparison
        inner += f" WHERE ({', '.join(columns)}) < ({', '.join('?' * len(columns))})"
        params.extend(decode_cursor(query, query.after, len(columns)))
        offset = 0
    order = ", ".join(f"{k} DESC" for k in keys)
    inner += f" ORDER BY {order} LIMIT ? OFFSET ?"
    params.extend([query.size + 1, offset])
    sql = (
        f"SELECT {', '.join(f'm.{k}' for k in keys)}, m.score, a.data FROM ({inner}) m "
        f"JOIN articles a ON a.doc = m.doc ORDER BY {order}"
    )
    return sql, params, len(columns)
