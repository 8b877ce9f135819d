"""Feed polling throughput: one connector process polling N feeds served by a local HTTP server.

    python bench/poll.py [--feeds 5000] [--changed 0.05] [--concurrency 50]
                         [--out bench/results/poll.json]

The server (a separate process, so its CPU is not counted as the connector's) serves N real feed
documents from `tests/fixtures/feeds/` under distinct URLs with ETags. The first round fetches
everything (200); the second round is the steady state: conditional GETs that mostly answer 304, with
`--changed` of the feeds changed since. Prints feeds/s, CPU seconds and peak RSS growth per 1,000
feeds for each round, and writes them to a JSON file. The target: 5,000 feeds per 5 minutes in one
process. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import machine  # noqa: E402

from connectors.produce import MemoryPublisher  # noqa: E402
from connectors.rss import poll_once  # noqa: E402
from pipeline.config import FeedConfig  # noqa: E402
from pipeline.settings import Settings  # noqa: E402


def _documents() -> list[bytes]:
    paths = sorted(p for p in (ROOT / "tests" / "fixtures" / "feeds").rglob("*.xml"))
    return [p.read_bytes() for p in paths]


def _serve(port_out: multiprocessing.Queue, changed: float) -> None:  # type: ignore[type-arg]
    docs = _documents()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            n = int(self.path.strip("/").split("/")[1].split(".")[0])
            # round 2 ("/r2/…"): a `changed` share of the feeds have a new version
            version = 1 if self.path.startswith("/r2/") and (n % 1000) < changed * 1000 else 0
            etag = f'"{n}-{version}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = docs[n % len(docs)]
            if version:
                body = body.replace(b"</channel>", f"<!-- v{version} -->".encode() + b"</channel>", 1)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def _round(feeds: list[FeedConfig], settings: Settings, concurrency: int) -> dict[str, float]:
    publisher = MemoryPublisher()
    cpu0 = time.process_time()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = asyncio.run(
        poll_once(feeds, settings=settings, publisher=publisher, concurrency=concurrency, force=True)
    )
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    per_k = 1000 / len(feeds)
    return {
        "feeds": len(feeds),
        "seconds": elapsed,
        "feeds_per_s": len(feeds) / elapsed,
        "not_modified": report.not_modified,
        "failed": report.failed,
        "articles_published": report.published,
        "cpu_s_per_1000_feeds": cpu * per_k,
        "peak_rss_growth_mib_per_1000_feeds": rss / 1024 * per_k,
        "projected_feeds_per_5_min": 300 * len(feeds) / elapsed,
    }


def main() -> int:
    loop_before = machine.loop_seconds()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feeds", type=int, default=5000)
    p.add_argument("--changed", type=float, default=0.05, help="share of feeds changed in round 2")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "poll.json")
    p.add_argument("--profile", action="store_true", help="cProfile the steady-state round")
    args = p.parse_args()

    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=_serve, args=(ports, args.changed), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    tmp = Path(tempfile.mkdtemp(prefix="rasd-poll-"))
    settings = Settings(data_dir=tmp, fetch_allowed_hosts=["127.0.0.1"], seen_ids_per_feed=200)

    def feeds(round_: int) -> list[FeedConfig]:
        return [
            FeedConfig(id=f"f{n}", url=f"http://127.0.0.1:{port}/r{round_}/{n}.xml")
            for n in range(args.feeds)
        ]

    results: dict[str, dict[str, float]] = {}
    try:
        results["first_round_200"] = _round(feeds(1), settings, args.concurrency)
        # same feed ids, new URL prefix only so the server can tell rounds apart; ETags carry over
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
        results["steady_304"] = _round(feeds(2), settings, args.concurrency)
        if args.profile:
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    finally:
        server.terminate()
    for name, r in results.items():
        print(
            f"  {name:<16} {r['feeds']:.0f} feeds in {r['seconds']:.1f} s = {r['feeds_per_s']:.0f} feeds/s"
            f" ({r['projected_feeds_per_5_min']:.0f} per 5 min); 304: {r['not_modified']:.0f},"
            f" failed: {r['failed']:.0f}, published: {r['articles_published']:.0f};"
            f" CPU {r['cpu_s_per_1000_feeds']:.2f} s and RSS"
            f" +{r['peak_rss_growth_mib_per_1000_feeds']:.1f} MiB per 1,000 feeds"
        )
    report = {
        "bench": "poll",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(loop_before),
        "concurrency": args.concurrency,
        "target_feeds_per_5_min": 5000,
        "rounds": {k: {m: round(v, 3) for m, v in r.items()} for k, r in results.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
