"""End to end through the real (embedded Tansu) broker: sustained throughput from `articles.raw` to
searchable, latency produce → searchable and produce → alert, and the streaming overhead, with 1 and
2 workers.

    python bench/pipeline.py [--articles 2000] [--rate 0] [--workers 1,2] [--alert-every 4]
                             [--shared ../shared] [--out bench/results/pipeline.json]

Real ANT articles made into ~3 KB articles (as `bench/enrich.py` does; distinct ids); every
`--alert-every`-th one has a sentence naming بوتين appended, so the project's own `putin` watch fires
for it. They are enriched in-process first (`Enricher.enrich_many`, batches of 200: the in-process
rate), then, for each worker count, produced to `articles.raw` with kafka-python (all at once with
`--rate 0`, else at that rate) while a `rasd worker` subprocess (or two) enriches, indexes and
matches them against `config/watchlists.yaml` as shipped (no watches with `--alert-every 0`), into
a fresh SQLite index; the index is polled for the ids and the `alerts` topic is read for the `putin`
alerts. The headline is the streaming overhead ratio: end-to-end articles/s divided by the in-process
rate measured in the same run (target >= 0.8). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402
from enrich import build_articles  # noqa: E402
from kafka import KafkaConsumer  # noqa: E402

from connectors import KafkaPublisher  # noqa: E402
from pipeline.broker import EmbeddedBroker, ensure_topics, stop_process  # noqa: E402
from pipeline.enrich.enricher import load_enricher  # noqa: E402
from pipeline.heap import settle_heap  # noqa: E402
from pipeline.models import Article  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

WATCH = "putin"  # a watch in config/watchlists.yaml, on Q7747
PUTIN = " وقال الرئيس الروسي فلاديمير بوتين إن المحادثات مستمرة."


def _mark(articles: list[Article], every: int) -> set[str]:
    """Append the Putin sentence to every `every`-th article after the warm-up one; their ids."""
    marked: set[str] = set()
    for k in range(1, len(articles), every) if every > 0 else ():
        articles[k] = articles[k].model_copy(update={"body": articles[k].body + PUTIN})
        marked.add(articles[k].id)
    return marked


class _AlertReader:
    """Reads the `alerts` topic in a thread: first arrival time of each article's `putin` alert."""

    def __init__(self, bootstrap: str) -> None:
        self.received: dict[str, float] = {}
        self._consumer = KafkaConsumer(
            "alerts", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                now = time.time()
                for r in records:
                    alert = json.loads(r.value)
                    if alert.get("watch_id") == WATCH:
                        self.received.setdefault(alert["article_id"], now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def _percentiles(prefix: str, values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    nan = float("nan")
    return {
        f"{prefix}_p50_s": statistics.median(ordered) if ordered else nan,
        f"{prefix}_p95_s": ordered[int(0.95 * (len(ordered) - 1))] if ordered else nan,
        f"{prefix}_p99_s": ordered[int(0.99 * (len(ordered) - 1))] if ordered else nan,
    }


def _in_process_rate(articles: list[Article]) -> float:
    enricher = load_enricher(Settings(config_dir=ROOT / "config"))
    settle_heap()  # as `rasd worker` does after loading
    enricher.enrich_many(articles[:50])  # warm caches
    start = time.perf_counter()
    for k in range(0, len(articles), 200):
        enricher.enrich_many(articles[k : k + 200])
    return len(articles) / (time.perf_counter() - start)


def _indexed(index: Path, wanted: set[str], seen: dict[str, float]) -> None:
    if not index.exists():
        return
    try:
        db = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=1)
        try:
            rows = db.execute("SELECT id FROM articles").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return  # the index is being created or written: next poll
    now = time.time()
    for (article_id,) in rows:
        if article_id in wanted and article_id not in seen:
            seen[article_id] = now


def _run(
    articles: list[Article],
    marked: set[str],
    workers: int,
    rate: float,
    tmp: Path,
    stall_s: float,
    extra_env: dict[str, str],
) -> dict[str, float]:
    config = tmp / "config"
    if not config.exists():
        shutil.copytree(ROOT / "config", config)
        if not marked:  # no alert to wait for: no watch either (the pipeline without alerting)
            (config / "watchlists.yaml").write_text("watches: []\n", encoding="utf-8")
    data = tmp / f"data-{workers}"
    with EmbeddedBroker(log_path=tmp / f"tansu-{workers}.log") as broker:
        ensure_topics(broker.bootstrap, partitions=4, replication=1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RASD_")}
        env.update(
            RASD_KAFKA_BOOTSTRAP=broker.bootstrap,
            RASD_DATA_DIR=str(data),
            RASD_CONFIG_DIR=str(config),
            RASD_TOPIC_PARTITIONS="4",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra_env)
        logs = [(tmp / f"worker-{workers}-{n}.log").open("wb") for n in range(workers)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli.main", "worker"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
            for log in logs
        ]
        publisher = KafkaPublisher(broker.bootstrap)
        alerts = _AlertReader(broker.bootstrap)
        index = data / "index.sqlite3"
        seen: dict[str, float] = {}
        try:
            warm = articles[0]  # waits for the group join(s); not counted
            publisher.publish([warm])
            deadline = time.time() + 180
            while warm.id not in seen and time.time() < deadline:
                _indexed(index, {warm.id}, seen)
                time.sleep(0.2)
            if warm.id not in seen:
                raise RuntimeError(f"worker indexed nothing; see {logs[0].name}")
            time.sleep(8 if workers > 1 else 0)  # let the second worker's join settle
            body = articles[1:]
            wanted = {a.id for a in body}
            sent: dict[str, float] = {}
            start = time.time()
            # at a rate, 20 small sends a second, and the index is watched every 50 ms in between
            # (polling it only once per send made every latency a multiple of the send interval)
            step = 50 if rate <= 0 else max(1, round(rate / 20))
            for k in range(0, len(body), step):
                chunk = body[k : k + step]
                due = start + k / rate if rate > 0 else 0.0
                while (left := due - time.time()) > 0:
                    _indexed(index, wanted, seen)
                    time.sleep(min(left, 0.05))
                now = time.time()
                publisher.publish(chunk)
                sent.update((a.id, now) for a in chunk)
                _indexed(index, wanted, seen)
            deadline = time.time() + 600
            progress, last = 0, time.time()
            while time.time() < deadline and (
                len(seen) < len(wanted) + 1 or len(marked.intersection(alerts.received)) < len(marked)
            ):
                _indexed(index, wanted, seen)
                if len(seen) + len(alerts.received) > progress:
                    progress, last = len(seen) + len(alerts.received), time.time()
                elif time.time() - last > stall_s:  # a stalled worker (or an alert that never came)
                    print(f"  stalled: nothing indexed for {stall_s:.0f} s; logs in {tmp}", file=sys.stderr)
                    break
                time.sleep(0.05)
        finally:
            publisher.close()
            alerts.close()
            for proc in procs:
                stop_process(proc, timeout=20)
            for log in logs:
                log.close()
    done = [seen[i] for i in wanted if i in seen]
    alerted = [i for i in marked if i in alerts.received]
    elapsed = max(done) - start if done else float("nan")
    return {
        "workers": workers,
        "articles": len(wanted),
        "indexed": len(done),
        "marked": len(marked),
        "alerted": len(alerted),
        "articles_per_s": len(done) / elapsed if done else 0.0,
        **_percentiles("latency", [seen[i] - sent[i] for i in wanted if i in seen]),
        **_percentiles("alert_latency", [alerts.received[i] - sent[i] for i in alerted]),
    }


def main() -> int:
    loop_before = machine.loop_seconds()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=2000)
    p.add_argument("--rate", type=float, default=0.0, help="articles/s to produce; 0 = as fast as possible")
    p.add_argument("--workers", default="1,2")
    p.add_argument(
        "--alert-every", type=int, default=4, help="every N-th article names Putin (0: none, and no watches)"
    )
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pipeline.json")
    p.add_argument("--stall-s", type=float, default=90.0, help="give up after this long without progress")
    p.add_argument("--keep", action="store_true", help="keep the broker and worker logs (printed path)")
    p.add_argument(
        "--env", action="append", default=[], metavar="RASD_X=V", help="a worker setting (repeatable)"
    )
    args = p.parse_args()

    articles = build_articles(args.shared / "data" / "topics" / "ant", args.articles + 1)
    marked = _mark(articles, args.alert_every)
    in_process = _in_process_rate(articles[1:])
    print(f"{len(articles) - 1} articles; in-process enrichment {in_process:.0f} articles/s (one core)")
    tmp = Path(tempfile.mkdtemp(prefix="rasd-e2e-"))
    runs = []
    try:
        for n in (int(w) for w in args.workers.split(",")):
            env = dict(kv.split("=", 1) for kv in args.env)
            r = _run(articles, marked, n, args.rate, tmp, args.stall_s, env)
            r["overhead_ratio"] = r["articles_per_s"] / in_process
            runs.append(r)
            lat = ", ".join(f"{q} {r[f'latency_{q}_s']:.2f} s" for q in ("p50", "p95", "p99"))
            alert = ", ".join(f"{q} {r[f'alert_latency_{q}_s']:.2f} s" for q in ("p50", "p95", "p99"))
            print(
                f"  {n} worker(s): {r['indexed']:.0f}/{r['articles']:.0f} indexed, {r['articles_per_s']:.0f}"
                f" articles/s end to end (ratio {r['overhead_ratio']:.2f} of in-process);"
                f" produce → searchable {lat}; {r['alerted']:.0f}/{r['marked']:.0f} Putin alerts,"
                f" produce → alert {alert}"
            )
    finally:
        if args.keep or any(r["indexed"] < r["articles"] or r["alerted"] < r["marked"] for r in runs):
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "bench": "pipeline",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(loop_before),
        "rate_per_s": args.rate,
        "alert_every": args.alert_every,
        "worker_env": args.env,
        "in_process_articles_per_s": round(in_process, 2),
        "runs": [{k: round(v, 4) for k, v in r.items()} for r in runs],
        "targets": {"overhead_ratio": 0.8, "p50_s_at_200_per_s": 1.0, "p99_s_at_200_per_s": 3.0},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
