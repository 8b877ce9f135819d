"""Page-extraction evaluation: token-level F1 of the extracted main text against reference text.

A sample is `NAME.html` beside `NAME.txt`. The reference is the `<TEXT>` of an ANT document (the
crawler's extraction; the title, abstract and other fields are left out) or, for a plain `.txt`, the
whole file. Tokens are normalised with the project's one normaliser (`pipeline/text/normalise.py`:
NFKC presentation forms, no diacritics/tatweel/bidi or zero-width controls, unified alef, ya/alef
maqsura, ta marbuta and digits, case-folded), then split into `\\w+` runs (punctuation is dropped).
Precision, recall and F1 count tokens as a multiset (bag of words), as in SQuAD; the mean is over files,
and a page the extractor returns nothing for scores 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pipeline.eval.ant import parse_ant
from pipeline.text.normalise import normalise

__all__ = ["ExtractReport", "PageScore", "evaluate_extract", "reference_text", "token_f1", "tokens"]

_WORD: Final = re.compile(r"\w+")


@dataclass(frozen=True)
class PageScore:
    """Token precision, recall and F1 of one page, with the token counts."""

    name: str
    precision: float
    recall: float
    f1: float
    predicted_tokens: int
    reference_tokens: int


@dataclass(frozen=True)
class ExtractReport:
    """Scores of every sample page; `mean_f1` is the unweighted mean over pages."""

    pages: list[PageScore]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def mean_f1(self) -> float:
        return sum(p.f1 for p in self.pages) / len(self.pages) if self.pages else 0.0

    def format(self) -> str:
        """A per-page table; the last line is always ``mean-F1 0.xxx``."""
        width = max([len(p.name) for p in self.pages] + [4])
        lines = [f"{'page':<{width}}  {'P':>6} {'R':>6} {'F1':>6} {'tokens':>7} {'ref':>6}"]
        for p in self.pages:
            lines.append(
                f"{p.name:<{width}}  {p.precision:6.3f} {p.recall:6.3f} {p.f1:6.3f} "
                f"{p.predicted_tokens:7d} {p.reference_tokens:6d}"
            )
        for name, reason in sorted(self.skipped.items()):
            lines.append(f"skipped {name}: {reason}")
        lines.append(f"pages {len(self.pages)}")
        lines.append(f"mean-F1 {self.mean_f1:.3f}")
        return "\n".join(lines)


def tokens(text: str) -> Counter[str]:
    """Normalised word tokens of `text`, counted."""
    return Counter(_WORD.findall(normalise(text)))


def token_f1(predicted: str, reference: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the predicted tokens against the reference, as multisets."""
    pred, ref = tokens(predicted), tokens(reference)
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(ref.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def reference_text(raw: str) -> str:
    """The reference main text of a `.txt`: an ANT document's `<TEXT>`, else the whole file."""
    if "<DOC>" in raw.upper():
        parsed = parse_ant(raw)
        if not isinstance(parsed, str):
            return parsed.body
    return raw.strip()


def evaluate_extract(directory: Path, extract: Callable[[bytes, str], str | None]) -> ExtractReport:
    """Score `extract(html_bytes, name) -> main text` on every `*.html` with a `.txt` beside it.

    Args:
        directory: folder of `NAME.html` / `NAME.txt` pairs (not searched recursively).
        extract: the extraction under test, from page bytes (decoding included) to text or None.
    """
    pages: list[PageScore] = []
    skipped: dict[str, str] = {}
    for html_path in sorted(directory.glob("*.html")):
        txt_path = html_path.with_suffix(".txt")
        if not txt_path.is_file():
            skipped[html_path.name] = "no .txt beside it"
            continue
        reference = reference_text(txt_path.read_text(encoding="utf-8", errors="replace"))
        predicted = extract(html_path.read_bytes(), html_path.name) or ""
        precision, recall, f1 = token_f1(predicted, reference)
        pages.append(
            PageScore(
                name=html_path.stem,
                precision=precision,
                recall=recall,
                f1=f1,
                predicted_tokens=sum(tokens(predicted).values()),
                reference_tokens=sum(tokens(reference).values()),
            )
        )
    return ExtractReport(pages=pages, skipped=skipped)
