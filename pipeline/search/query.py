"""The safe user query syntax, parsed into a backend-neutral `ParsedQuery`.

Syntax (nothing else has a meaning; every other character is literal text):

- words are AND-ed: ``بوتين كيم``
- ``"quoted phrases"`` match the words next to each other, in order; an unclosed quote runs to the end
- ``-word`` and ``-"a phrase"`` exclude articles that contain them
- ``OR`` (upper case, between two positive items) makes alternatives: ``روسيا OR موسكو``

Words become analyzer stems (`pipeline.text.Analyzer`), so ``وبوتين`` in a query is ``بوتين``. An
item that names a registry entity also matches its other listed names, as alternatives (``بوتين`` finds
``بوطين``, ``بوتن`` and ``Putin``; ``-بوتين`` excludes them all), when the analyzer knows them
(`Analyzer.name_forms`, set by the registry); they do not count against `MAX_QUERY_TERMS`. A bare
Arabic word also matches its sound plural and dual (``مظاهرة`` finds ``مظاهرات``: `word_forms`). A phrase
the user quoted is searched as written. A word
that the analyzer splits into several tokens (``e-mail``, ``a*b``, ``NEAR(x``) is searched as a phrase
of those tokens. Engine syntax (FTS5 operators, column filters, ``*``, ``^``, parentheses) never
reaches a backend: backends compile only the stems held here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pipeline.errors import InvalidQuery
from pipeline.text.spellings import NameForms, other_forms
from pipeline.text.tokenize import phrase_forms

__all__ = ["MAX_QUERY_TERMS", "ParsedQuery", "Phrase", "TermAnalyzer", "parse_user_query"]

MAX_QUERY_TERMS = 32
MAX_NAME_FORM_TERMS = 96  # stems all expansions of a query add
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
        """What backends and highlighting match: the item, its first word behind a preposition the
        analyzer leaves on ordinary words, and a phrase's second word behind ل (a search for وقف إطلاق
        النار finds لوقف إطلاق النار and وقف لإطلاق النار)."""
        return tuple(Phrase(form, self.text) for form in phrase_forms(self.terms))


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
    named: bool = False  # bare words joined because together they name a registry entity


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
    name_forms = getattr(analyzer, "name_forms", None)
    if name_forms is not None:
        items = _join_names(items, analyzer, name_forms)
    expandable: set[int] = set()  # ids of the phrases that also match the entity's other names
    # (phrase, negated) in order; OR markers kept as None until grouping
    sequence: list[tuple[Phrase, bool] | None] = []
    for item in items:
        if not item.quoted and not item.negated and item.text == _OR:
            sequence.append(None)
            continue
        stems = tuple(s for s in analyzer.terms(item.text) if s)
        if stems:
            phrase = Phrase(stems, item.text)
            if item.named or not item.quoted:  # a phrase the user quoted is searched as written
                expandable.add(id(phrase))
            sequence.append((phrase, item.negated))

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
    # other spellings of a name (within the budget) and a word's sound plural and dual (مظاهرة:
    # مظاهرات), for bare items; a quoted one is searched only as written
    budget = [MAX_NAME_FORM_TERMS]

    def more(phrases: list[Phrase]) -> list[Phrase]:
        return [
            Phrase(form, p.text)
            for p in phrases
            if id(p) in expandable
            for form in other_forms(p.terms, name_forms, budget)
        ]

    groups = [[*g, *more(g)] for g in groups]
    excluded = [*excluded, *more(excluded)]
    return ParsedQuery(
        groups=tuple(_dedupe(tuple(g)) for g in groups),
        excluded=_dedupe(tuple(excluded)),
    )


_MAX_NAME_WORDS = 6


def _join_names(
    items: list[_Item],
    analyzer: TermAnalyzer,
    name_forms: NameForms,
) -> list[_Item]:
    """Bare words in a row that together name a registry entity with other spellings become one
    phrase (كيم جونغ أون → "كيم جونغ أون", which then also finds كيم جونج اون and Kim Jong Un): the
    longest such run wins; words that name nothing stay separate words."""
    out: list[_Item] = []
    i = 0
    while i < len(items):
        joined = None
        for n in range(min(_MAX_NAME_WORDS, len(items) - i), 1, -1):
            run = items[i : i + n]
            if any(it.quoted or it.negated or it.text == _OR for it in run):
                continue
            stems = tuple(s for it in run for s in analyzer.terms(it.text) if s)
            if len(stems) == n and name_forms(stems):
                joined = _Item(" ".join(it.text for it in run), quoted=True, negated=False, named=True)
                i += n
                break
        if joined is None:
            joined = items[i]
            i += 1
        out.append(joined)
    return out


def _dedupe(phrases: tuple[Phrase, ...]) -> tuple[Phrase, ...]:
    """Drop alternatives with the same stems (روسيا OR لروسيا), keeping the first as typed."""
    seen: set[tuple[str, ...]] = set()
    out: list[Phrase] = []
    for p in phrases:
        if p.terms not in seen:
            seen.add(p.terms)
            out.append(p)
    return tuple(out)
