"""The safe user query syntax, parsed into a backend-neutral `ParsedQuery`.

Syntax (nothing else has a meaning; every other character is literal text):

- words are AND-ed: ``بوتين كيم``
- ``"quoted phrases"`` match the words next to each other, in order; an unclosed quote runs to the end
- ``-word`` and ``-"a phrase"`` exclude articles that contain them
- ``OR`` (upper case, between two positive items) makes alternatives: ``روسيا OR موسكو``

Words become analyzer stems (`pipeline.text.Analyzer`), so ``وبوتين`` in a query is ``بوتين``. A word
that the analyzer splits into several tokens (``e-mail``, ``a*b``, ``NEAR(x``) is searched as a phrase
of those tokens. Engine syntax (FTS5 operators, column filters, ``*``, ``^``, parentheses) never
reaches a backend: backends compile only the stems held here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pipeline.errors import InvalidQuery
from pipeline.text.tokenize import preposition_forms

__all__ = ["MAX_QUERY_TERMS", "ParsedQuery", "Phrase", "TermAnalyzer", "parse_user_query"]

MAX_QUERY_TERMS = 32
_OR = "OR"
_QUOTE = '"'


class TermAnalyzer(Protocol):
    """What the parser needs from `pipeline.text.Analyzer`."""

    def terms(self, text: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Phrase:
    """One query item: a single stem or a sequence of stems that must be adjacent, plus the text typed."""

    terms: tuple[str, ...]
    text: str = ""

    @property
    def is_phrase(self) -> bool:
        """True when more than one stem must match in order."""
        return len(self.terms) > 1

    def forms(self) -> tuple[Phrase, ...]:
        """What backends and highlighting match: the item, and its first word behind a preposition the
        analyzer leaves on ordinary words (a search for وقف إطلاق النار finds لوقف إطلاق النار)."""
        return tuple(
            Phrase((first, *self.terms[1:]), self.text) for first in preposition_forms(self.terms[0])
        )


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query as backends compile it: AND of `groups` (each an OR of alternatives) minus `excluded`.

    An empty query (no groups, nothing excluded) matches every article that passes the filters.
    """

    groups: tuple[tuple[Phrase, ...], ...] = ()
    excluded: tuple[Phrase, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the query matches everything (filters only)."""
        return not self.groups and not self.excluded

    def positive_terms(self) -> frozenset[str]:
        """Every stem the user asked for, alone or in a phrase (not the excluded ones)."""
        return frozenset(t for group in self.groups for p in group for t in p.terms)

    def positive_phrases(self) -> tuple[Phrase, ...]:
        """The multi-stem alternatives, whose matches are highlighted as one span."""
        return tuple(p for group in self.groups for p in group if p.is_phrase)


@dataclass(frozen=True, slots=True)
class _Item:
    text: str
    quoted: bool
    negated: bool


def _scan(text: str) -> list[_Item]:
    """Split user text into bare words, quoted phrases and their negations; never fails."""
    items: list[_Item] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        negated = False
        if c == "-" and i + 1 < n and not text[i + 1].isspace():
            negated = True
            i += 1
            c = text[i]
        if c == _QUOTE:
            close = text.find(_QUOTE, i + 1)
            end = n if close < 0 else close
            items.append(_Item(text[i + 1 : end], quoted=True, negated=negated))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] != _QUOTE:
            i += 1
        items.append(_Item(text[start:i], quoted=False, negated=negated))
    return items


def parse_user_query(text: str, analyzer: TermAnalyzer, *, max_terms: int = MAX_QUERY_TERMS) -> ParsedQuery:
    """Parse text in the safe syntax into stems; blank text gives the empty (match-all) query.

    Raises:
        InvalidQuery: the text has no searchable word (only punctuation or operators), only
            exclusions, or more than `max_terms` stems.
    """
    if not text.strip():
        return ParsedQuery()
    items = _scan(text)
    # (phrase, negated) in order; OR markers kept as None until grouping
    sequence: list[tuple[Phrase, bool] | None] = []
    for item in items:
        if not item.quoted and not item.negated and item.text == _OR:
            sequence.append(None)
            continue
        stems = tuple(s for s in analyzer.terms(item.text) if s)
        if stems:
            sequence.append((Phrase(stems, item.text), item.negated))

    groups: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    join_next = False
    for pos, entry in enumerate(sequence):
        if entry is None:
            prev = sequence[pos - 1] if pos > 0 else None
            nxt = sequence[pos + 1] if pos + 1 < len(sequence) else None
            if prev is not None and nxt is not None and not prev[1] and not nxt[1]:
                join_next = True
            else:  # a dangling OR is just the word "or"
                groups.append([Phrase(tuple(analyzer.terms(_OR)), _OR)])
            continue
        phrase, negated = entry
        if negated:
            excluded.append(phrase)
        elif join_next and groups:
            groups[-1].append(phrase)
        else:
            groups.append([phrase])
        join_next = False

    n_terms = sum(len(p.terms) for g in groups for p in g) + sum(len(p.terms) for p in excluded)
    if n_terms > max_terms:
        raise InvalidQuery(f"the query has {n_terms} words; at most {max_terms} are allowed")
    if not groups:
        if excluded:
            raise InvalidQuery("the query only excludes words (-word); add at least one word to search for")
        raise InvalidQuery("the query has no searchable words (only punctuation or operators)")
    return ParsedQuery(
        groups=tuple(_dedupe(tuple(g)) for g in groups),
        excluded=_dedupe(tuple(excluded)),
    )


def _dedupe(phrases: tuple[Phrase, ...]) -> tuple[Phrase, ...]:
    """Drop alternatives with the same stems (روسيا OR لروسيا), keeping the first as typed."""
    seen: set[tuple[str, ...]] = set()
    out: list[Phrase] = []
    for p in phrases:
        if p.terms not in seen:
            seen.add(p.terms)
            out.append(p)
    return tuple(out)
