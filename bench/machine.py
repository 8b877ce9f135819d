"""What a benchmark ran on, with a speed probe taken beside it.

The project's VM is shared: the same code measured 2x apart on different days and 1.6x apart within
minutes, so figures across runs mean little without a note of how fast the machine was. Each result
carries the time of a fixed pure-Python loop taken before and after the run.
"""

from __future__ import annotations

import os
import platform
import time

LOOP = 10_000_000


def loop_seconds(n: int = LOOP) -> float:
    """Seconds this interpreter takes for `n` additions in a plain loop (one core, no memory)."""
    started = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - started


def describe(loop_before_s: float) -> dict[str, object]:
    """The machine block of a result file; times the probe loop again, after the run, and prints both."""
    after = loop_seconds()
    print(f"speed probe: {LOOP:,}-iteration loop {loop_before_s:.2f} s before, {after:.2f} s after")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "loop_10m_s_before": round(loop_before_s, 3),
        "loop_10m_s_after": round(after, 3),
    }
