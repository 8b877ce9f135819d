"""`rasd reindex`: make the index's terms again after the entity registry (or the analyzer) changed,
and with `--enrich` its articles' entities, topics and keywords too."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pipeline.enrich.enricher import load_enricher
from pipeline.enrich.refresh import reenrich
from pipeline.enrich.registry import load_registry
from pipeline.search import connected
from pipeline.search.base import SearchBackend
from pipeline.settings import Settings

__all__ = ["add_parser", "run_reindex"]

STALE = 3  # `--check`: some articles need re-analysing


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reindex",
        help="re-analyse indexed articles whose terms an older entity registry or analyzer made",
        description="Protected names decide how words are cut (لبنان is not ل + بنان), so after an edit "
        "of config/entities/ the stored terms of older articles may differ from what queries produce. "
        "This re-analyses them from their stored text; an interrupted run (SQLite) goes on where it "
        "stopped. With --enrich, every article is then enriched again with today's configuration "
        "(entities, topics, keywords), so a newly listed entity or spelling finds past coverage too; "
        "only the articles whose enrichment changed are written, and no alert is sent. Restart the "
        "workers with the new configuration first.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help=f"only count stale articles (exit {STALE} if any)")
    mode.add_argument(
        "--enrich", action="store_true", help="also enrich every article again (slower: ~the enrichment rate)"
    )
    p.add_argument("--batch", type=int, default=500, help="articles per transaction (default 500)")


async def _reanalyse(backend: SearchBackend, check: bool, batch: int) -> int:
    stale = await backend.stale_analysis()
    if check or not stale:
        print(f"{stale} of {await backend.count()} indexed articles need re-analysing")
        return STALE if stale and check else 0
    done = 0
    async for done in backend.reanalyse(batch_size=batch):
        print(f"re-analysed {done} of {stale}", file=sys.stderr, flush=True)
    print(f"re-analysed {done} articles; the index is current")
    return 0


def run_reindex(settings: Settings, args: argparse.Namespace) -> int:
    if args.batch < 1:
        print(f"error: --batch must be at least 1, not {args.batch}", file=sys.stderr)
        return 2
    enricher = load_enricher(settings) if args.enrich else None
    analyzer = enricher.analyzer if enricher else load_registry(settings.entities_dir).analyzer

    async def go() -> int:
        async with connected(settings, analyzer) as backend:
            status = await _reanalyse(backend, args.check, args.batch)
            if enricher is None:
                return status
            total = await backend.count()
            seen = rewritten = failed = 0
            async for progress in reenrich(backend, enricher, batch_size=args.batch):
                seen, rewritten, failed = progress.seen, progress.rewritten, progress.failed
                print(f"re-enriched {seen} of {total}, {rewritten} changed", file=sys.stderr, flush=True)
            print(f"re-enriched {seen} articles: {rewritten} written with a new enrichment")
            if failed:
                print(f"error: {failed} articles could not be written (see the log)", file=sys.stderr)
                return 1
            return 0

    return asyncio.run(go())
