from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.enrich.classifier_train import (
    TrainOptions,
    content_key,
    cross_validate,
    dedupe_split,
    stratified_folds,
    train_sections,
)
from pipeline.eval.ant import AntDocument

pytest.importorskip("sklearn")

SPORT = ["مباراة كرة القدم والهدف", "الفريق فاز في المباراة", "اللاعب سجل هدفا في الملعب", "الترجي والنجم"]
MONEY = [
    "البورصة والأسعار ارتفعت",
    "البنك المركزي والدينار",
    "الصادرات والاستثمار في السوق",
    "ميزانية الدولة",
]
TINY = TrainOptions(word_min_df=1, char_min_df=1, max_features=500)


def _docs() -> list[AntDocument]:
    return [AntDocument(f"s{i}", "sport", t, t) for i, t in enumerate(SPORT)] + [
        AntDocument(f"e{i}", "economy", t, t) for i, t in enumerate(MONEY)
    ]


def test_content_key_ignores_marks_and_spacing() -> None:
    a = AntDocument("a", "sport", "فوز  الترجي", "سجّل اللاعب\nهدفين")
    b = AntDocument("b", "society", "فوز الترجي", "سجل اللاعب هدفين")
    c = AntDocument("c", "sport", "فوز الترجي", "سجل اللاعب ثلاثة أهداف")
    assert content_key(a) == content_key(b) != content_key(c)


def test_dedupe_split_drops_leaking_and_repeated_copies() -> None:
    docs = [
        AntDocument("0", "sport", "ت", "نص أول"),
        AntDocument("1", "sport", "ت", "نص أول"),  # repeat inside the training part
        AntDocument("2", "sport", "ت", "نص ثان"),
        AntDocument("3", "society", "ت", "نص  أول"),  # held out, but its text is in the training part
        AntDocument("4", "sport", "ت", "نص ثالث"),
        AntDocument("5", "sport", "ت", "نص ثالث"),  # repeat inside the held-out part
    ]
    train, held, counts = dedupe_split(docs, [0, 1, 2], [3, 4, 5])
    assert train == [0, 2]
    assert held == [4]
    assert counts == {"train": 1, "held-out in train": 1, "held-out repeats": 1}


def test_stratified_folds_partition_and_balance() -> None:
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 3
    folds = stratified_folds(labels, 3, seed=0)
    assert sorted(i for f in folds for i in f) == list(range(len(labels)))
    for fold in folds:
        counts = Counter(labels[i] for i in fold)
        assert 3 <= counts["a"] <= 4 and 1 <= counts["b"] <= 2 and counts["c"] == 1
    assert folds == stratified_folds(labels, 3, seed=0)  # deterministic


def test_cross_validate_reports_every_fold() -> None:
    cv = cross_validate(_docs(), TINY, folds=2, seed=0)
    assert len(cv.folds) == 2
    assert sum(r.n for r in cv.folds) == 8
    f1, sd = cv.macro_f1
    assert 0.0 <= f1 <= 1.0 and sd >= 0.0
    assert cv.format().startswith("cv 2 folds (seed 0): macro-F1 ")
    with pytest.raises(ValueError):
        cross_validate(_docs(), TINY, folds=1)


def _write_ant(root: Path, docs: list[AntDocument]) -> None:
    for d in docs:
        path = root / d.label / f"{d.docno}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"<DOC><DOCNO>{d.docno}</DOCNO><CAT>{d.label}</CAT><TITLE>{d.title}</TITLE>"
            f"<TEXT>{d.body}</TEXT></DOC>",
            encoding="utf-8",
        )


def test_train_sections_dedupes_and_cross_validates(tmp_path: Path) -> None:
    docs = _docs()
    docs += [AntDocument(f"{d.docno}-copy", d.label, d.title, d.body) for d in docs[:2]]
    _write_ant(tmp_path / "ant", docs)
    report = train_sections(tmp_path / "ant", tmp_path / "m.npz", holdout=0.25, options=TINY, cv_folds=2)
    assert sum(report.duplicates.values()) == 2
    held_dropped = report.duplicates["held-out in train"] + report.duplicates["held-out repeats"]
    assert report.n_train + report.n_holdout + held_dropped == 10  # the model sees the whole training part
    assert report.cv is not None and len(report.cv.folds) == 2
    text = report.format()
    assert "exact duplicates not scored" in text and "cv 2 folds" in text
    assert text.splitlines()[-1].startswith("macro-F1 ")
