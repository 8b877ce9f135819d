"""Language by script: good enough to route Arabic vs Latin-script articles until a model is wired in."""

from __future__ import annotations

__all__ = ["detect_language"]


def detect_language(text: str, declared: str | None = None) -> str | None:
    """`ar` when Arabic letters dominate, the declared language (or `en`) for Latin script, else declared."""
    arabic = latin = 0
    for c in text[:4000]:
        if "\u0600" <= c <= "\u06ff" or "\u0750" <= c <= "\u077f":
            arabic += 1
        elif c.isascii() and c.isalpha():
            latin += 1
    if arabic + latin < 10:
        return declared
    if arabic >= latin:
        return "ar"
    return declared if declared and declared != "ar" else "en"
