"""Bytes → text for feed documents: trust the bytes, not the label.

Precedence (first that applies wins), as in miniflux's `encoding.go`:

1. a byte-order mark (UTF-8, UTF-16, UTF-32);
2. UTF-16/32 without a mark, when declared so (HTTP header, else XML prolog) or when NUL bytes open the
   document, and that reading starts the document with ASCII markup ("<rss", "<?xm"...): such bytes are
   often valid UTF-8 too, so this has to come before the next rule;
3. the bytes are valid UTF-8 — publishers often declare a legacy charset and send UTF-8;
4. the declared charset (HTTP `Content-Type` first, then the XML prolog), decoded strictly; a Western
   single-byte label (latin-1, windows-1252, ascii) on bytes that read as Arabic under windows-1256 is
   treated as the common mislabel it is;
5. windows-1256 / ISO-8859-6 when the decoded text is mostly Arabic letters;
6. UTF-8 with replacement characters, flagged `lossy=True`.

`utf8_document` turns the result back into UTF-8 bytes with a matching XML prolog, so feedparser never
re-applies a wrong label.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["Decoded", "decode", "utf8_document", "xml_declared_encoding"]

_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PROLOG_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_PROLOG_ENCODING_TEXT = re.compile(
    r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*["'])([A-Za-z0-9._:-]{1,40})(["'])"""
)
_ARABIC_WORD = re.compile(r"(?<![^\W\d_])[\u0620-\u064a\u0671-\u06d3\u0640]{2,}(?![^\W\d_])")
_WESTERN: Final = frozenset({"latin-1", "iso8859-1", "cp1252", "ascii"})
_ARABIC_CANDIDATES: Final = ("cp1256", "iso8859-6")
# UTF-16/32 readings to try: for a declared label (the family's byte orders), and when NUL bytes open the
# document; the first bytes are decoded to see whether the document then starts like one
_WIDE: Final[dict[str, tuple[str, ...]]] = {
    "utf-16": ("utf-16-le", "utf-16-be"),
    "utf-16-le": ("utf-16-le",),
    "utf-16-be": ("utf-16-be",),
    "utf-32": ("utf-32-le", "utf-32-be"),
    "utf-32-le": ("utf-32-le",),
    "utf-32-be": ("utf-32-be",),
}
_WIDE_SNIFFED: Final = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")
_WIDE_HEAD: Final = 64
# Share of non-ASCII letters that must be Arabic before we call a legacy decode "Arabic".
_ARABIC_RATIO: Final = 0.6


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text, the Python codec name that produced it, and whether bytes were replaced."""

    text: str
    encoding: str
    lossy: bool = False


def _codec_name(label: str | None) -> str | None:
    """Normalised Python codec name for a charset label, or None if unknown."""
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None


def xml_declared_encoding(body: bytes) -> str | None:
    """The `encoding` of an XML prolog in the first bytes, if any."""
    match = _PROLOG_ENCODING.match(body[:512])
    return match.group(1).decode("ascii") if match else None


def _arabic_share(text: str) -> float:
    """Share of non-ASCII letters that stand in all-Arabic words of two letters or more.

    A Western text read as windows-1256 gets Arabic letters too, but isolated inside Latin words
    ("Caf\u0649"); real Arabic comes in whole words.
    """
    non_ascii = sum(1 for c in text if ord(c) > 0x7F and c.isalpha())
    if not non_ascii:
        return 0.0
    in_words = sum(len(word) for word in _ARABIC_WORD.findall(text))
    return in_words / non_ascii


def _try(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _arabic_legacy(body: bytes) -> Decoded | None:
    """windows-1256 or ISO-8859-6 when that reading is mostly Arabic letters."""
    for codec in _ARABIC_CANDIDATES:
        text = _try(body, codec)
        if text is not None and _arabic_share(text) >= _ARABIC_RATIO:
            return Decoded(text, codec)
    return None


def _wide(body: bytes, codec: str | None) -> Decoded | None:
    """UTF-16/32 without a byte-order mark: declared (`codec`) or sniffed from NUL bytes in the first four."""
    candidates = _WIDE.get(codec or "", ()) + (_WIDE_SNIFFED if b"\x00" in body[:4] else ())
    for candidate in candidates:
        head = body[:_WIDE_HEAD].decode(candidate, errors="replace")
        start = head.lstrip()[:4]  # "<?xm", "<rss", "<fee", '{"ve': markup starts in ASCII
        if start[:1] in ("<", "{") and start.isascii() and start.isprintable() and "\x00" not in head:
            text = body.decode(candidate, errors="replace")
            return Decoded(text, candidate, lossy="\ufffd" in text)
    return None


def decode(body: bytes, declared: str | None = None) -> Decoded:
    """Decode a document; `declared` is the HTTP charset (the XML prolog is read when it is None)."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            unmarked = body[len(bom) :].decode(bom_codec, errors="replace")
            return Decoded(unmarked, bom_codec, lossy="\ufffd" in unmarked)
    codec = _codec_name(declared) or _codec_name(xml_declared_encoding(body))
    wide = _wide(body, codec)
    if wide is not None:
        return wide
    as_utf8 = _try(body, "utf-8")
    if as_utf8 is not None:
        return Decoded(as_utf8, "utf-8")
    if codec is not None and codec != "utf-8":
        text = _try(body, codec)
        if text is not None:
            if codec in _WESTERN and (arabic := _arabic_legacy(body)) is not None:
                return arabic
            if codec in _ARABIC_CANDIDATES:  # one Arabic label for the other's bytes: cp1256 reads any
                (other,) = (c for c in _ARABIC_CANDIDATES if c != codec)
                alt = _try(body, other)
                if alt is not None and _arabic_share(alt) > _arabic_share(text):
                    return Decoded(alt, other)
            return Decoded(text, codec)
    arabic = _arabic_legacy(body)
    if arabic is not None:
        return arabic
    return Decoded(body.decode("utf-8", errors="replace"), "utf-8", lossy=True)


def utf8_document(decoded: Decoded) -> bytes:
    """UTF-8 bytes of the text, with the XML prolog (if any) rewritten to say UTF-8."""
    text = _PROLOG_ENCODING_TEXT.sub(r"\1UTF-8\3", decoded.text, count=1)
    return text.encode("utf-8")
