"""The one Arabic normaliser used by indexing, NER, alert matching and query parsing.

Each step is a small named function; `normalise` composes them. The normalised form is for
matching only: display uses the original text, and `normalise_with_offsets` maps every
normalised character back to its position in the original.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "NormaliseOptions",
    "normalise",
    "normalise_with_offsets",
    "strip_bidi_marks",
    "strip_tashkeel",
    "strip_tatweel",
    "unify_alef",
    "unify_digits",
    "unify_letters",
]

TATWEEL = "\u0640"
# harakat, tanween, shadda, sukun, superscript alef, Quranic marks
_TASHKEEL = frozenset(
    chr(c)
    for c in [
        *range(0x064B, 0x0660),
        0x0670,
        *range(0x06D6, 0x06DD),
        *range(0x06DF, 0x06E9),
        *range(0x06EA, 0x06EE),
    ]
)
# bidi controls, zero-width characters, BOM, soft hyphen
_INVISIBLE = frozenset(
    chr(c)
    for c in [
        0x00AD,
        0x061C,
        0x200B,
        0x200C,
        0x200D,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        0x2060,
        *range(0x2066, 0x206A),
        0xFEFF,
    ]
)
_ALEF_FORMS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا"}
# matching-only unifications: final ya/alef maqsura, ta marbuta, Persian/Urdu letter forms
_LETTER_FORMS = {
    "ى": "ي",
    "ی": "ي",
    "ې": "ي",
    "ة": "ه",
    "ۀ": "ه",
    "ہ": "ه",
    "ک": "ك",
    "ڤ": "ف",
    "گ": "ك",
    "پ": "ب",
    "چ": "ج",
}
_DIGITS = {chr(0x0660 + i): str(i) for i in range(10)} | {chr(0x06F0 + i): str(i) for i in range(10)}


@dataclass(frozen=True)
class NormaliseOptions:
    """Which steps run; every step can be switched off."""

    presentation_forms: bool = True
    strip_invisible: bool = True
    strip_tashkeel: bool = True
    strip_tatweel: bool = True
    unify_alef: bool = True
    unify_letters: bool = True
    unify_digits: bool = True
    casefold: bool = True


DEFAULT = NormaliseOptions()


def strip_tashkeel(text: str) -> str:
    """Remove diacritics (harakat, tanween, shadda, sukun, superscript alef)."""
    return "".join(c for c in text if c not in _TASHKEEL)


def strip_tatweel(text: str) -> str:
    """Remove the kashida used to stretch words."""
    return text.replace(TATWEEL, "")


def strip_bidi_marks(text: str) -> str:
    """Remove bidi controls and zero-width characters that are invisible but break matching."""
    return "".join(c for c in text if c not in _INVISIBLE)


def unify_alef(text: str) -> str:
    """Map hamza/madda/wasla alef forms to bare alef."""
    return "".join(_ALEF_FORMS.get(c, c) for c in text)


def unify_letters(text: str) -> str:
    """Map final ya, ta marbuta, hamza seats and Persian letter forms to one form each."""
    return "".join(_LETTER_FORMS.get(c, c) for c in text)


def unify_digits(text: str) -> str:
    """Map Eastern Arabic and Persian digits to ASCII digits."""
    return "".join(_DIGITS.get(c, c) for c in text)


def _map_char(c: str, opts: NormaliseOptions) -> str:
    """Normalise one original character to zero or more characters."""
    if opts.strip_invisible and c in _INVISIBLE:
        return ""
    if opts.presentation_forms and ("\ufb50" <= c <= "\ufdff" or "\ufe70" <= c <= "\ufeff"):
        c = unicodedata.normalize("NFKC", c)
        if c.startswith(" "):  # an isolated haraka (ﹶ) is a space + the mark: it must not split a word
            c = c[1:]
    out = []
    for ch in c:
        if (opts.strip_tashkeel and ch in _TASHKEEL) or (opts.strip_tatweel and ch == TATWEEL):
            continue
        if opts.unify_alef:
            ch = _ALEF_FORMS.get(ch, ch)
        if opts.unify_letters:
            ch = _LETTER_FORMS.get(ch, ch)
        if opts.unify_digits:
            ch = _DIGITS.get(ch, ch)
        if opts.casefold and ch.isascii():
            ch = ch.lower()
        elif opts.casefold and not ("\u0600" <= ch <= "\u06ff"):
            ch = ch.casefold()
        out.append(ch)
    return "".join(out)


_FAST_CACHE: dict[tuple[str, NormaliseOptions], str] = {}

# Fast path for the default options: one str.translate for text made only of characters that need
# no NFKC and no non-ASCII case fold: ASCII, Latin-1 punctuation (not µ, which folds to μ), the
# Arabic blocks, general punctuation and currency signs. Anything else (presentation forms, other
# scripts' letters, ⅻ, emoji) takes the per-character path; a test checks the two agree on the set.
_TABLE: dict[int, str | None] = {ord(c): None for c in (*_TASHKEEL, *_INVISIBLE, TATWEEL)}
_TABLE.update({ord(k): v for k, v in (_ALEF_FORMS | _LETTER_FORMS | _DIGITS).items()})
_TABLE.update({c: chr(c).lower() for c in range(ord("A"), ord("Z") + 1)})
FAST_RANGES = (
    (0x0000, 0x00B4),
    (0x00B6, 0x00BF),
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
)
_NEEDS_SLOW = re.compile("[^" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in FAST_RANGES) + "]")


def _fast(text: str, opts: NormaliseOptions) -> bool:
    return opts is DEFAULT and _NEEDS_SLOW.search(text) is None


def _mapped(c: str, opts: NormaliseOptions) -> str:
    key = (c, opts)
    hit = _FAST_CACHE.get(key)
    if hit is None:
        hit = _map_char(c, opts)
        if len(_FAST_CACHE) < 100_000:
            _FAST_CACHE[key] = hit
    return hit


def normalise(text: str, opts: NormaliseOptions = DEFAULT) -> str:
    """Matching form of `text`: the composition of every enabled step."""
    if _fast(text, opts):
        return text.translate(_TABLE)
    return "".join(_mapped(c, opts) for c in text)


def normalise_with_offsets(text: str, opts: NormaliseOptions = DEFAULT) -> tuple[str, list[int]]:
    """Normalised text plus, for each of its characters, the index of the original character."""
    if _fast(text, opts):
        normed = text.translate(_TABLE)
        if len(normed) == len(text):
            return normed, list(range(len(text)))
        return normed, [i for i, c in enumerate(text) if _TABLE.get(ord(c), c) is not None]
    chars: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        m = _mapped(c, opts)
        for ch in m:
            chars.append(ch)
            origin.append(i)
    return "".join(chars), origin
