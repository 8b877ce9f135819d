"""Tokens with offsets into the original text, and light clitic segmentation that spares names.

Prefix clitics (و ف ب ل ك and the article ال) are split off for matching, so وبوتين and لبوتين
match بوتين. A lexicon of protected words (names from the entity registry) decides ambiguous
cases: لبنان is a name, not ل + بنان.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from pipeline.text.normalise import is_ignorable, normalise, normalise_with_offsets

__all__ = ["Analyzer", "Token", "strip_prefix", "tokenize"]

# words: letters, digits and combining marks; Arabic and Latin alike
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

# the article and its combinations: stripped when at least two letters remain
_ARTICLE_PREFIXES = ("وبال", "وكال", "وال", "فال", "بال", "كال", "ولل", "فلل", "لل", "ال")
# single conjunctions/prepositions, possibly stacked: stripped only when what remains is protected
# (single letters first: وبيونغ is و + بيونغ, not وب + يونغ)
_LETTER_PREFIXES = ("و", "ف", "ب", "ل", "ك", "س", "وب", "ول", "وك", "فب", "فل", "فك")


@dataclass(frozen=True, slots=True)
class Token:
    """A word: its original text and span, normalised form, and matching stem (prefixes removed)."""

    text: str
    start: int
    end: int
    norm: str
    stem: str


def strip_prefix(norm: str, protected: Collection[str] = ()) -> str:
    """Remove attached prefix clitics from a normalised word, never cutting a protected name."""
    if norm in protected:
        return norm
    for prefix in _LETTER_PREFIXES:
        if norm.startswith(prefix):
            rest = norm[len(prefix) :]
            if rest in protected:
                return rest
            if rest.startswith("ال") and rest[2:] in protected:
                return rest[2:]
    for prefix in _ARTICLE_PREFIXES:
        if norm.startswith(prefix) and len(norm) - len(prefix) >= 2:
            return norm[len(prefix) :]
    # a lone conjunction و (the most frequent clitic) when a real word remains
    if norm.startswith("و") and len(norm) >= 4:
        return norm[1:]
    return norm


def tokenize(text: str, protected: Collection[str] = ()) -> list[Token]:
    """Split `text` into tokens whose offsets point into `text` itself."""
    normed, origin = normalise_with_offsets(text)
    tokens: list[Token] = []
    for m in _WORD.finditer(normed):
        norm = m.group()
        start = origin[m.start()]
        end = origin[m.end() - 1] + 1
        while end < len(text) and is_ignorable(text[end]) and not text[end].isspace():
            end += 1  # keep trailing diacritics with their word
        tokens.append(
            Token(text=text[start:end], start=start, end=end, norm=norm, stem=strip_prefix(norm, protected))
        )
    return tokens


class Analyzer:
    """Tokenizer bound to a lexicon of protected names; shared by search, NER and alert matching."""

    def __init__(self, protected: Collection[str] = ()) -> None:
        self.protected = frozenset(normalise(p) for p in protected)

    def tokens(self, text: str) -> list[Token]:
        """Tokens of `text` with stems computed against the protected lexicon."""
        return tokenize(text, self.protected)

    def terms(self, text: str) -> list[str]:
        """The matching terms of `text` (stems), in order."""
        return [t.stem for t in self.tokens(text)]
