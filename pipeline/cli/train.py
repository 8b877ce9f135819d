"""`rasd train ner|topics`: reproduce the shipped models from the shared corpora."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.settings import Settings

__all__ = ["add_parser", "run_train"]

DEFAULT_SHARED = Path("../shared")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="train the NER model or the section classifier")
    what = p.add_subparsers(dest="what", required=True)
    ner = what.add_parser("ner", help="CRF on NewsFANE Gold + Wojood (../shared/data/ner)")
    ner.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared/ folder")
    ner.add_argument("--out", type=Path, help="default: <config>/models/ner-crf.crfsuite")
    ner.add_argument("--seed", type=int, default=0)
    topics = what.add_parser("topics", help="section classifier on the ANT corpus")
    topics.add_argument("ant_dir", nargs="?", type=Path, default=DEFAULT_SHARED / "data" / "topics" / "ant")
    topics.add_argument("--out", type=Path, help="default: <config>/models/topics-ant.npz")
    topics.add_argument("--seed", type=int, default=0)
    topics.add_argument("--holdout", type=float, default=0.2, help="share held out for scoring (0: ship)")
    topics.add_argument(
        "--cv", type=int, default=0, metavar="K", help="also K-fold cross-validate on the training part"
    )


def run_train(settings: Settings, args: argparse.Namespace) -> int:
    models = settings.config_dir / "models"
    if args.what == "ner":
        from pipeline.enrich.ner_train import train_ner
        from pipeline.enrich.registry import load_registry

        registry = load_registry(settings.entities_dir)
        ner_report = train_ner(
            args.shared / "data" / "ner",
            args.out or models / "ner-crf.crfsuite",
            registry,
            resources_dir=settings.config_dir / "ner",
            seed=args.seed,
        )
        print(ner_report.format())
    else:
        from pipeline.enrich.classifier_train import train_sections

        topics_report = train_sections(
            args.ant_dir,
            args.out or models / "topics-ant.npz",
            seed=args.seed,
            holdout=args.holdout,
            cv_folds=args.cv,
        )
        print(topics_report.format())
    return 0
