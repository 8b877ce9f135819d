"""Latency from an article entering `articles.raw` to its alert event on `alerts`, through the real
(embedded Tansu) broker and a `rasd worker` subprocess.

    python bench/alert_latency.py [--articles 400] [--rate 40] [--shared ../shared]
                                  [--out bench/results/alert_latency.json]

Real ANT news articles (distinct stories) each get one sentence naming بوتين appended, and one watch on
Putin fires for each; the articles are produced at `--rate` per second with kafka-python (acks=all)
and the alert events are read back. Prints p50/p95/p99/max latency and writes them to a JSON file.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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

import machine  # noqa: E402
from kafka import KafkaConsumer  # noqa: E402

from connectors import KafkaPublisher  # noqa: E402
from pipeline.broker import EmbeddedBroker, ensure_topics, stop_process  # noqa: E402
from pipeline.enrich.dedupe_store import StoryIndex  # noqa: E402
from pipeline.eval.ant import read_ant  # noqa: E402
from pipeline.ids import article_id  # noqa: E402
from pipeline.models import Article  # noqa: E402

WATCHES = "watches:\n  - id: putin\n    entities: [Q7747]\n    channels: [jsonl]\n"
PUTIN = " وقال الرئيس الروسي فلاديمير بوتين إن المحادثات مستمرة."


def _articles(ant_dir: Path, n: int) -> list[Article]:
    docs = sorted(read_ant(ant_dir).documents, key=lambda d: d.docno)[:n]
    return [
        Article(
            id=article_id(f"https://bench.invalid/latency/{d.docno}"),
            source="bench",
            url=f"https://bench.invalid/latency/{d.docno}",
            title=d.title,
            body=d.body[:3000] + PUTIN,
            language="ar",
        )
        for d in docs
    ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    loop_before = machine.loop_seconds()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=400)
    p.add_argument("--rate", type=float, default=40.0, help="articles produced per second")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "alert_latency.json")
    args = p.parse_args()

    articles = _articles(args.shared / "data" / "topics" / "ant", args.articles)
    tmp = Path(tempfile.mkdtemp(prefix="rasd-bench-"))
    config = tmp / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "watchlists.yaml").write_text(WATCHES, encoding="utf-8")
    sent: dict[str, float] = {}
    received: dict[str, float] = {}
    with EmbeddedBroker(log_path=tmp / "tansu.log") as broker:
        ensure_topics(broker.bootstrap, partitions=2, replication=1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RASD_")}
        env.update(
            RASD_KAFKA_BOOTSTRAP=broker.bootstrap,
            RASD_DATA_DIR=str(tmp / "data"),
            RASD_CONFIG_DIR=str(config),
            RASD_TOPIC_PARTITIONS="2",
            PYTHONPATH=str(ROOT),
        )
        log = (tmp / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli.main", "worker"], env=env, cwd=ROOT, stdout=log, stderr=log
        )
        consumer = KafkaConsumer(
            "alerts", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        stop = threading.Event()

        def read_alerts() -> None:
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=100).values():
                    now = time.time()
                    for r in records:
                        received.setdefault(json.loads(r.value)["article_id"], now)

        reader = threading.Thread(target=read_alerts, daemon=True)
        reader.start()
        publisher = KafkaPublisher(broker.bootstrap)
        try:
            warm = articles[0]  # the first alert also waits for the consumer-group join: not counted
            publisher.publish([warm])
            deadline = time.time() + 120
            while warm.id not in received and time.time() < deadline:
                time.sleep(0.2)
            if warm.id not in received:
                print("worker produced no alert; see", tmp / "worker.log")
                return 1
            start = time.time()
            for k, article in enumerate(articles[1:]):
                due = start + k / args.rate
                time.sleep(max(0.0, due - time.time()))
                sent[article.id] = time.time()
                publisher.publish([article])
            deadline = time.time() + 120
            while len(set(sent) & set(received)) < len(sent) and time.time() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            reader.join(timeout=5)
            consumer.close()
            publisher.close()
            stop_process(worker, timeout=20)
            log.close()

    latencies = [received[i] - t for i, t in sent.items() if i in received]
    stories = StoryIndex.open(":memory:")
    expected = len({stories.assign(a).story_id for a in articles}) - 1  # one alert per story; minus warm-up
    if not latencies:
        print("no alerts received")
        return 1
    figures = {
        "p50_s": statistics.median(latencies),
        "p95_s": _percentile(latencies, 0.95),
        "p99_s": _percentile(latencies, 0.99),
        "max_s": max(latencies),
    }
    print(
        f"{len(latencies)} alerts for {len(sent)} articles ({expected} distinct stories: copies of a story"
        f" alert once) at {args.rate:.0f} articles/s; raw → alert latency: "
        + "  ".join(f"{k[:-2]} {v * 1000:.0f} ms" for k, v in figures.items())
    )
    report = {
        "bench": "alert_latency",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(loop_before),
        "articles": len(sent),
        "alerts": len(latencies),
        "distinct_stories": expected,
        "rate_per_s": args.rate,
        "latency": {k: round(v, 4) for k, v in figures.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
