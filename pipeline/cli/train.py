"""`rasd train ner|topics`: reproduce the shipped models from the shared corpora."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pipeline.errors import ConfigError
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
    topics.add_argument(
        "--out", type=Path, help="default: <config>/models/topics-ant.npz with --holdout 0, else not kept"
    )
    topics.add_argument("--seed", type=int, default=0)
    topics.add_argument(
        "--holdout", type=_share, default=0.2, help="share held out for scoring, in [0, 1) (0: ship)"
    )
    topics.add_argument(
        "--cv",
        type=_folds,
        default=0,
        metavar="K",
        help="also K-fold cross-validate on the training part (K ≥ 2)",
    )


def _share(value: str) -> float:
    """A held-out share in [0, 1): refused by argparse, with the usage line, not deep in training."""
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.0 <= share < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), not {value!r}")
    return share


def _folds(value: str) -> int:
    """0 (no cross-validation) or at least 2 folds."""
    try:
        folds = int(value)
    except ValueError:
        folds = -1
    if folds != 0 and folds < 2:
        raise argparse.ArgumentTypeError(f"must be 0 or at least 2, not {value!r}")
    return folds


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

        if not args.ant_dir.is_dir():
            raise ConfigError(f"{args.ant_dir}: no such directory (the ANT corpus)")
        # a held-out run measures; only a model trained on everything (--holdout 0) replaces the
        # shipped one unless --out names another file
        with tempfile.TemporaryDirectory(prefix="rasd-topics-") as scratch:
            shipped = args.out is None and args.holdout == 0
            out = args.out or (models / "topics-ant.npz" if shipped else Path(scratch) / "topics-ant.npz")
            try:
                topics_report = train_sections(
                    args.ant_dir, out, seed=args.seed, holdout=args.holdout, cv_folds=args.cv
                )
            except ValueError as exc:  # too few documents or sections: the corpus, not a bug
                raise ConfigError(str(exc)) from exc
        print(topics_report.format())
        if args.out is None and not shipped:
            print("(held-out run: the shipped model is unchanged; --out keeps this one, --holdout 0 ships)")
    return 0
