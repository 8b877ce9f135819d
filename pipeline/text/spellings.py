"""The other forms of a searched or watched word, for matching: what a search item or a watched word
also matches.

The entity registry tells its analyzer the listed names of each entity (`Analyzer.name_forms`); a
search for بوتين and a watch on the word بوتين then also match بوطين, بوتن and Putin. Shortest first,
without a spelling that contains a shorter one already kept (فلاديمير بوتن adds nothing to بوتن).

A single Arabic word also matches its sound plural and dual (`word_forms`): مظاهرة finds مظاهرات,
لاجئ لاجئين, عسكري عسكريين. The analyzer is a light stemmer and keeps these endings, which an analyst
searching for protests means to include; broken plurals (صاروخ, صواريخ) are other words to it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["MAX_SPELLINGS", "NameForms", "contains", "other_forms", "other_spellings", "word_forms"]

MAX_SPELLINGS = 12  # other spellings one name expands to

NameForms = Callable[[tuple[str, ...]], tuple[tuple[str, ...], ...]]


def contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """Whether `inner` occurs in `outer` as adjacent stems (every text matching `outer` matches it)."""
    n = len(inner)
    return any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


def other_spellings(
    terms: tuple[str, ...], name_forms: NameForms, budget: list[int] | None = None
) -> list[tuple[str, ...]]:
    """The other spellings of the name `terms` is, within `budget[0]` stems (decremented) when given."""
    kept: list[tuple[str, ...]] = []
    for form in sorted(name_forms(terms), key=len):
        if len(kept) == MAX_SPELLINGS or (budget is not None and len(form) > budget[0]):
            break
        if not any(contains(form, k) for k in (terms, *kept)):
            kept.append(form)
            if budget is not None:
                budget[0] -= len(form)
    return kept


_ARABIC_LETTERS = frozenset("ءؤئابتثجحخدذرزسشصضطظعغفقكلمنهويى")


def word_forms(terms: tuple[str, ...], name_forms: NameForms | None = None) -> list[tuple[str, ...]]:
    """The sound plural and dual stems of one Arabic word (a normalised stem: ة is ه): مظاهره →
    مظاهرات، مظاهرتان، مظاهرتين; احتجاج → احتجاجات، احتجاجين; لاجي → لاجيين، لاجيون.

    Only from four letters (three before ة): a shorter word's plural is a broken one (حزب, أحزاب), and
    its endings would make other words (سود is not سودان). Not ان after a word without ة: سليم is
    not سليمان. Nothing for a phrase (searched as its words run), a word that already ends in a plural
    or dual, or a name the registry lists (`name_forms`): كييف has no plural.
    """
    if len(terms) != 1 or (name_forms is not None and name_forms(terms)):
        return []
    word = terms[0]
    if len(word) < 4 or not set(word) <= _ARABIC_LETTERS or word.endswith(("ات", "ين", "ون", "ان")):
        return []
    if word.endswith("ه"):
        base = word[:-1]
        return [(base + "ات",), (base + "تان",), (base + "تين",)]
    if word.endswith(("ا", "و")):
        return []
    endings = ("ين", "ون") if word.endswith("ي") else ("ات", "ين", "ون")
    return [(word + ending,) for ending in endings]


def other_forms(
    terms: tuple[str, ...], name_forms: NameForms | None, budget: list[int] | None = None
) -> list[tuple[str, ...]]:
    """Everything a search item or a watched word also matches: the other spellings of the name it is
    (within `budget`, as `other_spellings`), then its sound plural and dual as a word."""
    spellings = other_spellings(terms, name_forms, budget) if name_forms is not None else []
    return [*spellings, *word_forms(terms, name_forms)]
