"""Training of the section classifier on the ANT corpus (needs scikit-learn and scipy; inference does not).

Reproducible: a stratified split with a fixed seed, deterministic feature hashing and a deterministic
solver. With ``holdout > 0`` the held-out part is scored and the model is trained on the rest; with
``holdout = 0`` every document is used (the shipped model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.enrich.classifier import (
    Features,
    FeatureSpec,
    SectionClassifier,
    extract_features,
    log_loss,
    softmax_rows,
)
from pipeline.eval.ant import AntDocument, read_ant
from pipeline.eval.topics import TopicsReport, score_labels

__all__ = ["TrainOptions", "TrainReport", "fit_sections", "split_stratified", "train_sections"]


@dataclass(frozen=True)
class TrainOptions:
    """Hyper-parameters (chosen on the development split, then frozen)."""

    spec: FeatureSpec = field(default_factory=FeatureSpec)
    word_min_df: int = 2
    char_min_df: int = 3
    char_weight: float = 1.0
    c: float = 0.3
    balanced: bool = True
    max_features: int = 120_000
    temperature: float = 0.25


@dataclass(frozen=True)
class TrainReport:
    """What was trained and how it scored on the held-out split (None when holdout = 0)."""

    n_train: int
    n_holdout: int
    seed: int
    holdout: float
    n_features: int
    model_path: str
    model_bytes: int
    skipped: dict[str, int]
    evaluation: TopicsReport | None

    def format(self) -> str:
        """Summary lines; ends with the held-out ``macro-F1`` line when there is a held-out split."""
        head = (
            f"trained on {self.n_train} documents (seed {self.seed}, holdout {self.holdout}); "
            f"{self.n_features} features; {self.model_path} {self.model_bytes / 1e6:.2f} MB"
        )
        if self.evaluation is None:
            return head
        return head + f"\nheld-out ({self.n_holdout} documents):\n" + self.evaluation.format()


def split_stratified(labels: Sequence[str], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, held-out): `holdout` of each label, at least one when a label has 2+ documents."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    held: list[int] = []
    for label in sorted(set(labels)):
        idx = np.array([i for i, y in enumerate(labels) if y == label])
        rng.shuffle(idx)
        k = round(len(idx) * holdout)
        if holdout > 0 and len(idx) > 1:
            k = min(max(k, 1), len(idx) - 1)
        held.extend(int(i) for i in idx[:k])
        train.extend(int(i) for i in idx[k:])
    return sorted(train), sorted(held)


def _df(rows: Sequence[npt.NDArray[Any]]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """Document frequency of every distinct value across `rows`."""
    if not rows:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([np.unique(r) for r in rows]), return_counts=True)


def _matrix(model: SectionClassifier, feats: Sequence[Features]) -> Any:
    """CSR matrix of TF-IDF rows exactly as `SectionClassifier.columns` computes them."""
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped,unused-ignore]

    indptr = [0]
    indices: list[npt.NDArray[np.int64]] = []
    data: list[npt.NDArray[np.float32]] = []
    for f in feats:
        cols, vals = model.columns(f)
        indices.append(cols)
        data.append(vals)
        indptr.append(indptr[-1] + len(cols))
    n_features = len(model.vocab) + len(model.buckets)
    return csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)),
        shape=(len(feats), n_features),
        dtype=np.float32,
    )


def _idf(df: npt.NDArray[np.int64], n_docs: int) -> npt.NDArray[np.float32]:
    """Smoothed idf, ln((1 + n) / (1 + df)) + 1."""
    idf: npt.NDArray[np.float32] = (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
    return idf


def _with_features(
    base: SectionClassifier, words: list[str], buckets: npt.NDArray[np.uint64], idf: npt.NDArray[np.float32]
) -> SectionClassifier:
    n = len(words) + len(buckets)
    return SectionClassifier(
        labels=base.labels,
        spec=base.spec,
        vocab={w: i for i, w in enumerate(words)},
        buckets=buckets,
        idf=idf,
        coef_t=np.zeros((n, len(base.labels)), dtype=np.float32),
        intercept=np.zeros(len(base.labels), dtype=np.float32),
        char_weight=base.char_weight,
        temperature=base.temperature,
    )


def _fit_linear(x: Any, y: npt.NDArray[np.int64], opts: TrainOptions, seed: int) -> tuple[Any, Any]:
    from sklearn.svm import LinearSVC  # type: ignore[import-untyped,unused-ignore]

    clf = LinearSVC(C=opts.c, class_weight="balanced" if opts.balanced else None, random_state=seed)
    clf.fit(x, y)
    return clf.coef_, clf.intercept_


def fit_sections(
    docs: Sequence[AntDocument], opts: TrainOptions | None = None, *, seed: int = 0
) -> SectionClassifier:
    """Train a `SectionClassifier` on labelled documents (features pruned to `opts.max_features`)."""
    opts = opts or TrainOptions()
    labels = tuple(sorted({d.label for d in docs}))
    y = np.array([labels.index(d.label) for d in docs], dtype=np.int64)
    feats = [extract_features(d.title, d.body, opts.spec) for d in docs]

    word_keys, word_df = _df([np.array(f.words, dtype=object) for f in feats])
    keep_w = word_df >= opts.word_min_df
    words = [str(w) for w in word_keys[keep_w]]
    bucket_keys, bucket_df = _df([f.chars for f in feats])
    keep_c = bucket_df >= opts.char_min_df
    buckets = bucket_keys[keep_c].astype(np.uint64)
    idf = np.concatenate([_idf(word_df[keep_w], len(docs)), _idf(bucket_df[keep_c], len(docs))])
    empty = SectionClassifier(
        labels=labels,
        spec=opts.spec,
        vocab={},
        buckets=np.zeros(0, dtype=np.uint64),
        idf=np.zeros(0, dtype=np.float32),
        coef_t=np.zeros((0, len(labels)), dtype=np.float32),
        intercept=np.zeros(len(labels), dtype=np.float32),
        char_weight=opts.char_weight,
        temperature=opts.temperature,
    )
    model = _with_features(empty, words, buckets, idf)
    coef, _ = _fit_linear(_matrix(model, feats), y, opts, seed)

    # prune to the features with the largest weights, then refit on exactly those
    # (so the norms at training time equal those the pruned model computes)
    n_words = len(words)
    strength = np.abs(coef).max(axis=0)
    if len(strength) > opts.max_features:
        keep = np.sort(np.argsort(-strength, kind="stable")[: opts.max_features])
        kw = keep[keep < n_words]
        kc = keep[keep >= n_words] - n_words
        model = _with_features(
            empty, [words[i] for i in kw], buckets[kc], np.concatenate([idf[kw], idf[kc + n_words]])
        )
    coef, intercept = _fit_linear(_matrix(model, feats), y, opts, seed)
    if len(labels) == 2:  # binary LinearSVC gives one row: score the second label against the first
        coef = np.vstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]])
    return SectionClassifier(
        labels=labels,
        spec=opts.spec,
        vocab=model.vocab,
        buckets=model.buckets,
        idf=model.idf,
        coef_t=np.ascontiguousarray(coef.T.astype(np.float32)),
        intercept=intercept.astype(np.float32),
        char_weight=opts.char_weight,
        temperature=opts.temperature,
    )


def train_sections(
    ant_dir: Path,
    out_path: Path,
    *,
    seed: int = 0,
    holdout: float = 0.2,
    options: TrainOptions | None = None,
) -> TrainReport:
    """Train on the ANT documents below `ant_dir`, write the model to `out_path`, score the held-out part.

    Args:
        ant_dir: folder of ANT files (one `<DOC>` per file, label from `<CAT>`).
        out_path: where the `.npz` model goes.
        seed: split and solver seed.
        holdout: share of each label held out for scoring; 0 trains on everything.
        options: hyper-parameters; the defaults are those of the shipped model.
    """
    if not 0 <= holdout < 1:
        raise ValueError("holdout must be in [0, 1)")
    opts = options or TrainOptions()
    read = read_ant(ant_dir)
    docs = read.documents
    if len({d.label for d in docs}) < 2:
        raise ValueError(f"{ant_dir}: need documents of at least two sections")
    train_idx, held_idx = split_stratified([d.label for d in docs], holdout, seed)
    model = fit_sections([docs[i] for i in train_idx], opts, seed=seed)
    evaluation: TopicsReport | None = None
    if held_idx:
        held = [docs[i] for i in held_idx]
        evaluation = score_labels([d.label for d in held], [model.predict(d.title, d.body) for d in held])
        z = np.array([model.decision(d.title, d.body) for d in held], dtype=np.float64)
        gold = [model.labels.index(d.label) if d.label in model.labels else 0 for d in held]
        heldout_log_loss = log_loss(softmax_rows(z, model.temperature), gold)
    meta: dict[str, Any] = {
        "trained_on": "ANT corpus v1.1 (Chouigui et al. 2017), Apache-2.0",
        "n_train": len(train_idx),
        "seed": seed,
        "holdout": holdout,
        "options": {
            "word_min_df": opts.word_min_df,
            "char_min_df": opts.char_min_df,
            "char_weight": opts.char_weight,
            "C": opts.c,
            "balanced": opts.balanced,
            "max_features": opts.max_features,
        },
    }
    if evaluation is not None:
        meta["heldout"] = {
            "n": evaluation.n,
            "accuracy": round(evaluation.accuracy, 4),
            "macro_f1": round(evaluation.macro_f1, 4),
            "log_loss": round(heldout_log_loss, 4),
        }
    model = replace(model, meta=meta)
    model.save(out_path)
    return TrainReport(
        n_train=len(train_idx),
        n_holdout=len(held_idx),
        seed=seed,
        holdout=holdout,
        n_features=len(model.vocab) + len(model.buckets),
        model_path=str(out_path),
        model_bytes=out_path.stat().st_size,
        skipped=dict(read.skipped),
        evaluation=evaluation,
    )
