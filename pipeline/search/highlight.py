"""Highlighting computed from the original text: HTML-escaped fragments with matches in `<mark>`.

Matching reuses the analyzer, so a query for بوتين marks the word as written (وبوتين, لبوتين, بوتينُ).
Pure: takes text and the parsed query, returns strings.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Protocol

from pipeline.search.base import HIGHLIGHT_POST, HIGHLIGHT_PRE
from pipeline.search.query import ParsedQuery
from pipeline.text import Token

__all__ = ["FRAGMENT_CHARS", "MAX_FRAGMENTS", "TokenAnalyzer", "highlight", "highlight_fields", "match_spans"]

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
    terms = {p.terms[0] for group in query.groups for p in group if not p.is_phrase}
    phrases = [p.terms for p in query.positive_phrases()]
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
        if s < start or e > end:
            continue
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
    return start, end


def highlight(
    text: str,
    tokens: Sequence[Token],
    query: ParsedQuery,
    *,
    whole: bool = False,
    size: int = FRAGMENT_CHARS,
    max_fragments: int = MAX_FRAGMENTS,
) -> list[str]:
    """Fragments of `text` around matches (the whole text when `whole`), or [] when nothing matches."""
    spans = match_spans(tokens, query)
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
) -> dict[str, list[str]]:
    """Highlights per field name for (name, text, whole) triples; fields without a match are left out."""
    if not query.groups:
        return {}
    out: dict[str, list[str]] = {}
    for name, text, whole in fields:
        if not text:
            continue
        fragments = highlight(text, analyzer.tokens(text), query, whole=whole)
        if fragments:
            out[name] = fragments
    return out
