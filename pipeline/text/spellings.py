"""The other spellings of a name, for matching: what a search item or a watched word also matches.

The entity registry tells its analyzer the listed names of each entity (`Analyzer.name_forms`); a
search for بوتين and a watch on the word بوتين then also match بوطين, بوتن and Putin. Shortest first,
without a spelling that contains a shorter one already kept (فلاديمير بوتن adds nothing to بوتن).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["MAX_SPELLINGS", "NameForms", "contains", "other_spellings"]

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
