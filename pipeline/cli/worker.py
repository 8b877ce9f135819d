"""`rasd worker`: one Faust worker running the enrich, index and alert agents."""

from __future__ import annotations

import argparse

from pipeline.app import create_app
from pipeline.broker import wait_for_broker
from pipeline.cli.common import resolve_bootstrap
from pipeline.heap import settle_heap
from pipeline.runtime import Runtime
from pipeline.settings import Settings

__all__ = ["add_parser", "run_worker"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("worker", help="run a Faust worker (full text, enrich, index, alert and surge agents)")


def run_worker(settings: Settings, args: argparse.Namespace) -> int:
    from faust.worker import Worker

    bootstrap = resolve_bootstrap(settings)
    # configuration first: a broken registry is reported at once, not after the broker wait
    runtime = Runtime.load(settings)
    wait_for_broker(bootstrap, timeout_s=settings.broker_wait_s)
    app = create_app(settings, runtime, bootstrap)
    settle_heap()  # after the models and caches are loaded: they are the long-lived part
    level = {"warn": "warn", "error": "error", "debug": "debug"}.get(settings.log_level, "info")
    worker = Worker(app, loglevel=level, quiet=True, redirect_stdouts=False, override_logging=False)
    worker.spinner = None  # terminal spinner escapes would garble logs and `rasd run` output
    worker.execute_from_commandline()  # blocks until SIGINT/SIGTERM
    return 0
