"""Highlighting computed from the original text: HTML-escaped fragments with matches in `<mark>`.

Matching reuses the analyzer, so a query for بوتين marks the word as written (وبوتين, لبوتين, بوتينُ).
Pure: takes text and the parsed query, returns strings.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from pipeline.models import Article
from pipeline.search.base import HIGHLIGHT_POST, HIGHLIGHT_PRE
from pipeline.search.query import ParsedQuery
from pipeline.text import Token

__all__ = [
    "FRAGMENT_CHARS",
    "MAX_FRAGMENTS",
    "TokenAnalyzer",
    "entity_marks",
    "highlight",
    "highlight_fields",
    "match_spans",
]

FRAGMENT_CHARS = 160
MAX_FRAGMENTS = 3
# how much text to show before the first match of a fragment
_LEAD_CHARS = 50


class TokenAnalyzer(Protocol):
    """What highlighting needs from `pipeline.text.Analyzer`."""

    def tokens(self, text: str) -> list[Token]: ...


def match_spans(tokens: Sequence[Token], query: ParsedQuery) -> list[tuple[int, int]]:
    """Character spans of tokens matching a positive single-word item, and of whole phrase matches."""
    # a phrase's words are marked only where the whole phrase is, as the engines match them
    terms = {f.terms[0] for group in query.groups for p in group if not p.is_phrase for f in p.forms()}
    phrases = [f.terms for p in query.positive_phrases() for f in p.forms()]
    stems = [t.stem for t in tokens]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        width = 0
        for phrase in phrases:
            n = len(phrase)
            if n > width and tuple(stems[i : i + n]) == phrase:
                width = n
        if width:
            spans.append((tokens[i].start, tokens[i + width - 1].end))
            i += width
            continue
        if stems[i] in terms:
            spans.append((tokens[i].start, tokens[i].end))
        i += 1
    return spans


def _render(text: str, start: int, end: int, spans: Sequence[tuple[int, int]]) -> str:
    """Escape `text[start:end]`, wrapping the spans inside it in <mark>."""
    out: list[str] = []
    pos = start
    for s, e in spans:
        if s < start or e > end or e <= pos:
            continue  # outside the window, or already marked (a ligature's words share its span)
        s = max(s, pos)
        out.append(html.escape(text[pos:s]))
        out.append(HIGHLIGHT_PRE + html.escape(text[s:e]) + HIGHLIGHT_POST)
        pos = e
    out.append(html.escape(text[pos:end]))
    return "".join(out).strip()


def _window(
    text: str, spans: Sequence[tuple[int, int]], first: int, size: int, floor: int
) -> tuple[int, int]:
    """About `size` characters around `spans[first]`, after `floor`, within its line, cut at spaces."""
    s0, e0 = spans[first]
    line_start = max(floor, text.rfind("\n", 0, s0) + 1)
    line_end = text.find("\n", e0)
    line_end = len(text) if line_end < 0 else line_end
    # a little context before the match, more when the match sits near the end of the line
    start = max(line_start, min(s0 - _LEAD_CHARS, line_end - size))
    if start > line_start:
        space = text.find(" ", start, s0)
        start = space + 1 if space >= 0 else start
    end = min(line_end, max(start + size, e0))
    if end < line_end:
        space = text.rfind(" ", e0, end)
        end = space if space >= 0 else end
    # never cut a match in two: stretch to the end of any span the window reaches into
    for s, e in spans:
        if s < end < e:
            end = e
    # nor a character from its marks, an emoji sequence, or a flag (when no space was near)
    # (a few characters at most: a hostile run of marks cannot stretch a fragment)
    for _ in range(_MAX_CLUSTER):
        if start < s0 and _inside_cluster(text, start):
            start += 1
        if _inside_cluster(text, end):
            end += 1
    return start, end


# zero-width joiner, variation selectors, skin tones: they join what follows to what precedes
_JOINERS = frozenset("\u200d\ufe0e\ufe0f") | frozenset(map(chr, range(0x1F3FB, 0x1F400)))
_FLAG_LETTERS = range(0x1F1E6, 0x1F200)  # regional indicators: a flag is a pair
_MAX_CLUSTER = 32
_MAX_FLAG_RUN = 2000  # letters counted back to pair them from the run's start (past that, a guess)


def _inside_cluster(text: str, i: int) -> bool:
    """Whether a cut at `i` would split what a reader sees as one character."""
    if not 0 < i < len(text):
        return False
    here, before = text[i], text[i - 1]
    if before == "\u200d" or here in _JOINERS or unicodedata.category(here) in ("Mn", "Mc", "Me"):
        return True
    if ord(here) in _FLAG_LETTERS and ord(before) in _FLAG_LETTERS:
        run = 0
        while i - run > 0 and run < _MAX_FLAG_RUN and ord(text[i - run - 1]) in _FLAG_LETTERS:
            run += 1
        return run % 2 == 1  # an odd number of letters before: `here` completes a pair
    return False


def _union(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with overlapping ones merged (a word match inside an entity mention is one mark)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def entity_marks(article: Article, entity_ids: Collection[str]) -> dict[str, list[tuple[int, int]]]:
    """Per field, the spans of the article's mentions of the entities a search filters on: an entity
    search shows where بوطين or Putin is written, though no query word matched it."""
    marks: dict[str, list[tuple[int, int]]] = {}
    if entity_ids:
        for m in article.entities:
            if m.canonical_id in entity_ids:
                marks.setdefault(m.field, []).append((m.start, m.end))
    return marks


def highlight(
    text: str,
    tokens: Sequence[Token],
    query: ParsedQuery,
    *,
    whole: bool = False,
    size: int = FRAGMENT_CHARS,
    max_fragments: int = MAX_FRAGMENTS,
    marks: Sequence[tuple[int, int]] = (),
) -> list[str]:
    """Fragments of `text` around matches and `marks` (the whole text when `whole`), or [] when
    nothing matches."""
    spans = _union([*match_spans(tokens, query), *((s, e) for s, e in marks if 0 <= s < e <= len(text))])
    if not spans:
        return []
    if whole:
        return [_render(text, 0, len(text), spans)]
    fragments: list[str] = []
    i, end = 0, 0
    while i < len(spans) and len(fragments) < max_fragments:
        start, end = _window(text, spans, i, size, floor=end)
        fragments.append(_render(text, start, end, spans))
        while i < len(spans) and spans[i][0] < end:
            i += 1
    return fragments


def highlight_fields(
    analyzer: TokenAnalyzer,
    fields: Sequence[tuple[str, str, bool]],
    query: ParsedQuery,
    marks: Mapping[str, Sequence[tuple[int, int]]] | None = None,
) -> dict[str, list[str]]:
    """Highlights per field name for (name, text, whole) triples, with extra `marks` per field name;
    fields without a match are left out."""
    if not query.groups and not marks:
        return {}
    out: dict[str, list[str]] = {}
    for name, text, whole in fields:
        if not text:
            continue
        fragments = highlight(
            text, analyzer.tokens(text), query, whole=whole, marks=(marks or {}).get(name, ())
        )
        if fragments:
            out[name] = fragments
    return out
