"""Embedded search backend: indexing throughput, index size and query latency at growing scale.

    python bench/search.py [--scales 10000,100000] [--base 1000] [--queries 60] [--batch 1000]
                           [--windows 10000,1000000000] [--out bench/results/search.json]

Real ANT news articles are enriched once (`--base` of them), then replicated with distinct ids and
dates spread over a year until each scale is reached, and indexed into a fresh SQLite FTS5 index in
batches as the index agent does. For each scale it prints indexing docs/s, index size per 1,000
articles, and p50/p95 latency of text, phrase, entity-filter and faceted queries for each search
window (how many of the most recent matches a query ranks and facets; the last, huge, one ranks
every match, as the backend did before the window: the ratio in the same run). Targets:
indexing >= 5,000 docs/s; search p95 < 50 ms at 1M articles. Not a test: figures depend on the
machine (and the disk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import machine  # noqa: E402

from pipeline.enrich.enricher import load_enricher  # noqa: E402
from pipeline.eval.ant import read_ant  # noqa: E402
from pipeline.ids import article_id  # noqa: E402
from pipeline.models import Article  # noqa: E402
from pipeline.search.base import SearchQuery  # noqa: E402
from pipeline.search.sqlite import DEFAULT_WINDOW, SqliteBackend  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def _base(ant_dir: Path, n: int) -> list[Article]:
    enricher = load_enricher(Settings(config_dir=ROOT / "config"))
    docs = sorted(read_ant(ant_dir).documents, key=lambda d: d.docno)[:n]
    raw = [
        Article(id=article_id(f"https://bench.invalid/{d.docno}"), source=d.label, title=d.title, body=d.body)
        for d in docs
    ]
    out: list[Article] = []
    for k in range(0, len(raw), 100):
        out.extend(enricher.enrich_many(raw[k : k + 100]))
    return out


def _replicas(base: list[Article], start: int, stop: int) -> Iterator[Article]:
    for n in range(start, stop):
        a = base[n % len(base)]
        url = f"https://bench.invalid/{n}"
        yield a.model_copy(
            update={
                "id": article_id(url),
                "url": url,
                "published": START + timedelta(minutes=(n * 37) % 525_600),
            }
        )


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


async def _measure(
    backend: SqliteBackend,
    base: list[Article],
    have: int,
    scale: int,
    n_queries: int,
    readers: dict[int, SqliteBackend],
    batch_size: int,
) -> dict[str, object]:
    elapsed = 0.0  # index_many only: making the replicas is not indexing
    for first in range(have, scale, batch_size):
        batch = list(_replicas(base, first, min(scale, first + batch_size)))
        start = time.perf_counter()
        await backend.index_many(batch)
        elapsed += time.perf_counter() - start
    added = scale - have

    words = Counter(w for a in base for w in a.keywords)
    common = [w for w, _ in words.most_common(n_queries)]
    rare = [w for w, c in words.most_common() if c == 2][:n_queries] or common
    entities = [
        e for e, _ in Counter(m.canonical_id for a in base for m in a.entities).most_common(n_queries)
    ]
    phrases = [a.title.split()[0] + " " + a.title.split()[1] for a in base if len(a.title.split()) > 2][
        :n_queries
    ]
    kinds = {
        "text_common": [SearchQuery(text=w, facets=False) for w in common],
        "text_rare": [SearchQuery(text=w, facets=False) for w in rare],
        "phrase": [SearchQuery(text=f'"{p}"', facets=False) for p in phrases],
        "entity": [SearchQuery(entities=[e], sort="newest", facets=False) for e in entities],
        "faceted": [SearchQuery(text=w, facets=True) for w in common],
    }
    by_window: dict[str, dict[str, dict[str, float]]] = {}
    for window, reader in readers.items():
        await reader.search(kinds["text_common"][0])  # a first query warms the page cache
        latency: dict[str, dict[str, float]] = {}
        for kind, queries in kinds.items():
            times = []
            totals = []
            for q in queries:
                t0 = time.perf_counter()
                result = await reader.search(q)
                times.append(time.perf_counter() - t0)
                totals.append(result.total)
            latency[kind] = {**_percentiles(times), "median_total": statistics.median(totals)}
        by_window[str(window)] = latency
    return {"index_docs_per_s": added / elapsed if added else 0.0, "latency_by_window": by_window}


async def _run(args: argparse.Namespace) -> dict[str, object]:
    base = _base(args.shared / "data" / "topics" / "ant", args.base)
    enricher = load_enricher(Settings(config_dir=ROOT / "config"))
    tmp = Path(tempfile.mkdtemp(prefix="rasd-search-"))
    path = tmp / "index.sqlite3"
    backend = SqliteBackend(path, enricher.analyzer)
    await backend.setup()
    # separate read handles, one per search window (the setting RASD_SEARCH_WINDOW), as the API has
    readers = {w: SqliteBackend(path, enricher.analyzer, window=w) for w in args.windows}
    for reader in readers.values():
        await reader.setup()
    results: dict[str, object] = {}
    have = 0
    try:
        for scale in args.scales:
            figures = await _measure(backend, base, have, scale, args.queries, readers, args.batch)
            have = scale
            size = sum(p.stat().st_size for p in tmp.iterdir())
            figures["index_mib_per_1000"] = size / 2**20 / scale * 1000
            results[str(scale)] = figures
            print(
                f"  {scale:>9,} articles: index {figures['index_docs_per_s']:.0f} docs/s,"
                f" {figures['index_mib_per_1000']:.1f} MiB per 1,000"
            )
            by_window = figures["latency_by_window"]
            assert isinstance(by_window, dict)
            for window, lat in by_window.items():
                cells = "  ".join(f"{k} {v['p50_ms']:.1f}/{v['p95_ms']:.1f}" for k, v in lat.items())
                print(f"      window {int(window):>7,}: p50/p95 ms: {cells}")
    finally:
        await backend.close()
        for reader in readers.values():
            await reader.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> int:
    loop_before = machine.loop_seconds()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", default="10000,100000", help="comma-separated article counts, increasing")
    p.add_argument("--base", type=int, default=1000, help="distinct real articles enriched once")
    p.add_argument("--queries", type=int, default=60, help="queries per kind")
    p.add_argument(
        "--batch", type=int, default=1000, help="articles per index_many call (the index agent sends 200)"
    )
    p.add_argument(
        "--windows",
        default=f"{DEFAULT_WINDOW},1000000000",
        help="search windows to time queries with (RASD_SEARCH_WINDOW; a huge one = every match ranked)",
    )
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search.json")
    args = p.parse_args()
    args.scales = [int(s) for s in args.scales.split(",")]
    args.windows = [int(w) for w in args.windows.split(",")]
    results = asyncio.run(_run(args))
    report = {
        "bench": "search",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(loop_before),
        "base_articles": args.base,
        "batch": args.batch,
        "targets": {"index_docs_per_s": 5000, "search_p95_ms_at_1M": 50},
        "scales": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
