"""Publisher boilerplate that feeds append to every item's text.

WordPress, behind many Arabic news sites, ends each excerpt with "[…] The post <title> appeared first on
<site>." (in Arabic installs ظهرت المقالة <title> أولاً على <site>). Kept, it repeats the title in the
summary (doubling its words' weight for keywords and topics), makes every item of the site share a
sentence (near-duplicate detection), and gives the recogniser English fragments and the site's tagline
to tag as names. The line is removed only at the very end of the text and only where it is surely the
footer: it names the item's own title, or follows WordPress's truncation marker […], which then
becomes a plain ellipsis.
"""

from __future__ import annotations

import re

__all__ = ["strip_feed_boilerplate"]

# the title in the footer: one line, holding no second footer start (so the last footer is the one found)
_TITLE = r"(?:(?!The post\s|ظهرت?\s)[^\n]){1,600}?"
_FOOTER = re.compile(
    r"(?P<marker>\s*\[\s*(?:…|\.\.\.)\s*\])?\s*"
    rf"(?:The post\s(?P<en>{_TITLE})\sappeared first on"
    rf"|ظهرت?\s+(?:المقالة|التدوينة|المقال|المنشور)\s(?P<ar>{_TITLE})\s(?:أولا|أولاً|أولًا|اولا)\s+(?:على|في))"
    r"\s[^\n]{1,200}\s*$",
    re.IGNORECASE,
)
_WS = re.compile(r"\s+")
_TAIL = 1_000  # the footer is short and last: only this much of a (possibly huge) text is searched


def _same(a: str, b: str) -> bool:
    return _WS.sub(" ", a).strip() == _WS.sub(" ", b).strip()


def strip_feed_boilerplate(text: str, title: str = "") -> str:
    """The text without a trailing "The post … appeared first on …" footer (English or Arabic)."""
    offset = max(0, len(text) - _TAIL)
    found = _FOOTER.search(text, offset)
    if found is None:
        return text
    named = found.group("en") or found.group("ar") or ""
    if not found.group("marker") and not (title and _same(named, title)):
        return text  # an ordinary last sentence that happens to read like the footer
    kept = text[: found.start()].rstrip()
    return f"{kept} …" if found.group("marker") and kept else kept
