"""`rasd ingest`: poll the configured feeds once, or replay local feed files (`--from-files`).

Every feed or file that failed (unreachable, unusable path, publish refused) is printed on stderr, one
line each, and the exit status is 1, so a script or a cron job can tell a failed round from a quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from connectors.produce import Publisher
from connectors.replay import ReplayReport
from connectors.rss import PollReport
from pipeline.cli.common import resolve_bootstrap
from pipeline.config import FeedConfig, load_feeds
from pipeline.settings import Settings

__all__ = ["add_parser", "feed_failures", "file_failures", "run_ingest"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest",
        help="publish new articles to articles.raw, short ones to articles.fulltext (poll once, or replay)",
    )
    p.add_argument(
        "--from-files",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="feed files or directories (source id = parent directory name)",
    )
    p.add_argument(
        "--forever",
        action="store_true",
        help="keep polling, each feed on its own schedule (interval, Cache-Control, back-off), until "
        "SIGTERM/SIGINT: the connector of a cluster deployment",
    )


def run_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from connectors import KafkaPublisher, poll_once, replay_paths
    from connectors.fulltext.route import FullTextRouter

    bootstrap = resolve_bootstrap(settings)
    if args.from_files:  # local files: no pages to fetch, straight to enrichment
        publisher: Publisher = KafkaPublisher(bootstrap, max_record_bytes=settings.max_record_bytes)
        try:
            rep = replay_paths(args.from_files, publisher=publisher, settings=settings)
            print(f"replayed: published={rep.published}")
        finally:
            publisher.close()
        return _report_failures(file_failures(rep))
    feeds = [f for f in load_feeds(settings.feeds_file) if f.enabled]
    # short items go to articles.fulltext first, to be completed with their page's text
    publisher = FullTextRouter.kafka(bootstrap, feeds=feeds, settings=settings)
    try:
        if args.forever:
            asyncio.run(_forever(feeds, settings, publisher))
            return 0
        report = asyncio.run(poll_once(feeds, settings=settings, publisher=publisher))
        print(f"polled {len(feeds)} feeds: published={report.published} failed={report.failed}")
    finally:
        publisher.close()
    return _report_failures(feed_failures(report))


def file_failures(report: ReplayReport) -> list[str]:
    """One line per file that was skipped or could not be published."""
    return [f"{f.path}: {f.error}" for f in report.files if f.error is not None]


def feed_failures(report: PollReport) -> list[str]:
    """One line per feed whose poll failed (fetch, parse or publish)."""
    return [f"feed {o.feed_id}: {o.error or 'failed'}" for o in report.outcomes if o.status == "failed"]


def _report_failures(lines: list[str]) -> int:
    for line in lines:
        print(f"Error: {line}", file=sys.stderr)
    return 1 if lines else 0


async def _forever(feeds: list[FeedConfig], settings: Settings, publisher: Publisher) -> None:
    """`run_forever` until SIGTERM or SIGINT; the round in progress finishes and state is saved."""
    from connectors import run_forever

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"polling {len(feeds)} feeds until stopped", flush=True)
    await run_forever(feeds, settings, publisher, stop)
