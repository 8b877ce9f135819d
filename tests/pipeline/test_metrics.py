"""Metrics shared through the data dir: per-process snapshots, summed, in Prometheus text format."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from connectors.rss import PollOutcome, PollReport, _record_metrics
from pipeline.metrics import (
    LATENCY_BUCKETS,
    Histogram,
    MetricsRecorder,
    MetricsSnapshot,
    collect,
    render_prometheus,
)
from pipeline.settings import Settings


def test_histogram_buckets_are_cumulative() -> None:
    h = Histogram((1.0, 5.0))
    for v in (0.5, 2.0, 7.0, -1.0):
        h.observe(v)
    assert h.counts == [2, 3] and h.count == 4 and h.sum == pytest.approx(9.5)


def test_snapshots_of_several_processes_are_summed(tmp_path: Path) -> None:
    a = MetricsRecorder(tmp_path, "worker")
    b = MetricsRecorder(tmp_path, "worker")
    b.path = b.path.with_name("worker-other-host-1.json")  # a second worker process
    a.set("articles_indexed", 10)
    b.set("articles_indexed", 5)
    a.observe("indexed_latency_seconds", 0.3)
    b.observe("indexed_latency_seconds", 3.0)
    a.flush()
    b.flush()
    total = collect(tmp_path)
    assert total.counters["articles_indexed"] == 15 and total.roles == {"worker": 2}
    hist = total.histograms["indexed_latency_seconds"]
    assert hist.count == 2 and hist.sum == pytest.approx(3.3)


def test_stale_and_broken_snapshots_are_left_out(tmp_path: Path) -> None:
    rec = MetricsRecorder(tmp_path, "connector")
    rec.inc("articles_published", 3)
    rec.flush()
    (tmp_path / "metrics" / "garbage.json").write_text("{not json", encoding="utf-8")
    assert collect(tmp_path).counters == {"articles_published": 3}
    assert collect(tmp_path, now=time.time() + 7200).counters == {}


def test_prometheus_text_format(tmp_path: Path) -> None:
    rec = MetricsRecorder(tmp_path, "worker")
    rec.set("articles_enriched", 7)
    rec.observe("alert_latency_seconds", 0.2)
    rec.flush()
    text = render_prometheus(collect(tmp_path), {"consumer_lag": 12.0})
    assert "# TYPE rasd_articles_enriched_total counter\nrasd_articles_enriched_total 7\n" in text
    assert 'rasd_alert_latency_seconds_bucket{le="0.25"} 1' in text
    assert 'rasd_alert_latency_seconds_bucket{le="+Inf"} 1' in text
    assert "rasd_alert_latency_seconds_count 1" in text and "rasd_consumer_lag 12" in text
    sample = re.compile(r'^[a-z_]+(\{[a-z]+="[^"]*"\})? -?[0-9.e+]+$')
    for line in text.splitlines():
        assert line.startswith("# ") or sample.match(line), line


def test_connector_rounds_add_to_its_snapshot(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    report = PollReport([PollOutcome("a", "ok", entries=4, published=2), PollOutcome("b", "failed")])
    _record_metrics(report, settings)
    _record_metrics(report, settings)
    [path] = (tmp_path / "metrics").glob("connector-*.json")
    counters = json.loads(path.read_text(encoding="utf-8"))["counters"]
    assert counters == {"feeds_polled": 4, "feeds_failed": 2, "articles_fetched": 8, "articles_published": 4}


def _odd(tmp_path: Path, name: str, **changes: object) -> None:
    body: dict[str, object] = {
        "role": "worker",
        "written": time.time(),
        "counters": {"articles_indexed": 1},
        "histograms": {
            "indexed_latency_seconds": {"buckets": [1.0, 5.0], "counts": [1, 1], "sum": 0.5, "count": 1}
        },
    }
    (tmp_path / "metrics" / name).write_text(json.dumps({**body, **changes}), encoding="utf-8")


def test_one_odd_snapshot_never_breaks_the_scrape(tmp_path: Path) -> None:
    """Other buckets (a rolling upgrade), a non-finite sum, counters of the wrong shape: each file is
    checked on its own and skipped, and the healthy ones are still summed and rendered."""
    good = MetricsRecorder(tmp_path, "worker")
    good.set("articles_indexed", 5)
    good.observe("indexed_latency_seconds", 0.4)
    good.flush()
    inf_hist = {"buckets": list(LATENCY_BUCKETS), "counts": [0] * 11, "sum": float("inf"), "count": 1}
    _odd(tmp_path, "worker-a-1.json")  # other buckets
    _odd(tmp_path, "worker-b-2.json", histograms={"alert_latency_seconds": inf_hist})
    _odd(tmp_path, "worker-c-3.json", counters=[])
    _odd(tmp_path, "worker-d-4.json", counters={"articles_indexed": 1e400})
    total = collect(tmp_path)
    assert total.counters == {"articles_indexed": 5} and total.roles == {"worker": 1}
    text = render_prometheus(total)
    assert "rasd_articles_indexed_total 5\n" in text and "rasd_indexed_latency_seconds_count 1\n" in text


def test_non_finite_gauges_use_the_exposition_spelling() -> None:
    text = render_prometheus(MetricsSnapshot(), {"consumer_lag": float("inf"), "dlq_messages": float("nan")})
    assert "rasd_consumer_lag +Inf\n" in text and "rasd_dlq_messages NaN\n" in text
