"""`rasd reindex`: make the index's terms again after the entity registry (or the analyzer) changed."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pipeline.enrich.registry import load_registry
from pipeline.search import connected
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
        "stopped. Restart the workers with the new configuration first.",
    )
    p.add_argument("--check", action="store_true", help=f"only count stale articles (exit {STALE} if any)")
    p.add_argument("--batch", type=int, default=500, help="articles per transaction (default 500)")


def run_reindex(settings: Settings, args: argparse.Namespace) -> int:
    registry = load_registry(settings.entities_dir)

    async def go() -> int:
        async with connected(settings, registry.analyzer) as backend:
            stale = await backend.stale_analysis()
            if args.check or not stale:
                print(f"{stale} of {await backend.count()} indexed articles need re-analysing")
                return STALE if stale else 0
            done = 0
            async for done in backend.reanalyse(batch_size=args.batch):
                print(f"re-analysed {done} of {stale}", file=sys.stderr, flush=True)
            print(f"re-analysed {done} articles; the index is current")
            return 0

    return asyncio.run(go())
