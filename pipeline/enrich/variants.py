"""Spelling-variant keys for transliterated names: بوتين/بوطين, جونغ/جونج, سيرغي/سيرجي map to one key.

Arabic writes foreign names inconsistently: ت/ط, ج/غ/ق (for g), ز/ذ/ظ, س/ص, long vowels written
or not. The key keeps the first letter's class and the consonant classes after it. It is only
used where a false match is unlikely: names of two or more words.

One word is matched more strictly (`word_keys`, `word_probes`): consonant classes folded but every
letter kept, and at most one long vowel written, dropped or changed in place (بوطين = بوتين,
اليونيسيف = اليونيسف, تيسلا = تسلا). On a single word the skeleton matched common names and places
to entities: نابل (Nabeul) to نيبال (Nepal), جوزيف to القذافي (both جزف), سيدني to السودان. A final ي
or the ا of a final يا is never the vowel that differs: مغربي، بغدادي، موريتاني are adjectives or family
names, not spellings of المغرب، بغداد، موريتانيا.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

__all__ = ["MIN_WORD_VARIANT", "skeleton", "skeleton_key", "word_keys", "word_probes"]

_CLASS = {"ط": "ت", "ث": "ت", "غ": "ج", "ق": "ج", "ذ": "ز", "ظ": "ز", "ص": "س", "ض": "د", "ى": "ي", "ة": "ه"}
_VOWELS = frozenset("اويىءأإآئؤ")
MIN_WORD_VARIANT = 5  # letters of a word looked up by `word_probes`: shorter ones are too often words


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


def _nisba_end(folded: str, i: int) -> bool:
    """Whether the long vowel at `i` is the end that turns a name into its adjective: a final ي
    (مغرب → مغربي, بغداد → بغدادي) or the ا of a final يا (موريتانيا → موريتاني)."""
    return i == len(folded) - 1 and (folded[i] == "ي" or (folded[i] == "ا" and folded[i - 1 : i] == "ي"))


def _fold(word: str) -> tuple[str, list[tuple[int, str]]]:
    """The word with consonant classes folded, and (position, the folded word without it) per long
    vowel, except a nisba ending: an adjective is not a spelling of the name it derives from."""
    folded = "".join(_CLASS.get(c, c) for c in word)
    return folded, [
        (i, folded[:i] + folded[i + 1 :])
        for i, c in enumerate(folded)
        if c in _VOWELS and not _nisba_end(folded, i)
    ]


def _changed_in_place(folded: str, dropped: list[tuple[int, str]]) -> list[str]:
    """Keys of a long vowel changed in place: never the last letter (a final vowel changes the word)."""
    return [f"{i}:{d}" for i, d in dropped if i < len(folded) - 1]


def word_keys(name: str) -> list[str]:
    """Index keys of a one-word name for `word_probes`: itself folded, and with each long vowel dropped
    (plain, and at its position: a change in place, never of the last letter)."""
    folded, dropped = _fold(name)
    return [f"={folded}", *(f"-{d}" for _, d in dropped), *_changed_in_place(folded, dropped)]


@lru_cache(maxsize=100_000)
def word_probes(word: str) -> tuple[str, ...]:
    """Keys to look a word up by: a name's `word_keys` share one with it when the two are equal once
    folded, or one has a long vowel the other lacks, or they differ by one long vowel at one place other
    than the end (a final vowel changes the word: the programme بوليتيكا is not the site بوليتيكو)."""
    folded, dropped = _fold(word)
    return (f"={folded}", f"-{folded}", *(f"={d}" for _, d in dropped), *_changed_in_place(folded, dropped))
