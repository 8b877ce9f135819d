"""Numeric character references (`&#1605;`, `&#x645;`) in markup text, read safely.

Feeds and pages carry references to no character at all (a surrogate, a number past U+10FFFF, one
of thousands of digits) that XML parsers raise on; the feed parser and the page extractor each
replace the ones they cannot take, and read the number the same way here.
"""

from __future__ import annotations

import re

__all__ = ["NUMERIC_REFERENCE", "reference_code"]

# decimal or hexadecimal; the `;` may be missing, as HTML allows (XML text always has it)
NUMERIC_REFERENCE = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+))(;?)")


def reference_code(match: re.Match[str]) -> int | None:
    """The code point a `NUMERIC_REFERENCE` match names, or None for a number of more than eight
    digits (leading zeros aside): far past U+10FFFF, and no huge integer is built for it."""
    hexadecimal, decimal = match.group(1), match.group(2)
    digits = (hexadecimal or decimal).lstrip("0") or "0"
    if len(digits) > 8:
        return None
    return int(digits, 16) if hexadecimal else int(digits)
