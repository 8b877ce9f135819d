"""Display-safe text from extracted pages: RTL-safe, paragraph breaks kept, whitespace tidied.

The text stays the original (display) text: no letter is changed. Only what would garble right-to-left
rendering or the paragraph structure is touched; matching-only folding is `pipeline/text/normalise.py`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["clean_paragraphs", "strip_bidi_overrides"]

# Explicit embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI). Publishers wrap
# titles in RLE…PDF (`&#x202b;`) and unbalanced ones reverse or spill into the text around them; the
# implicit marks (LRM, RLM, ALM) and ZWJ/ZWNJ are kept: they are harmless and sometimes meaningful.
_BIDI_OVERRIDES: Final = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_BLANK_RUN = re.compile(r"\n{2,}")


def strip_bidi_overrides(text: str) -> str:
    """Remove explicit bidi embedding/override/isolate controls; keep LRM/RLM/ALM marks."""
    return text.translate(_BIDI_OVERRIDES)


def clean_paragraphs(text: str) -> str:
    """NFC, no bidi overrides, one space inside lines, one newline between non-empty paragraphs."""
    text = strip_bidi_overrides(unicodedata.normalize("NFC", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2029", "\n").replace("\u2028", "\n")
    lines = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_RUN.sub("\n", "\n".join(line for line in lines if line)).strip()
