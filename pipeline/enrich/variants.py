"""Spelling-variant keys for transliterated names: بوتين/بوطين, جونغ/جونج, سيرغي/سيرجي map to one key.

Arabic writes foreign names inconsistently: ت/ط, ج/غ/ق (for g), ز/ذ/ظ, س/ص, long vowels written
or not. The key keeps the first letter's class and the consonant classes after it. It is only
used where a false match is unlikely: multi-word names in running text, and spans a tagger has
already typed as a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

__all__ = ["skeleton", "skeleton_key"]

_CLASS = {"ط": "ت", "ث": "ت", "غ": "ج", "ق": "ج", "ذ": "ز", "ظ": "ز", "ص": "س", "ض": "د", "ى": "ي", "ة": "ه"}
_VOWELS = frozenset("اويىءأإآئؤ")


@lru_cache(maxsize=100_000)
def skeleton(word: str) -> str:
    """First letter (by class) plus the consonant classes that follow; Latin words are kept."""
    if not word or not ("\u0600" <= word[0] <= "\u06ff"):
        return word
    first = _CLASS.get(word[0], word[0])
    if first in _VOWELS:
        first = "ا"
    rest = "".join(_CLASS.get(c, c) for c in word[1:] if c not in _VOWELS)
    return first + rest


def skeleton_key(stems: Sequence[str]) -> tuple[str, ...]:
    """Key of a multi-word name from its analyzer stems."""
    return tuple(skeleton(s) for s in stems)
