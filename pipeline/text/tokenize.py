"""Tokens with offsets into the original text, and light clitic segmentation that spares names.

Prefix clitics (و ف ب ل ك and the article ال) are split off for matching, so وبوتين and لبوتين
match بوتين; so are attached pronouns (زيارته → زياره, رئيسها → رييس) where enough of the word
remains. A lexicon of protected words (names from the entity registry) decides ambiguous cases:
لبنان is a name, not ل + بنان, and أستانا keeps its نا. Kept words are left whole: words whose first
letters are their own, not clitics (وزير, لاعب, التزام: `config/entities/root_words.txt`), keep them
with a pronoun or an ending after them, and lose only the clitics in front (بالتزام → التزام,
للاعب → لاعب).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Callable, Collection
from typing import NamedTuple

from pipeline.text.normalise import normalise, normalise_with_offsets

__all__ = [
    "ANALYSIS_VERSION",
    "ARTICLE_PREFIXES",
    "LETTER_PREFIXES",
    "Analyzer",
    "Token",
    "preposition_forms",
    "stem",
    "strip_prefix",
    "strip_suffix",
    "tokenize",
]

# words in normalised text: letters and digits; Arabic and Latin alike
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"
_INVISIBLE = "\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
# words in original text: diacritics inside/after a word, invisible marks only between its letters
_WORD_ORIGINAL = re.compile(
    rf"[^\W_](?:[^\W_]|[{_MARKS}]|[{_INVISIBLE}]+(?=[^\W_]|[{_MARKS}]))*"
    rf"(?:['’][^\W_](?:[^\W_]|[{_MARKS}])*)?"
)
# without marks or invisible characters the pattern above is exactly `_WORD`, which runs 1.6x
# faster; most news text has none (63% of ANT articles), and one C-level search tells
_DECORATED = re.compile(f"[{_MARKS}{_INVISIBLE}]")


def _word_pattern(text: str) -> re.Pattern[str]:
    return _WORD_ORIGINAL if _DECORATED.search(text) else _WORD


# the article and its combinations: stripped when at least two letters remain
ARTICLE_PREFIXES = ("وبال", "وكال", "وال", "فال", "بال", "كال", "ولل", "فلل", "لل", "ال")
# single conjunctions/prepositions, possibly stacked: stripped only when what remains is protected
# (single letters first: وبيونغ is و + بيونغ, not وب + يونغ). Not the future particle س, which only
# takes a verb: سبيل is no س + بيل
LETTER_PREFIXES = ("و", "ف", "ب", "ل", "ك", "وب", "ول", "وك", "فب", "فل", "فك")
_LETTER_PREFIX_SET = frozenset(LETTER_PREFIXES)
# pronoun suffixes after a (normalised) ta marbuta: زيارته → زياره
_TA_SUFFIXES = ("تهما", "تكما", "تهم", "تهن", "تها", "تنا", "تكم", "ته", "تك")
# other attached pronouns, stripped only when at least four letters remain (تفاهم stays whole)
_PRONOUN_SUFFIXES = ("هما", "كما", "هم", "هن", "ها", "كم")  # not نا: كورونا، غانا، فيينا
_ALL_SUFFIXES = _TA_SUFFIXES + _PRONOUN_SUFFIXES


# Bump when a change to the normaliser or the clitic rules changes the terms of some text: a search
# index records the `Analyzer.fingerprint` it was built with and reports its articles as stale.
# 2: isolated harakat and non-Arabic case folds (normalise), the summary/body gap; 3: no س before a
# name, a word's own first و, ل or ال kept (وزير was زير, while الوزير was وزير)
ANALYSIS_VERSION = 3
_CACHE_LIMIT = 300_000  # distinct word forms remembered per analyzer (news vocabulary is Zipfian)


class Token(NamedTuple):
    """A word: its original text and span, normalised form, and matching stem (prefixes removed).

    A named tuple rather than a frozen dataclass: an article makes hundreds of tokens, and a tuple
    is built several times faster.
    """

    text: str
    start: int
    end: int
    norm: str
    stem: str
    prefix: str = ""

    @property
    def has_article(self) -> bool:
        """Whether the word was written with the article (ال, or لل for ل + ال)."""
        return self.prefix.endswith(("ال", "لل"))


# prepositions the analyzer leaves on an ordinary word (it cuts them only off protected names, and
# و off any word of four letters or more): matching adds them to a searched or watched word instead
_PREPOSITIONS = ("ب", "ل", "ك", "ف", "فب", "فل", "فك")


def preposition_forms(stem: str) -> tuple[str, ...]:
    """The stems a searched or watched word also has behind a preposition (لوقف, بهدنه), itself first;
    only for Arabic words of three letters or more (حر is not بحر "sea")."""
    if len(stem) < 3 or not "\u0621" <= stem[0] <= "\u064a":
        return (stem,)
    return (stem, *(p + stem for p in _PREPOSITIONS))


def inner_forms(stem: str) -> tuple[str, ...]:
    """The stems a phrase's second word also has: behind ل, which the analyzer leaves on ordinary
    words (وقف لإطلاق النار is وقف إطلاق النار); itself first, only for Arabic words of 3+ letters."""
    if len(stem) < 3 or not "\u0621" <= stem[0] <= "\u064a":
        return (stem,)
    return (stem, "ل" + stem)


def phrase_forms(terms: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The stem sequences a phrase also matches as: itself, its first word behind a preposition the
    analyzer leaves on ordinary words, and its second word behind ل (لوقف إطلاق النار, وقف لإطلاق
    النار). Search, highlighting and topic terms match these; `rules` checks the same positions."""
    out = [(first, *terms[1:]) for first in preposition_forms(terms[0])]
    if len(terms) > 1:
        out += [(terms[0], second, *terms[2:]) for second in inner_forms(terms[1])[1:]]
    return out


def strip_prefix(norm: str, protected: Collection[str] = (), kept: Collection[str] = ()) -> str:
    """Remove attached prefix clitics from a normalised word, never cutting a protected or kept word.

    A protected name also pulls clitics off a word (لبوتين → ل + بوتين); a kept word is only left
    whole (وليد stays وليد), so a short name cannot turn a common word into a name (بيان ≠ ب + يان).
    """
    if norm in protected or norm in kept:
        return norm
    # every new word of every article comes through here, so the loops are skipped by set lookups
    # and one C-level `startswith` over a whole tuple
    if protected:
        # a word starts with at most one single-letter and one two-letter prefix of the list, and
        # single letters come first in it: two set lookups stand for the whole ordered loop
        for cut in (1, 2):
            if norm[:cut] in _LETTER_PREFIX_SET:
                rest = norm[cut:]
                if rest in protected:
                    return rest
                if rest.startswith("ال") and rest[2:] in protected:
                    return rest[2:]
    if norm.startswith(ARTICLE_PREFIXES):
        if kept and norm.startswith("ال") and _kept_word(norm, protected, kept):
            return norm  # its own ال: التزام, الكترونيه (إلكترونية once normalised)
        for prefix in ARTICLE_PREFIXES:
            if norm.startswith(prefix) and len(norm) - len(prefix) >= 2:
                rest = norm[len(prefix) :]
                if kept and prefix.endswith("لل") and _kept_word("ل" + rest, protected, kept):
                    return "ل" + rest  # للاعب is ل + اللاعب: the article's ل fell before the word's
                if (
                    kept
                    and prefix.endswith("ال")
                    and prefix != "ال"
                    and _kept_word("ال" + rest, protected, kept)
                ):
                    return "ال" + rest  # بالتزام is ب + التزام
                return rest
    # a lone conjunction و (the most frequent clitic) when a real word remains
    if norm.startswith("و") and len(norm) >= 4 and not (kept and _kept_word(norm, protected, kept)):
        return norm[1:]
    return norm


# endings after which a kept word is still that word: وطنيا, وزيران, وطنيه (ة), وثائقي
_KEPT_ENDINGS = ("ان", "ين", "ون", "ات", "ا", "ه", "ي")


def _kept_word(norm: str, protected: Collection[str], kept: Collection[str]) -> bool:
    """Whether a word is a kept word (وزير, التزام) with a pronoun (وزيرها) or an ending (وزيرا,
    وزيران) after it: its first letters are its own, not clitics. Without this, وزير was زير while
    الوزير was وزير, and التزام was تزام while الالتزام was التزام."""
    if strip_suffix(norm, protected, kept) in kept:
        return True
    return any(norm.endswith(e) and norm[: -len(e)] in kept for e in _KEPT_ENDINGS)


def strip_suffix(word: str, protected: Collection[str] = (), kept: Collection[str] = ()) -> str:
    """Remove an attached pronoun from a prefix-stripped word, never from a protected or kept word."""
    if word in protected or word in kept:
        return word
    if not word.endswith(_ALL_SUFFIXES) or not ("\u0600" <= word[-1:] <= "\u06ff"):
        return word
    for suffix in _TA_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)] + "ه"
    for suffix in _PRONOUN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def stem(norm: str, protected: Collection[str] = (), kept: Collection[str] = ()) -> tuple[str, str]:
    """(prefix, stem) of a normalised word: clitics off both ends, names untouched."""
    without_prefix = strip_prefix(norm, protected, kept)
    return norm[: len(norm) - len(without_prefix)], strip_suffix(without_prefix, protected, kept)


def tokenize(
    text: str,
    protected: Collection[str] = (),
    cache: dict[str, tuple[str, str, str]] | None = None,
    kept: Collection[str] = (),
) -> list[Token]:
    """Split `text` into tokens whose offsets point into `text` itself.

    Words are found in the original text (diacritics and tatweel stay inside their word, invisible
    marks too when a letter follows), then each word is normalised and stemmed on its own;
    `cache` (word -> norm, prefix, stem) saves that work for words seen before.
    """
    tokens: list[Token] = []
    memo = {} if cache is None else cache
    find = text.find
    end = 0
    # `findall` builds no match objects; each word is then found from the end of the one before:
    # what lies between two matches has no word character, so the first occurrence is the match
    for original in _word_pattern(text).findall(text):
        start = find(original, end)
        end = start + len(original)
        hit = memo.get(original)
        if hit is None:
            norm = normalise(original)
            if not norm or not _WORD.fullmatch(norm):
                if norm:  # a presentation form or case fold split the word: rare
                    tokens.extend(_split_normalised(original, start, protected, kept))
                continue
            hit = (norm, *stem(norm, protected, kept))
            if len(memo) < _CACHE_LIMIT:
                memo[original] = hit
        norm, prefix, word = hit
        tokens.append(Token(original, start, end, norm, word, prefix))
    return tokens


# words one written word may expand to, read from its first characters only: ﷽ is four words, and
# a 200,000-character run of ﷺ would be 800,000 tokens (gigabytes in the tagger)
_MAX_SPLIT_WORDS = 64
_MAX_SPLIT_CHARS = 1024


def _split_normalised(
    original: str, offset: int, protected: Collection[str], kept: Collection[str]
) -> list[Token]:
    normed, origin = normalise_with_offsets(original[:_MAX_SPLIT_CHARS])
    out = []
    for m in itertools.islice(_WORD.finditer(normed), _MAX_SPLIT_WORDS):
        start = origin[m.start()]
        end = origin[m.end() - 1] + 1
        prefix, word = stem(m.group(), protected, kept)
        out.append(
            Token(
                text=original[start:end],
                start=offset + start,
                end=offset + end,
                norm=m.group(),
                stem=word,
                prefix=prefix,
            )
        )
    return out


class Analyzer:
    """Tokenizer bound to a lexicon of protected names; shared by search, NER and alert matching."""

    def __init__(self, protected: Collection[str] = (), kept: Collection[str] = ()) -> None:
        self.protected = frozenset(normalise(p) for p in protected)
        self.kept = frozenset(normalise(k) for k in kept)  # never cut, but pulling no clitics off
        self._cache: dict[str, tuple[str, str, str]] = {}
        self._pieces: dict[str, str] = {}  # whitespace-free piece -> its stems, space-joined
        # set by the entity registry whose names this analyzer protects: the other listed names of a
        # name, which a search expands to (query time only; the terms and `fingerprint` ignore it)
        self.name_forms: Callable[[tuple[str, ...]], tuple[tuple[str, ...], ...]] | None = None  # NameForms

    @functools.cached_property
    def fingerprint(self) -> str:
        """Names the terms this analyzer produces: the rules' version and its protected and kept words.

        Editing the entity registry changes the protected words, so an index built before the edit
        holds terms a query no longer produces (لبنان indexed as ل + بنان); indexes store this to tell.
        """
        digest = hashlib.sha256(f"rasd-analysis-{ANALYSIS_VERSION}".encode())
        for words in (self.protected, self.kept):
            digest.update(b"\x00" + "\n".join(sorted(words)).encode())
        return digest.hexdigest()[:16]

    def tokens(self, text: str) -> list[Token]:
        """Tokens of `text` with stems computed against the protected lexicon."""
        return tokenize(text, self.protected, self._cache, self.kept)

    def terms(self, text: str) -> list[str]:
        """The matching terms of `text` (stems), in order: the same as the tokens' stems."""
        return self.joined_terms(text).split()

    def joined_terms(self, text: str) -> str:
        """The terms of `text` joined by spaces, as the search index stores them.

        Indexing calls this for every field of every article, so the text is cut at whitespace
        (no word spans it) and each piece seen before, punctuation and all, is looked up in one
        C-level `map` over a piece -> joined stems dict: 2.5x faster than finding the words with
        the word pattern and looking each up. Only new pieces take the full path. A piece without
        a word adds an empty string, so spaces may run; nothing reading the result counts them.
        """
        pieces = text.split()
        known: list[str | None] = list(map(self._pieces.get, pieces))
        if None in known:
            for i, hit in enumerate(known):
                if hit is None:
                    known[i] = self._piece_terms(pieces[i])
        return " ".join(known)  # type: ignore[arg-type]  # every None was replaced

    def _piece_terms(self, piece: str) -> str:
        stems = " ".join(t.stem for t in tokenize(piece, self.protected, self._cache, self.kept))
        if len(self._pieces) < _CACHE_LIMIT:
            self._pieces[piece] = stems
        return stems
