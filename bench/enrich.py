"""Enrichment throughput per core, per stage, on real Arabic news (ANT corpus) made into 3 KB articles.

    python bench/enrich.py [--articles 600] [--unseen 600] [--shared ../shared]
                           [--out bench/results/enrich.json]

Prints articles/s for each stage and for the full enrichment (one process = one core), the
top hotspots of a cProfile run, and writes the figures to a JSON file. The stage and batch rows
repeat the same articles, so every word is cached after the first pass; `full/unseen` enriches
articles not seen before (as a stream does), after those. Not a test: figures depend on the
machine; compare ratios taken in the same run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import machine  # noqa: E402

from pipeline.enrich.enricher import Enricher, load_enricher  # noqa: E402
from pipeline.enrich.entities import article_mentions  # noqa: E402
from pipeline.enrich.keywords import extract_keywords  # noqa: E402
from pipeline.enrich.language import detect_language  # noqa: E402
from pipeline.eval.ant import read_ant  # noqa: E402
from pipeline.heap import settle_heap  # noqa: E402
from pipeline.ids import article_id  # noqa: E402
from pipeline.models import Article  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.text.normalise import normalise_with_offsets  # noqa: E402

TARGET_BYTES = 3000


def build_articles(ant_dir: Path, n: int) -> list[Article]:
    """Real ANT articles, consecutive ones of a section joined until each body is about 3 KB."""
    docs = sorted(read_ant(ant_dir).documents, key=lambda d: (d.label, d.docno))
    out: list[Article] = []
    i = 0
    while len(out) < n and i < len(docs):
        first = docs[i]
        body = first.body
        i += 1
        while len(body.encode()) < TARGET_BYTES and i < len(docs) and docs[i].label == first.label:
            body += "\n" + docs[i].body
            i += 1
        body = body.encode()[:TARGET_BYTES].decode(errors="ignore")
        url = f"https://bench.invalid/{first.docno}/{len(out)}"
        out.append(
            Article(id=article_id(url), source="ant", url=url, title=first.title, body=body, language="ar")
        )
    return out


def rate(label: str, fn: Callable[[Article], object], articles: list[Article]) -> dict[str, float]:
    start = time.perf_counter()
    for a in articles:
        fn(a)
    elapsed = time.perf_counter() - start
    figures = {"articles_per_s": len(articles) / elapsed, "ms_per_article": 1000 * elapsed / len(articles)}
    per_s, ms = figures["articles_per_s"], figures["ms_per_article"]
    print(f"  {label:<14} {per_s:>9.0f} articles/s   {ms:>7.3f} ms/article")
    return figures


def stages(enricher: Enricher) -> dict[str, Callable[[Article], object]]:
    an = enricher.analyzer

    def texts(a: Article) -> list[tuple[str, str]]:
        return [(f, a.text_of(f)) for f in ("title", "summary", "body") if a.text_of(f)]  # type: ignore[arg-type]

    out: dict[str, Callable[[Article], object]] = {
        "normalise": lambda a: [normalise_with_offsets(t) for _, t in texts(a)],
        "tokenize": lambda a: [an.tokens(t) for _, t in texts(a)],
        "language": lambda a: detect_language(a.title + " " + a.body, a.language),
        "gazetteer": lambda a: article_mentions(texts(a), enricher.registry),  # type: ignore[arg-type]
        "topics": lambda a: enricher.topics.classify(an.terms(a.title), an.terms(a.body)),
        "keywords": lambda a: extract_keywords(an.terms(a.title), an.terms(a.body), enricher.stopwords),
    }
    ner = getattr(enricher, "ner", None)
    if ner is not None:
        out["ner"] = lambda a: [ner.spans(t) for _, t in texts(a)]
    classifier = getattr(enricher, "classifier", None)
    if classifier is not None:
        out["classifier"] = lambda a: classifier.scores(a.title, a.body)
    out["full"] = enricher.enrich
    return out


def batched_rate(enricher: Enricher, articles: list[Article], size: int, label: str = "") -> dict[str, float]:
    """Full enrichment as the enrich agent runs it: `enrich_many` over stream batches of `size`."""

    def run(batch_start: Article) -> object:
        k = articles.index(batch_start)
        return enricher.enrich_many(articles[k : k + size])

    starts = articles[::size]
    start = time.perf_counter()
    for a in starts:
        run(a)
    elapsed = time.perf_counter() - start
    figures = {"articles_per_s": len(articles) / elapsed, "ms_per_article": 1000 * elapsed / len(articles)}
    label, per_s, ms = label or f"full/batch{size}", figures["articles_per_s"], figures["ms_per_article"]
    print(f"  {label:<14} {per_s:>9.0f} articles/s   {ms:>7.3f} ms/article")
    return figures


def main() -> int:
    loop_before = machine.loop_seconds()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=600)
    p.add_argument(
        "--unseen",
        type=int,
        default=600,
        help="then this many articles not seen before, in batches of 20 (new words on the cold paths)",
    )
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "enrich.json")
    args = p.parse_args()

    enricher = load_enricher(Settings(config_dir=ROOT / "config"))
    settle_heap()  # as `rasd worker` does after loading
    built = build_articles(args.shared / "data" / "topics" / "ant", args.articles + args.unseen)
    articles, unseen = built[: args.articles], built[args.articles :]
    size = sum(len((a.title + a.body).encode()) for a in articles) / len(articles)
    print(f"{len(articles)} articles, mean {size:.0f} bytes; one process (per core)")
    for a in articles[:20]:
        enricher.enrich(a)  # warm caches
    results = {name: rate(name, fn, articles) for name, fn in stages(enricher).items()}
    for batch in (20, 100):
        results[f"full/batch{batch}"] = batched_rate(enricher, articles, batch)
    if unseen:  # the rows above repeat the same articles: every word is cached after the first pass
        results["full/unseen"] = batched_rate(enricher, unseen, 20, label="full/unseen")

    prof = cProfile.Profile()
    prof.enable()
    enricher.enrich_many(articles[:100])
    enricher.enrich_many(articles[100:200])
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
    hotspots = [ln for ln in buf.getvalue().splitlines() if ln.strip()][-12:]
    print("top hotspots (tottime):")
    print("\n".join("  " + ln for ln in hotspots))

    report = {
        "bench": "enrich",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(loop_before),
        "articles": len(articles),
        "mean_bytes": round(size),
        "stages": {k: {m: round(v, 3) for m, v in f.items()} for k, f in results.items()},
        "target_full_articles_per_s": 300,
        "hotspots": hotspots,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
