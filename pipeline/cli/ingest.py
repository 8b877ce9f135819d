"""`rasd ingest`: poll the configured feeds once, or replay local feed files (`--from-files`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from pipeline.cli.common import resolve_bootstrap
from pipeline.config import load_feeds
from pipeline.settings import Settings

__all__ = ["add_parser", "run_ingest"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ingest", help="publish new articles to articles.raw (poll once, or replay files)")
    p.add_argument(
        "--from-files",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="feed files or directories (source id = parent directory name)",
    )


def run_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from connectors import KafkaPublisher, poll_once, replay_paths

    publisher = KafkaPublisher(resolve_bootstrap(settings))
    try:
        if args.from_files:
            rep = replay_paths(args.from_files, publisher=publisher, settings=settings)
            print(f"replayed: published={rep.published}")
        else:
            feeds = [f for f in load_feeds(settings.feeds_file) if f.enabled]
            report = asyncio.run(poll_once(feeds, settings=settings, publisher=publisher))
            print(f"polled {len(feeds)} feeds: published={report.published} failed={report.failed}")
    finally:
        publisher.close()
    return 0
