"""Worker memory over a long stream: does any state grow without bound?

    python bench/memory.py [--articles 100000] [--distinct 3000] [--every 10000] [--enrich-once]
                           [--out bench/results/memory.json]

Runs what a worker does per article, in one process and without the broker (the Faust and Kafka
client buffers are bounded by their settings): batch enrichment, story assignment (near-duplicate
index on disk), indexing into the embedded SQLite index and watch matching, over a stream of
`--articles` articles made from `--distinct` real ANT articles with distinct ids, URLs and dates (so
the word caches see a realistic, growing vocabulary of forms only from the corpus). Prints the
resident set size every `--every` articles and the growth per 100,000 articles over the second
half of the run (a bounded process flattens out). With `--enrich-once` the distinct articles are
enriched once and their copies reuse the result (1M articles in minutes instead of hours: the
enricher's caches see no new text after the first pass either way). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402
from enrich import build_articles  # noqa: E402

from pipeline.alerts.rules import compile_watches, match_watches  # noqa: E402
from pipeline.config import load_watches  # noqa: E402
from pipeline.enrich.dedupe_store import StoryIndex  # noqa: E402
from pipeline.enrich.enricher import load_enricher  # noqa: E402
from pipeline.heap import settle_heap  # noqa: E402
from pipeline.ids import article_id  # noqa: E402
from pipeline.models import Article  # noqa: E402
from pipeline.search.sqlite import SqliteBackend  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _copy_of(enriched: Article, like: Article) -> Article:
    return enriched.model_copy(update={"id": like.id, "url": like.url, "published": like.published})


async def _run(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings(config_dir=ROOT / "config")
    enricher = load_enricher(settings)
    watches = compile_watches(
        load_watches(settings.watchlists_file), enricher.registry, enricher.topics.topics
    )
    base = build_articles(args.shared / "data" / "topics" / "ant", args.distinct)
    tmp = Path(tempfile.mkdtemp(prefix="rasd-mem-"))
    backend = SqliteBackend(tmp / "index.sqlite3", enricher.analyzer)
    await backend.setup()
    stories = StoryIndex.open(tmp / "stories.sqlite3")
    settle_heap()  # as `rasd worker` does after loading
    cache = None
    if args.enrich_once:
        cache = [x for i in range(0, len(base), 100) for x in enricher.enrich_many(base[i : i + 100])]
    samples: list[tuple[int, float]] = [(0, _rss_mib())]
    alerts = 0
    started = time.perf_counter()
    try:
        for k in range(0, args.articles, 100):
            batch = []
            for n in range(k, min(k + 100, args.articles)):
                a = base[n % len(base)]
                url = f"https://bench.invalid/mem/{n}"
                batch.append(
                    a.model_copy(
                        update={"id": article_id(url), "url": url, "published": START + timedelta(minutes=n)}
                    )
                )
            if cache is None:
                enriched = enricher.enrich_many(batch)
            else:  # the same enrichment result for the same text: stateful stages still see every copy
                enriched = [_copy_of(cache[n % len(base)], c) for n, c in enumerate(batch, start=k)]
            for i, article in enumerate(enriched):
                story = stories.assign(article)
                enriched[i] = article.model_copy(update={"story_id": story.story_id})
            await backend.index_many(enriched)
            for article in enriched:
                alerts += len(match_watches(watches, article, enricher.analyzer))
            done = min(k + 100, args.articles)
            if done % args.every == 0:
                samples.append((done, _rss_mib()))
                print(f"  {done:>9,} articles: RSS {samples[-1][1]:.0f} MiB", flush=True)
    finally:
        await backend.close()
        shutil.rmtree(tmp, ignore_errors=True)
    half = [s for s in samples if s[0] >= args.articles // 2]
    growth = (half[-1][1] - half[0][1]) / max(1, half[-1][0] - half[0][0]) * 100_000 if len(half) > 1 else 0.0
    return {
        "articles": args.articles,
        "seconds": time.perf_counter() - started,
        "rss_mib": [[n, round(m, 1)] for n, m in samples],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "growth_mib_per_100k_second_half": growth,
        "alerts": alerts,
        "enrich_once": bool(args.enrich_once),
    }


def main() -> int:
    loop_before = machine.loop_seconds()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=100_000)
    p.add_argument("--distinct", type=int, default=3000)
    p.add_argument("--every", type=int, default=10_000)
    p.add_argument(
        "--enrich-once",
        action="store_true",
        help="enrich the distinct articles once and reuse the result for their copies (the enricher's "
        "caches see no new text after the first pass anyway): makes 1M articles a matter of minutes",
    )
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory.json")
    args = p.parse_args()
    result = asyncio.run(_run(args))
    print(
        f"{args.articles:,} articles in {result['seconds']:.0f} s; peak RSS {result['peak_rss_mib']:.0f} MiB;"
        f" growth over the second half {result['growth_mib_per_100k_second_half']:.1f} MiB per 100k articles"
    )
    report = {
        "bench": "memory",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(loop_before),
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
