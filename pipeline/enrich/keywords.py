"""Salient keywords: frequent normalised stems that are not stop words (title counts double)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pipeline.text.tokenize import Analyzer

__all__ = ["extract_keywords", "load_stopwords"]


def load_stopwords(path: Path, analyzer: Analyzer) -> frozenset[str]:
    """One word per line, `#` comments; kept as analyzer stems, the form keywords are compared in."""
    if not path.is_file():
        return frozenset()
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        words.update(analyzer.terms(line.split("#", 1)[0]))
    return frozenset(words)


def extract_keywords(
    title_stems: Sequence[str], body_stems: Sequence[str], stopwords: frozenset[str], limit: int = 10
) -> list[str]:
    """Top stems by weighted frequency, ties broken by first appearance."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for pos, (stem, weight) in enumerate([(s, 2) for s in title_stems] + [(s, 1) for s in body_stems]):
        if len(stem) < 3 or stem.isdigit() or stem in stopwords:
            continue
        counts[stem] += weight
        first.setdefault(stem, pos)
    ranked = sorted(counts, key=lambda s: (-counts[s], first[s]))
    return ranked[:limit]
