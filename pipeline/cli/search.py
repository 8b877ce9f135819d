"""`rasd search`: ranked hits with highlights, from the configured search backend."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from datetime import UTC, datetime, time
from urllib.parse import unquote

from pydantic import ValidationError

from pipeline.enrich.registry import load_registry
from pipeline.enrich.topics import load_topics
from pipeline.errors import ConfigError, InvalidQuery
from pipeline.search import connected
from pipeline.search.base import HIGHLIGHT_POST, HIGHLIGHT_PRE, SearchQuery, SearchResult
from pipeline.settings import Settings
from pipeline.text.normalise import unify_digits

__all__ = ["add_parser", "run_search"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("search", help="search indexed articles")
    p.add_argument("text", nargs="?", default="", help='words, "phrases", -excluded, OR')
    p.add_argument(
        "--entity", action="append", default=[], help="canonical id or any known name (repeatable)"
    )
    p.add_argument("--topic", action="append", default=[])
    p.add_argument("--source", action="append", default=[])
    p.add_argument("--language", action="append", default=[])
    p.add_argument("--since", type=_date, help="YYYY-MM-DD (UTC)")
    p.add_argument("--until", type=_until, help="YYYY-MM-DD (UTC), that day included")
    p.add_argument("--sort", choices=["relevance", "newest"], default="relevance")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--size", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _date(value: str) -> datetime:
    """An ISO date or date-time, in Western or Eastern Arabic digits (as the API takes it)."""
    value = unify_digits(value.strip())
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # an offset given is kept


def _until(value: str) -> datetime:
    """A bare date means the last instant of that day, as the API's `until` does."""
    moment = _date(value)
    return datetime.combine(moment.date(), time.max, tzinfo=UTC) if len(value.strip()) == 10 else moment


def _render_highlight(fragment: str, tty: bool) -> str:
    import html

    on, off = ("\033[1;7m", "\033[0m") if tty else ("**", "**")
    return (
        html.unescape(fragment.replace(HIGHLIGHT_PRE, "\x00").replace(HIGHLIGHT_POST, "\x01"))
        .replace("\x00", on)
        .replace("\x01", off)
    )


def format_result(result: SearchResult, tty: bool = False) -> str:
    """Human-readable hits: title, source, date, url, highlighted fragments, then facets."""
    lines = [f"{result.total}{'+' if result.total_relation == 'gte' else ''} article(s)"]
    for n, hit in enumerate(result.hits, 1):
        a = hit.article
        title = _render_highlight(hit.highlights["title"][0], tty) if hit.highlights.get("title") else a.title
        when = a.published.strftime("%Y-%m-%d %H:%M") if a.published else "-"
        lines.append(f"\n{n}. {title}")
        lines.append(f"   {a.source} · {when} · {unquote(a.url) if a.url else a.id}")
        shown: set[str] = set()
        for field in ("summary", "body"):
            for frag in hit.highlights.get(field, [])[:2]:
                if frag not in shown:  # feeds often repeat the summary as the first paragraph
                    shown.add(frag)
                    lines.append(f"   … {_render_highlight(frag, tty)}")
        mentions = Counter((m.canonical_name, m.canonical_id) for m in a.entities)
        if mentions:
            top = [f"{name} ({eid})" for (name, eid), _ in mentions.most_common(10)]
            lines.append("   entities: " + ", ".join(top))
        if a.topics:
            lines.append("   topics: " + ", ".join(t.id for t in a.topics))
    f = result.facets
    for label, counts in (("entities", f.entities), ("topics", f.topics), ("sources", f.sources)):
        if counts:
            lines.append(f"\n{label}: " + ", ".join(f"{c.label or c.value} ({c.count})" for c in counts))
    return "\n".join(lines)


def _describe(exc: ValidationError) -> str:
    """One line naming each bad option (`--page: Input should be greater than or equal to 1`)."""
    problems = []
    for e in exc.errors():
        msg = str(e["msg"]).removeprefix("Value error, ")
        loc = ".".join(str(p) for p in e["loc"])
        flag = loc if loc in ("", "text") else f"--{loc}"  # the query text is no option
        problems.append(f"{flag}: {msg}" if flag else msg)
    return "; ".join(problems)


def run_search(settings: Settings, args: argparse.Namespace) -> int:
    registry = load_registry(settings.entities_dir)
    entity_ids = []
    for name in args.entity:
        ent = registry.resolve(name)
        if ent is None and not name.startswith("u:"):  # ids of names the registry lacks pass, as in the API
            raise ConfigError(f"--entity: unknown entity {name!r}")
        entity_ids.append(ent.id if ent is not None else name)
    known_topics = {t.id for t in load_topics(settings.topics_file)}
    unknown = [t for t in args.topic if t not in known_topics]
    if unknown:
        raise ConfigError(f"--topic: unknown topic(s) {unknown}; known: {sorted(known_topics)}")
    try:
        query = SearchQuery(
            text=args.text,
            entities=entity_ids,
            topics=args.topic,
            sources=args.source,
            languages=args.language,
            since=args.since,
            until=args.until,
            sort=args.sort,
            page=args.page,
            size=args.size,
        )
    except ValidationError as exc:
        raise InvalidQuery(_describe(exc)) from exc

    async def go() -> SearchResult:
        async with connected(settings, registry.analyzer, writer=False) as backend:
            return await backend.search(query)

    result = asyncio.run(go())
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print(format_result(result, tty=sys.stdout.isatty()))
    return 0 if result.total else 3
