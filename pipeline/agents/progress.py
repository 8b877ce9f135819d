"""Progress timer: the worker logs its counters when they change, so `rasd run` shows the stream moving."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pipeline.runtime import Runtime

if TYPE_CHECKING:
    import faust

__all__ = ["register"]

log = logging.getLogger("rasd.progress")


def register(app: faust.App, runtime: Runtime) -> None:
    """Declare the progress timer on `app`."""
    last = [""]

    @app.timer(interval=2.0)  # type: ignore[untyped-decorator]
    async def report_progress() -> None:
        runtime.flush_metrics()
        line = runtime.counters.line()
        if line != last[0]:
            last[0] = line
            log.info("progress %s", line)
