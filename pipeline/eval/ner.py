"""NER evaluation on CoNLL-style files with exact-span matching (`rasd eval ner`).

Each sentence's tokens are joined with single spaces and handed to the same extraction the
pipeline uses; predicted character spans are mapped back to the tokens they touch (a span that
starts after a clitic inside a token still starts at that token), and a prediction counts only
when its first token, last token and type all equal a gold entity's (CoNLL): a partial match is
both a false positive and a false negative.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.eval.conll import Sentence, read_conll, spans_of

__all__ = ["TYPES", "Extract", "NerReport", "TypeScore", "evaluate_ner", "score_sentences", "token_spans"]

TYPES = ("PER", "ORG", "LOC")
Extract = Callable[[str], list[tuple[int, int, str]]]


@dataclass
class TypeScore:
    """True positives, false positives and false negatives of one type."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp), 0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn), 0 when there is no gold entity."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class NerReport:
    """Per-type and micro-averaged scores, with the corpus size and the extraction speed."""

    scores: dict[str, TypeScore] = field(default_factory=lambda: {t: TypeScore() for t in TYPES})
    sentences: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def micro(self) -> TypeScore:
        """Counts summed over PER, ORG and LOC."""
        total = TypeScore()
        for s in self.scores.values():
            total.tp += s.tp
            total.fp += s.fp
            total.fn += s.fn
        return total

    def format(self) -> str:
        """Table of P/R/F1 per type; the last line is ``micro-F1 0.xxx``."""
        rate = self.sentences / self.seconds if self.seconds else 0.0
        lines = [
            f"{self.sentences} sentences, {self.tokens} tokens, {rate:.0f} sentences/s",
            f"{'type':<6}{'gold':>6}{'pred':>6}{'P':>8}{'R':>8}{'F1':>8}",
        ]
        for name, s in [*self.scores.items(), ("micro", self.micro)]:
            lines.append(
                f"{name:<6}{s.tp + s.fn:>6}{s.tp + s.fp:>6}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}"
            )
        lines.append(f"micro-F1 {self.micro.f1:.3f}")
        return "\n".join(lines)


def token_spans(
    tokens: Sequence[str], predicted: Iterable[tuple[int, int, str]]
) -> set[tuple[int, int, str]]:
    """Map character spans over ``" ".join(tokens)`` to (first token, last token + 1, type)."""
    starts: list[int] = []
    pos = 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    out: set[tuple[int, int, str]] = set()
    for start, end, etype in predicted:
        if end <= start or etype not in TYPES:
            continue
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, end - 1) - 1
        if first < 0 or last < first:
            continue
        out.add((first, last + 1, etype))
    return out


def score_sentences(sentences: Iterable[Sentence], extract: Extract) -> NerReport:
    """Run `extract` on every sentence and count exact-span matches per type."""
    report = NerReport()
    started = time.perf_counter()
    for sent in sentences:
        report.sentences += 1
        report.tokens += len(sent.tokens)
        gold = spans_of(sent.tags)
        pred = token_spans(sent.tokens, extract(" ".join(sent.tokens)))
        for span in pred:
            score = report.scores[span[2]]
            if span in gold:
                score.tp += 1
            else:
                score.fp += 1
        for span in gold - pred:
            report.scores[span[2]].fn += 1
    report.seconds = time.perf_counter() - started
    return report


def evaluate_ner(path: Path, scheme: str, extract: Extract) -> NerReport:
    """Score `extract` on the CoNLL-style file at `path` read with `scheme`."""
    return score_sentences(read_conll(path, scheme), extract)
