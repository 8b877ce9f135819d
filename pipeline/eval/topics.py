"""Section-classification evaluation: per-label precision/recall/F1, accuracy and macro-F1.

Macro-F1 is the mean F1 over the labels present in the gold data; a label the classifier predicts
but the gold data never uses is not averaged in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.eval.ant import read_ant

__all__ = ["LabelScore", "TopicsReport", "TopicsScheme", "evaluate_topics", "score_labels"]

TopicsScheme = Literal["ant"]


@dataclass(frozen=True)
class LabelScore:
    """Precision, recall and F1 of one gold label, with its support (gold count)."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class TopicsReport:
    """Scores of a classifier against gold labels."""

    labels: list[LabelScore]
    accuracy: float
    macro_f1: float
    n: int
    skipped: dict[str, int] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def format(self) -> str:
        """Human-readable table; the last line is always ``macro-F1 0.xxx``."""
        width = max([len(s.label) for s in self.labels] + [5])
        lines = [f"{'label':<{width}}  {'P':>6} {'R':>6} {'F1':>6} {'n':>6}"]
        for s in self.labels:
            lines.append(f"{s.label:<{width}}  {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:6d}")
        if self.skipped:
            skipped = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
            lines.append(f"skipped files: {skipped}")
        lines.append(f"documents {self.n}")
        lines.append(f"accuracy {self.accuracy:.3f}")
        lines.append(f"macro-F1 {self.macro_f1:.3f}")
        return "\n".join(lines)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def score_labels(gold: Sequence[str], predicted: Sequence[str]) -> TopicsReport:
    """Per-label P/R/F1 over the gold labels, accuracy, and macro-F1 over labels present in `gold`."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    confusion: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, predicted, strict=True):
        row = confusion.setdefault(g, {})
        row[p] = row.get(p, 0) + 1
    scores: list[LabelScore] = []
    for label in sorted(confusion):
        tp = confusion[label].get(label, 0)
        support = sum(confusion[label].values())
        n_pred = sum(row.get(label, 0) for row in confusion.values())
        precision, recall = _ratio(tp, n_pred), _ratio(tp, support)
        f1 = _ratio(2 * tp, support + n_pred)
        scores.append(LabelScore(label, precision, recall, f1, support))
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    macro = sum(s.f1 for s in scores) / len(scores) if scores else 0.0
    return TopicsReport(
        labels=scores, accuracy=_ratio(correct, len(gold)), macro_f1=macro, n=len(gold), confusion=confusion
    )


def evaluate_topics(
    directory: Path, scheme: TopicsScheme, predict: Callable[[str, str], str]
) -> TopicsReport:
    """Run `predict(title, body)` on every document below `directory` and score it against the gold.

    Args:
        directory: folder (searched recursively) or single file of gold documents.
        scheme: the corpus format; ``"ant"``: one TREC-style `<DOC>` per file, label from `<CAT>`.
        predict: the classifier under test, e.g. `SectionClassifier.predict`.
    """
    if scheme != "ant":
        raise ValueError(f"unknown topics scheme {scheme!r}")
    read = read_ant(directory)
    gold = [d.label for d in read.documents]
    predicted = [predict(d.title, d.body) for d in read.documents]
    report = score_labels(gold, predicted)
    return TopicsReport(
        labels=report.labels,
        accuracy=report.accuracy,
        macro_f1=report.macro_f1,
        n=report.n,
        skipped=dict(read.skipped),
        confusion=report.confusion,
    )
