"""`rasd eval ner|topics|extract`: score the pipeline's own extraction on annotated data (offline)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = ["add_parser", "run_eval"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="evaluate NER, topics or page extraction on annotated data")
    what = p.add_subparsers(dest="what", required=True)
    ner = what.add_parser("ner", help="CoNLL-style file: per-type P/R/F1, last line micro-F1")
    ner.add_argument("file", type=Path)
    ner.add_argument("--scheme", choices=["anercorp", "wojood", "newsfane"], required=True)
    topics = what.add_parser("topics", help="ANT documents below DIR: accuracy, last line macro-F1")
    topics.add_argument("dir", type=Path)
    topics.add_argument("--scheme", choices=["ant"], default="ant")
    extract = what.add_parser(
        "extract",
        help="NAME.html beside NAME.txt in DIR: per-page token F1 of the main text, last line mean-F1",
    )
    extract.add_argument("dir", type=Path)


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    """Score one kind of extraction; a file that is not UTF-8 is one line naming it, not a traceback."""
    try:
        return _run_eval(settings, args)
    except UnicodeDecodeError as exc:
        where = args.file if args.what == "ner" else args.dir
        raise ConfigError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _run_eval(settings: Settings, args: argparse.Namespace) -> int:
    if args.what == "extract":
        return _eval_extract(args.dir)
    if args.what == "ner":
        from pipeline.enrich.enricher import load_enricher
        from pipeline.eval.ner import evaluate_ner

        if not args.file.is_file():
            raise ConfigError(f"{args.file}: no such file")
        enricher = load_enricher(settings)
        print(evaluate_ner(args.file, args.scheme, enricher.extract_entities).format())
        return 0
    from pipeline.enrich.classifier import SectionClassifier
    from pipeline.eval.topics import evaluate_topics

    model = settings.config_dir / "models" / "topics-ant.npz"
    if not model.is_file():
        raise ConfigError(f"{model}: no section classifier; run `rasd train topics --holdout 0`")
    if not args.dir.exists():
        raise ConfigError(f"{args.dir}: no such directory or file")
    report = evaluate_topics(args.dir, args.scheme, SectionClassifier.load(model).predict)
    if not report.n:
        skipped = ", ".join(f"{why}: {n}" for why, n in sorted(report.skipped.items())) or "no files"
        raise ConfigError(f"{args.dir}: no ANT documents (one <DOC> with <CAT> per file) found ({skipped})")
    print(report.format())
    return 0


def _eval_extract(directory: Path) -> int:
    from connectors.fulltext import extract_html
    from pipeline.eval.extract import evaluate_extract

    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such directory")
    report = evaluate_extract(directory, lambda body, _name: extract_html(body))
    if not report.pages:
        raise ConfigError(f"{directory}: no NAME.html with a NAME.txt beside it")
    print(report.format())
    return 0
