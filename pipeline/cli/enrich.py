"""`rasd enrich FILE|-`: run the pipeline's enrichment on a text or feed file and print the JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.enrich.enricher import load_enricher
from pipeline.ids import article_id
from pipeline.models import Article
from pipeline.settings import Settings

__all__ = ["add_parser", "run_enrich"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("enrich", help="enrich a plain-text article (or - for stdin) and print JSON")
    p.add_argument("file", help="path or -")


def run_enrich(settings: Settings, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    title = lines[0] if lines else ""
    body = "\n".join(lines[1:])
    article = Article(
        id=article_id(None, guid=args.file, source="cli"), source="cli", title=title, body=body, language=None
    )
    enriched = load_enricher(settings).enrich(article)
    print(json.dumps(enriched.model_dump(mode="json"), ensure_ascii=False, indent=2))
    return 0
