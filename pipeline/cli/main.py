"""Entry point of the `rasd` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from pipeline.cli import (
    alerts,
    api,
    dlq,
    enrich,
    evaluate,
    ingest,
    reindex,
    run,
    search,
    topics,
    train,
    watch,
    worker,
)
from pipeline.cli.common import configure_logging, fail, load_settings
from pipeline.errors import PipelineError
from pipeline.settings import Settings

__all__ = ["main", "parse_args"]

Command = Callable[[Settings, argparse.Namespace], int]

_COMMANDS: dict[str, Command] = {
    "run": run.run_main,
    "worker": worker.run_worker,
    "ingest": ingest.run_ingest,
    "search": search.run_search,
    "reindex": reindex.run_reindex,
    "alerts": alerts.run_alerts,
    "watch": watch.run_watch,
    "enrich": enrich.run_enrich,
    "train": train.run_train,
    "eval": evaluate.run_eval,
    "topics": topics.run_topics,
    "dlq": dlq.run_dlq,
    "api": api.run_api,
}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rasd", description="Rasd: streaming monitor for Arabic news")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (
        run,
        worker,
        ingest,
        search,
        reindex,
        alerts,
        watch,
        dlq,
        enrich,
        train,
        evaluate,
        topics,
        api,
    ):
        module.add_parser(sub)
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        return _COMMANDS[args.command](settings, args)
    except PipelineError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `rasd search … | head`: the reader left; exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the data dir is a file, a disk is full ...: one line, not a traceback
        return fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))


if __name__ == "__main__":
    sys.exit(main())
