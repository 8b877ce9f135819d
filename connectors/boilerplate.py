"""Publisher boilerplate that feeds append to every item's text.

WordPress, behind many Arabic news sites, ends each excerpt with "[…] The post <title> appeared first on
<site>." (in Arabic installs ظهرت المقالة <title> أولاً على <site>). Kept, it repeats the title in the
summary (doubling its words' weight for keywords and topics), makes every item of the site share a
sentence (near-duplicate detection), and gives the recogniser English fragments and the site's tagline
to tag as names. The line is removed only at the very end of the text and only where it is surely the
footer: it names the item's own title, or follows WordPress's truncation marker […], which then
becomes a plain ellipsis.

Other sites put their own footer ("follow us on …, all rights reserved") or header on every item. A
footer longer than a one-line summary made unrelated items of the site near duplicates, one story,
so a watch fired once for the whole feed. `strip_shared_ends` removes the words that most items of one
feed document end (or start) with: at least `MIN_SHARED_WORDS` words, on at least `MIN_SHARED_ITEMS`
items and half of those with text. An ordinary closing phrase ("والله أعلم", "(رويترز)") is shorter.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["MIN_SHARED_ITEMS", "MIN_SHARED_WORDS", "strip_feed_boilerplate", "strip_shared_ends"]

MIN_SHARED_WORDS = 8
MIN_SHARED_ITEMS = 3

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


def _shared_run(token_lists: list[list[str]]) -> tuple[str, ...]:
    """The longest run of words that most lists end with (call with reversed lists for starts)."""
    eligible = [t for t in token_lists if len(t) >= MIN_SHARED_WORDS]
    with_text = sum(1 for t in token_lists if t)
    if len(eligible) < MIN_SHARED_ITEMS:
        return ()
    run, count = Counter(tuple(t[-MIN_SHARED_WORDS:]) for t in eligible).most_common(1)[0]
    if count < max(MIN_SHARED_ITEMS, (with_text + 1) // 2):
        return ()
    members = [t for t in eligible if tuple(t[-MIN_SHARED_WORDS:]) == run]
    k = MIN_SHARED_WORDS
    while all(len(t) > k for t in members) and len({t[-k - 1] for t in members}) == 1:
        k += 1
    return tuple(members[0][-k:])


_TOKEN = re.compile(r"\S+")


def strip_shared_ends(texts: Sequence[str]) -> tuple[list[str], int, int]:
    """`texts` (one field of every item of a feed document) without the footer and header most of
    them share; also how many texts lost one and the words of the longest part removed."""
    words = [text.split() for text in texts]
    tail = _shared_run(words)
    head = _shared_run([w[::-1] for w in words])[::-1]
    if not tail and not head:
        return list(texts), 0, 0
    out: list[str] = []
    changed = 0
    for text, tokens in zip(texts, words, strict=True):
        starts = [m.start() for m in _TOKEN.finditer(text)] if tokens else []
        end, begin = len(text), 0
        if tail and len(tokens) >= len(tail) and tuple(tokens[-len(tail) :]) == tail:
            end = starts[-len(tail)]
        if head and len(tokens) >= len(head) and tuple(tokens[: len(head)]) == head:
            begin = min(end, starts[len(head)] if len(tokens) > len(head) else len(text))
        if (begin, end) == (0, len(text)):
            out.append(text)
            continue
        changed += 1
        out.append(text[begin:end].strip())
    return out, changed, max(len(tail), len(head))
