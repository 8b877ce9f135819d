"""Training of the NER CRF from the annotated corpora in `../shared/data/ner/` (`rasd train ner`).

Gold sentences are re-tokenised with the project tokeniser, so the model sees at training time
exactly the tokens (and clitic-stripped stems) it will see in articles. NewsFANE splits clitics
off (و الصادرات، ان ه); raw news never does, so its clitics are re-attached before training and
both the segmented and the re-attached forms are learned. Only the training splits are used: the
dev/val splits stay for `rasd eval ner`.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pycrfsuite  # type: ignore[import-untyped]

from pipeline.enrich.ner import NerTagger, ner_analyzer
from pipeline.enrich.ner_features import Featurizer, load_resources
from pipeline.enrich.registry import EntityRegistry
from pipeline.eval.conll import Sentence, read_conll, spans_of
from pipeline.eval.ner import evaluate_ner
from pipeline.text.tokenize import Analyzer, Token

__all__ = [
    "EVAL_SETS",
    "TRAINING_SETS",
    "TrainReport",
    "align_sentence",
    "licence_text",
    "merge_clitics",
    "train_ner",
]

# (path below the shared data dir, scheme): training splits only
TRAINING_SETS: tuple[tuple[str, str], ...] = (
    ("ner/newsfane/train.txt", "newsfane"),
    ("ner/wojood/train.txt", "wojood"),
)
_PROCLITICS = frozenset({"و", "ف", "ب", "ل", "ك", "س"})
_ENCLITICS = frozenset({"ه", "ها", "هم", "هما", "هن", "كم", "كما", "كن", "نا", "ي", "ني"})


EVAL_SETS: tuple[tuple[str, str], ...] = (
    ("ner/newsfane/dev.txt", "newsfane"),
    ("ner/wojood/val.txt", "wojood"),
)
LICENCE_NAME = "NER-LICENSE.md"


@dataclass
class TrainReport:
    """What was trained on, with what settings, and how long it took."""

    sentences: int
    tokens: int
    entities: dict[str, int]
    sources: list[str]
    params: dict[str, float | int | str]
    seed: int
    seconds: float
    model_path: Path
    model_bytes: int
    model_sha256: str
    notes: list[str] = field(default_factory=list)
    evaluation: dict[str, str] = field(default_factory=dict)

    def format(self) -> str:
        """Human-readable summary for the CLI."""
        ents = ", ".join(f"{k} {v}" for k, v in sorted(self.entities.items()))
        lines = [
            f"trained on {self.sentences} sentences, {self.tokens} tokens ({ents})",
            f"sources: {'; '.join(self.sources)}",
            f"model: {self.model_path} ({self.model_bytes / 1e6:.2f} MB, sha256 {self.model_sha256[:16]}…)",
            f"time: {self.seconds:.0f} s",
        ]
        for name, table in self.evaluation.items():
            lines += [f"== {name}", table]
        return "\n".join(lines)


def _is_word(token: str) -> bool:
    return any(c.isalpha() for c in token)


def merge_clitics(sentence: Sentence) -> Sentence:
    """Re-attach split clitics (و الصادرات → والصادرات, ان ه → انه) as raw news writes them."""
    tokens: list[str] = []
    tags: list[str] = []
    pending = ""  # proclitics waiting for their host
    pending_tag = "O"
    for tok, tag in zip(sentence.tokens, sentence.tags, strict=True):
        if tok in _PROCLITICS:
            if not pending:
                pending_tag = tag
            pending += tok
            continue
        if pending and _is_word(tok):
            # the host's tag wins: the span still starts at the host (clitics are trimmed)
            tokens.append(pending + tok)
            tags.append(tag if tag != "O" or pending_tag == "O" else pending_tag)
            pending = ""
            continue
        if pending:
            tokens.append(pending)
            tags.append(pending_tag)
            pending = ""
        if tok in _ENCLITICS and tokens and _is_word(tokens[-1]) and not tokens[-1].isascii():
            tokens[-1] += tok
            continue
        tokens.append(tok)
        tags.append(tag)
    if pending:
        tokens.append(pending)
        tags.append(pending_tag)
    return Sentence(tuple(tokens), _repair(tags))


def _repair(tags: Sequence[str]) -> tuple[str, ...]:
    """Turn an ``I-X`` that does not follow ``B-X``/``I-X`` into ``B-X``."""
    out: list[str] = []
    for tag in tags:
        if tag.startswith("I-") and (not out or out[-1] == "O" or out[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return tuple(out)


def align_sentence(sentence: Sentence, analyzer: Analyzer) -> tuple[list[Token], list[str]]:
    """Project tokens of the space-joined sentence and a BIO label for each, from the gold tokens."""
    text = " ".join(sentence.tokens)
    owner: list[int] = []  # gold token index of every character
    for k, tok in enumerate(sentence.tokens):
        owner.extend([k] * len(tok))
        owner.append(-1)
    tokens = analyzer.tokens(text)
    labels: list[str] = []
    prev_gold = -1
    for t in tokens:
        k = owner[t.start]
        tag = sentence.tags[k]
        if tag != "O" and k == prev_gold:
            tag = "I-" + tag[2:]  # a gold token split into several project tokens
        labels.append(tag)
        prev_gold = k
    return tokens, list(_repair(labels))


def _load(
    shared: Path, sets: Sequence[tuple[str, str]], analyzer: Analyzer, merge: bool
) -> Iterable[tuple[list[Token], list[str]]]:
    for rel, scheme in sets:
        for sent in read_conll(shared / rel, scheme):
            yield align_sentence(sent, analyzer)
            if merge and scheme == "newsfane":
                merged = merge_clitics(sent)
                if merged.tokens != sent.tokens:
                    yield align_sentence(merged, analyzer)


def train_ner(
    shared_data_dir: Path,
    out_path: Path,
    registry: EntityRegistry,
    *,
    resources_dir: Path = Path("config/ner"),
    seed: int = 0,
    c1: float = 0.05,
    c2: float = 0.01,
    max_iterations: int = 150,
    merge: bool = True,
    sets: Sequence[tuple[str, str]] = TRAINING_SETS,
    evaluate: bool = True,
    registry_dropout: float = 0.5,
) -> TrainReport:
    """Train the CRF on the NewsFANE and Wojood training splits and write it to `out_path`.

    Args:
        shared_data_dir: the shared data directory holding ``ner/newsfane`` and ``ner/wojood``
            (``../shared/data``; ``../shared/data/ner`` is accepted too).
        out_path: where the crfsuite model goes (``config/models/ner-crf.crfsuite``).
        registry: the entity registry (gazetteer features and protected stems).
        resources_dir: the curated word lists (``config/ner``).
        seed: shuffles the training order; with the same data and seed the model is identical.
        c1: L1 coefficient (keeps the model small); c2: L2 coefficient.
        max_iterations: L-BFGS iterations.
        merge: also learn NewsFANE sentences with their split clitics re-attached.
        sets: (path below `shared_data_dir`, scheme) of the training files; training splits only.
        registry_dropout: share of training sentences featurised without the registry (gazetteer
            and registry-word features), so the model does not lean on the registry alone.
        evaluate: score the new model on the dev/val splits; the figures go into the licence notice.

    Writes the model and, beside it, `NER-LICENSE.md` (attribution, CC BY-SA notice, figures).
    """
    started = time.monotonic()
    if not (shared_data_dir / "ner").is_dir() and (shared_data_dir / "newsfane").is_dir():
        shared_data_dir = shared_data_dir.parent  # given `../shared/data/ner` itself
    # trained beside the model and renamed over it at the end: a failed run (no corpus, a bad list)
    # leaves the shipped model as it was
    partial = out_path.with_name(out_path.name + ".partial")
    try:
        report = _train_to(
            partial,
            out_path,
            shared_data_dir,
            registry,
            resources_dir,
            seed,
            c1=c1,
            c2=c2,
            max_iterations=max_iterations,
            merge=merge,
            sets=sets,
            evaluate=evaluate,
            registry_dropout=registry_dropout,
            started=started,
        )
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    (out_path.parent / LICENCE_NAME).write_text(licence_text(report), encoding="utf-8")
    return report


def _train_to(
    partial: Path,
    out_path: Path,
    shared_data_dir: Path,
    registry: EntityRegistry,
    resources_dir: Path,
    seed: int,
    *,
    c1: float,
    c2: float,
    max_iterations: int,
    merge: bool,
    sets: Sequence[tuple[str, str]],
    evaluate: bool,
    registry_dropout: float,
    started: float,
) -> TrainReport:
    """`train_ner`'s work, with the model written to `partial`; the report names `out_path`."""
    resources = load_resources(resources_dir, registry)
    featurizer = Featurizer(resources, registry)
    data = list(_load(shared_data_dir, sets, ner_analyzer(registry, resources), merge))
    rng = random.Random(seed)
    rng.shuffle(data)
    # some sentences without registry features, so context is learned for names the registry lacks
    blind = featurizer.without_registry()
    trainer = pycrfsuite.Trainer(verbose=False)
    counts: Counter[str] = Counter()
    n_tokens = 0
    for tokens, labels in data:
        if not tokens:
            continue
        feats = (blind if rng.random() < registry_dropout else featurizer).sentence(tokens)
        trainer.append(feats, labels)
        n_tokens += len(tokens)
        counts.update(t for _, _, t in spans_of(labels))
    params: dict[str, float | int | str] = {
        "registry_dropout": registry_dropout,
        "c1": c1,
        "c2": c2,
        "max_iterations": max_iterations,
        "feature.possible_transitions": 1,
        "feature.minfreq": 1,
    }
    trainer.set_params({k: v for k, v in params.items() if k != "registry_dropout"})
    out_path.parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(partial))
    blob = partial.read_bytes()
    report = TrainReport(
        sentences=len(data),
        tokens=n_tokens,
        entities=dict(counts),
        sources=[f"{rel} ({scheme})" for rel, scheme in sets],
        params=params,
        seed=seed,
        seconds=time.monotonic() - started,
        model_path=out_path,
        model_bytes=len(blob),
        model_sha256=hashlib.sha256(blob).hexdigest(),
        notes=["NewsFANE clitics re-attached as an extra copy"] if merge else [],
    )
    if evaluate:
        tagger = NerTagger.load(partial, registry, resources_dir)
        for rel, scheme in EVAL_SETS:
            path = shared_data_dir / rel
            if path.exists():
                report.evaluation[rel] = evaluate_ner(path, scheme, tagger.extract).format()
    return report


def licence_text(report: TrainReport) -> str:
    """The notice that travels with the model: attribution, share-alike, how it was made, figures."""
    params = ", ".join(f"{k}={v}" for k, v in report.params.items())
    figures = "\n\n".join(f"`{name}`:\n\n```\n{table}\n```" for name, table in report.evaluation.items())
    return _LICENCE.format(
        model=report.model_path.name,
        sha=report.model_sha256,
        size=f"{report.model_bytes / 1e6:.2f} MB",
        sources="\n".join(f"- `{s}`" for s in report.sources),
        sentences=report.sentences,
        tokens=report.tokens,
        params=params,
        seed=report.seed,
        notes="; ".join(report.notes) or "none",
        figures=figures or "(not evaluated)",
    )


_LICENCE = """# Licence of `{model}`

`{model}` (sha256 `{sha}`, {size}) is a CRF model (python-crfsuite) for Arabic named entities
(PER, ORG, LOC), used by `pipeline/enrich/ner.py`. It is a work derived from two annotated corpora:

- **NewsFANE Gold** (Newswire-based Fine-grained Arabic Named Entity corpus), F. Alotaibi and
  M. Lee, "A Hybrid Approach to Features Representation for Fine-grained Arabic Named Entity
  Recognition", COLING 2014. Licensed under the Creative Commons Attribution-ShareAlike 3.0
  Unported licence (https://creativecommons.org/licenses/by-sa/3.0/).
- **Wojood** (sample released with SinaLab/ArabicNER), M. Jarrar, M. Khalilia and S. Ghanem,
  "Wojood: Nested Arabic Named Entity Corpus and Recognition using BERT", LREC 2022.
  MIT licence, Copyright (c) 2021 Mohammed Khalilia.

**Share-alike.** Because the model's weights are derived from NewsFANE Gold, the model file is
distributed under **CC BY-SA 3.0** (attribution as above; the MIT notice of Wojood is kept), not
under the project's Apache-2.0 licence. If you adapt or retrain it from these corpora and share
the result, share it under CC BY-SA 3.0 or a compatible licence. The code that trains and uses it
(`pipeline/enrich/ner*.py`) and the word lists in `config/ner/` are Apache-2.0. No text of the
corpora is contained in the model beyond feature strings (words, affixes, word pairs) with weights.

## How it was trained

`rasd train ner` (`pipeline.enrich.ner_train.train_ner`), reproducible from `../shared/data/ner/`:

{sources}

Training splits only ({sentences} sentences, {tokens} project tokens after re-tokenisation; NewsFANE
fine types mapped to PER/ORG/LOC as documented in `pipeline/eval/conll.py`; notes: {notes}).
Gold tokens are re-tokenised with the project tokeniser so features match what articles produce.
Features: normalised word, clitic-free stem, clitic prefix, affixes, shape, ±2 window, registry
(`config/entities/`) name matches, curated word lists (`config/ner/`). L-BFGS with {params},
seed {seed}. The dev/val splits below were never used for training.

## Figures (hybrid tagger `NerTagger.spans`, CoNLL exact-span matching)

{figures}
"""
