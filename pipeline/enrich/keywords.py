"""Salient keywords: frequent normalised stems that are not stop words (title counts double)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pipeline.config import read_text
from pipeline.text.tokenize import Analyzer

__all__ = ["extract_keywords", "load_stopwords"]


def load_stopwords(path: Path, analyzer: Analyzer) -> frozenset[str]:
    """One word per line, `#` comments; kept as analyzer stems, the form keywords are compared in."""
    if not path.is_file():
        return frozenset()
    words: set[str] = set()
    for line in read_text(path).splitlines():
        words.update(analyzer.terms(line.split("#", 1)[0]))
    return frozenset(words)


def extract_keywords(
    title_stems: Sequence[str], body_stems: Sequence[str], stopwords: frozenset[str], limit: int = 10
) -> list[str]:
    """Top stems by weighted frequency (title words count double), ties broken by first appearance."""

    def keep(stem: str) -> bool:
        return len(stem) >= 3 and stem not in stopwords and not stem.isdigit()

    counts: Counter[str] = Counter(title_stems)
    counts.update(counts)  # title weight 2
    counts.update(body_stems)
    # filtering the distinct stems afterwards, not every token, keeps the same counts and order
    kept = [(stem, n) for stem, n in counts.items() if keep(stem)]
    # Counter keeps first-insertion order, so a stable sort by count breaks ties by first appearance
    return [stem for stem, _ in sorted(kept, key=lambda kv: -kv[1])[:limit]]
