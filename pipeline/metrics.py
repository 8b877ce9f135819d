"""Process metrics shared through the data dir: each process writes a snapshot, the API sums them.

The connector, the workers and the API are separate processes (several workers in a cluster), so an
in-memory registry in the API would see none of the pipeline's work. Each process keeps a
`MetricsRecorder` and writes it atomically to `<data_dir>/metrics/<role>-<host>-<pid>.json` every few
seconds; `collect` sums every snapshot and `render_prometheus` prints the Prometheus text format.
Counters are cumulative per process (a restarted process starts again from zero, as Prometheus
counters do); snapshots of processes gone for longer than `stale_after_s` are left out.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LATENCY_BUCKETS",
    "Histogram",
    "MetricsRecorder",
    "MetricsSnapshot",
    "collect",
    "parse_snapshot",
    "render_prometheus",
]

log = logging.getLogger("rasd.metrics")

# seconds from an article's fetch to a pipeline step; news monitoring cares about seconds to minutes
LATENCY_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

# counter name → help text; the names the pipeline's processes record
COUNTERS: dict[str, str] = {
    "feeds_polled": "feed polls attempted by the connector",
    "feeds_failed": "feed polls that failed",
    "articles_fetched": "feed entries parsed by the connector",
    "articles_published": "new articles the connector published to articles.raw",
    "articles_enriched": "articles enriched by the workers",
    "articles_indexed": "articles written to the search backend",
    "articles_checked": "enriched articles matched against the watches",
    "alerts_fired": "new alerts recorded",
    "dead_letters": "messages parked on articles.dlq",
    "dead_letters_lost": "failed messages whose dead letter the broker refused too (logged only)",
}
HISTOGRAMS: dict[str, str] = {
    "indexed_latency_seconds": "time from fetch to searchable",
    "alert_latency_seconds": "time from fetch to alert recorded",
}


@dataclass
class Histogram:
    """Cumulative-bucket histogram in the Prometheus sense (counts per upper bound, plus +Inf)."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.buckets):
            self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        value = max(0.0, value)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.sum += value
        self.count += 1

    def merge(self, other: Histogram) -> None:
        if other.buckets != self.buckets:
            raise ValueError("cannot merge histograms with different buckets")
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.sum += other.sum
        self.count += other.count

    def to_json(self) -> dict[str, object]:
        return {"buckets": list(self.buckets), "counts": self.counts, "sum": self.sum, "count": self.count}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Histogram:
        buckets = tuple(float(b) for b in data["buckets"])
        counts = [int(c) for c in data["counts"]]
        return cls(buckets, counts, float(data["sum"]), int(data["count"]))


@dataclass
class MetricsSnapshot:
    """Counters and histograms of one process, or the sum over processes (`processes` > 1)."""

    counters: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    processes: int = 1
    roles: dict[str, int] = field(default_factory=dict)  # role → live processes

    def add(self, other: MetricsSnapshot) -> None:
        for name, value in other.counters.items():
            self.counters[name] = self.counters.get(name, 0) + value
        for name, hist in other.histograms.items():
            mine = self.histograms.get(name)
            if mine is None:
                self.histograms[name] = Histogram(hist.buckets, list(hist.counts), hist.sum, hist.count)
            else:
                mine.merge(hist)
        self.processes += other.processes
        for role, n in other.roles.items():
            self.roles[role] = self.roles.get(role, 0) + n


class MetricsRecorder:
    """One process's metrics, written to the data dir by `flush` (call it from a timer)."""

    def __init__(self, data_dir: Path, role: str) -> None:
        self.role = role
        self.path = data_dir / "metrics" / f"{role}-{socket.gethostname()}-{os.getpid()}.json"
        self.snapshot = MetricsSnapshot(roles={role: 1})

    def inc(self, name: str, n: int = 1) -> None:
        self.snapshot.counters[name] = self.snapshot.counters.get(name, 0) + n

    def set(self, name: str, value: int) -> None:
        """Set a cumulative counter the process already keeps elsewhere (e.g. the worker's Counters)."""
        self.snapshot.counters[name] = value

    def observe(self, name: str, seconds: float) -> None:
        hist = self.snapshot.histograms.get(name)
        if hist is None:
            hist = self.snapshot.histograms[name] = Histogram()
        hist.observe(seconds)

    def flush(self) -> None:
        """Write the snapshot atomically (readers never see half a file); errors are the caller's."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "role": self.role,
            "pid": os.getpid(),
            "written": time.time(),
            "counters": self.snapshot.counters,
            "histograms": {k: h.to_json() for k, h in self.snapshot.histograms.items()},
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, self.path)


def _count(value: object) -> int:
    """A non-negative whole number from JSON (bool, float and strings are another writer's bug)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a count: {value!r}")
    return value


def _histogram(data: object) -> Histogram:
    """A histogram this version can sum: the standard buckets, one count each, a finite sum."""
    if not isinstance(data, dict):
        raise ValueError("histogram is not an object")
    hist = Histogram.from_json(data)
    counts = [_count(c) for c in data["counts"]]
    if hist.buckets != LATENCY_BUCKETS or len(counts) != len(hist.buckets):
        raise ValueError("histogram buckets differ from this version's")
    if not math.isfinite(hist.sum) or hist.sum < 0:
        raise ValueError(f"histogram sum {hist.sum!r}")
    return Histogram(hist.buckets, counts, hist.sum, _count(data["count"]))


def parse_snapshot(data: object, now: float, stale_after_s: float) -> MetricsSnapshot | None:
    """One process's snapshot from its JSON (None when stale); ValueError when it is not one this
    version can add up, so one odd file never breaks the sum of the others."""
    if not isinstance(data, dict):
        raise ValueError("snapshot is not an object")
    written = float(data["written"])
    if not math.isfinite(written):
        raise ValueError("bad time stamp")
    if now - written > stale_after_s:
        return None
    counters, histograms = data["counters"], data["histograms"]
    if not isinstance(counters, dict) or not isinstance(histograms, dict):
        raise ValueError("counters and histograms must be objects")
    return MetricsSnapshot(
        counters={str(k): _count(v) for k, v in counters.items()},
        histograms={str(k): _histogram(v) for k, v in histograms.items()},
        roles={str(data["role"]): 1},
    )


def _read(path: Path, now: float, stale_after_s: float) -> MetricsSnapshot | None:
    try:
        return parse_snapshot(json.loads(path.read_text(encoding="utf-8")), now, stale_after_s)
    except (OSError, ValueError, KeyError, TypeError, OverflowError) as exc:
        # a file being replaced, from another version, or damaged: skip it this time
        log.debug("metrics snapshot %s skipped: %s", path, exc)
        return None


def collect(data_dir: Path, *, stale_after_s: float = 3600.0, now: float | None = None) -> MetricsSnapshot:
    """The sum of every process's recent, readable snapshot under `<data_dir>/metrics/`."""
    total = MetricsSnapshot(processes=0)
    folder = data_dir / "metrics"
    when = time.time() if now is None else now
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        snap = _read(path, when, stale_after_s)
        if snap is not None:
            total.add(snap)
    return total


def _fmt(value: float) -> str:
    """A sample value in the exposition format (which spells the non-finite ones +Inf, -Inf, NaN)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value) if value != int(value) else str(int(value))


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in pairs)
    return f"{{{inner}}}" if inner else ""


def render_prometheus(snapshot: MetricsSnapshot, extra: Mapping[str, float] | None = None) -> str:
    """Prometheus text exposition (version 0.0.4) of a snapshot, plus `extra` gauges (e.g. lag)."""
    lines: list[str] = []
    for name, help_text in COUNTERS.items():
        metric = f"rasd_{name}_total"
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
        lines.append(f"{metric} {snapshot.counters.get(name, 0)}")
    for name, help_text in HISTOGRAMS.items():
        metric = f"rasd_{name}"
        hist = snapshot.histograms.get(name, Histogram())
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} histogram"]
        for bound, count in zip(hist.buckets, hist.counts, strict=True):
            lines.append(f"{metric}_bucket{_labels([('le', _fmt(bound))])} {count}")
        lines.append(f'{metric}_bucket{{le="+Inf"}} {hist.count}')
        lines.append(f"{metric}_sum {_fmt(hist.sum)}")
        lines.append(f"{metric}_count {hist.count}")
    lines += ["# HELP rasd_processes processes reporting metrics, by role", "# TYPE rasd_processes gauge"]
    for role, n in sorted(snapshot.roles.items()):
        lines.append(f"rasd_processes{_labels([('role', role)])} {n}")
    for name, value in sorted((extra or {}).items()):
        lines += [f"# TYPE rasd_{name} gauge", f"rasd_{name} {_fmt(value)}"]
    return "\n".join(lines) + "\n"
