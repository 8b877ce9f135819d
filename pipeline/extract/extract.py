"""Main text and metadata of an article page with trafilatura; pure (text in, values out, no I/O).

`extract_page(html)` returns the body (paragraphs one per line), title, author, date and language, or
None when the page holds no usable main text. Comments, navigation, related-article lists and share
widgets are trafilatura's boilerplate and are left out (`include_comments=False`, no links, no images).

Precision versus recall, as measured on the sample pages (`rasd eval extract ../shared/samples/pages`):
the balanced mode keeps the article but also the kicker/date line and the repeated headline above it
(mean token F1 0.939); `favor_precision` drops those (most pages 1.000) but on one page in nine it picks a
related-articles list instead of the story (F1 0.07). The default `consensus` therefore runs both and
keeps the precise text only when at least `agreement` of its tokens are also in the balanced text (the
two found the same block), else the balanced text; a line that only repeats the title is dropped. That
scores 0.99 mean. The cost is a second pass over the page (about 0.1 s).

Before trafilatura sees the page, `prepare_html` makes it safe to hand over: numeric character
references to characters XML forbids (`&#1;`, `&#xFFFE;`, `&#xD800;`…, which make lxml drop the whole
text) become a space, and a page is cut at a tag boundary to at most `max_chars` characters and
`max_tags` start tags (trafilatura's cost grows faster than linearly with the number of elements: a
2 MB page of short paragraphs took minutes). `ExtractedPage.truncated` says when the page was cut.
`<template>` content and elements with the `hidden` attribute (not `hidden="until-found"`) are pruned.

Trafilatura is used offline only: strings in, no `fetch_url`, no downloads (the page comes from
`connectors/fetch.py`, which enforces the limits and the address guard).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final, Literal

import trafilatura

from pipeline.enrich.language import detect_language
from pipeline.extract.text import clean_paragraphs
from pipeline.text.normalise import normalise
from pipeline.text.references import NUMERIC_REFERENCE, reference_code

__all__ = ["ExtractOptions", "ExtractedPage", "Favor", "extract_page", "html_language", "prepare_html"]

log = logging.getLogger(__name__)

Favor = Literal["consensus", "balanced", "precision", "recall"]

_WORD: Final = re.compile(r"\w+")
_HTML_LANG: Final = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)?", re.I)


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """How to extract; the defaults are the measured best on the sample pages."""

    favor: Favor = "consensus"
    include_tables: bool = True
    min_chars: int = 40  # less main text than this is "no text found" (a teaser, a paywall stub)
    agreement: float = 0.8  # share of the precise text's tokens the balanced text must also have
    max_chars: int = 512 * 1024  # the page is cut (at a tag boundary) to this many characters…
    max_tags: int = 4_000  # …and start tags (sample pages: about 900; 10 000 links took 20 s)


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """What the page says: main text (paragraphs one per line) and the metadata found with it."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None  # ISO date (YYYY-MM-DD) as found by htmldate; may be a date only
    language: str | None = None
    truncated: bool = False  # the page was cut to `ExtractOptions.max_chars` / `max_tags` first


def _tokens(text: str) -> Counter[str]:
    return Counter(_WORD.findall(normalise(text)))


def _contained(part: str, whole: str) -> float:
    """Share of `part`'s tokens (with multiplicity) that also occur in `whole`."""
    a, b = _tokens(part), _tokens(whole)
    total = sum(a.values())
    return sum((a & b).values()) / total if total else 0.0


def html_language(html: str) -> str | None:
    """The primary subtag of `<html lang=…>`, lower case, if declared."""
    match = _HTML_LANG.search(html[:8192])
    return match.group(1).lower() if match else None


_RAW_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_START_TAG: Final = re.compile(r"<[A-Za-z]")
# <template> content is inert (never rendered); `hidden` elements are not shown, `until-found` ones are
_PRUNE: Final = [
    "//template",
    "//*[@hidden and translate(@hidden, 'UNTILFOD', 'untilfod') != 'until-found']",
]


def _xml_char(code: int) -> bool:
    """Whether XML 1.0 allows the character `code` (lxml refuses a text holding any other)."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _char_ref(match: re.Match[str]) -> str:
    code = reference_code(match)
    return match.group(0) if code is not None and _xml_char(code) else " "


def prepare_html(html: str, options: ExtractOptions | None = None) -> tuple[str, bool]:
    """The page as trafilatura should see it, and whether it was cut.

    References to characters XML forbids (and raw lone surrogates) become a space; the page is cut
    before the start tag at which it would exceed `max_chars` characters or `max_tags` start tags.
    """
    opts = options or ExtractOptions()
    truncated = False
    if len(html) > opts.max_chars:
        cut = opts.max_chars
        lt = html.rfind("<", 0, cut)
        if lt > html.rfind(">", 0, cut):  # the limit falls inside a tag: cut before that tag
            cut = lt
        html, truncated = html[:cut], True
    for count, tag in enumerate(_START_TAG.finditer(html)):
        if count == opts.max_tags:
            html, truncated = html[: tag.start()], True
            break
    if "&#" in html:
        html = NUMERIC_REFERENCE.sub(_char_ref, html)
    html = _RAW_SURROGATE.sub(" ", html)
    return html, truncated


def _run(html: str, url: str | None, options: ExtractOptions, *, mode: Favor, metadata: bool) -> Any:
    return trafilatura.bare_extraction(
        html,
        url=url,
        favor_precision=mode == "precision",
        favor_recall=mode == "recall",
        include_comments=False,
        include_tables=options.include_tables,
        include_images=False,
        include_links=False,
        include_formatting=False,
        deduplicate=False,
        with_metadata=metadata,
        date_extraction_params={"extensive_search": False, "original_date": True},
        prune_xpath=_PRUNE,
    )


def _drop_title_lines(text: str, title: str | None) -> str:
    """The headline is the article's title, not a paragraph of its body."""
    if not title:
        return text
    key = normalise(clean_paragraphs(title)).strip()
    return "\n".join(line for line in text.split("\n") if normalise(line).strip() != key)


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = clean_paragraphs(value)
    return cleaned or None


def extract_page(
    html: str, *, url: str | None = None, options: ExtractOptions | None = None
) -> ExtractedPage | None:
    """Main text and metadata of one decoded HTML page, or None when no main text is found."""
    opts = options or ExtractOptions()
    html, truncated = prepare_html(html, opts)
    first: Favor = "balanced" if opts.favor == "consensus" else opts.favor
    try:
        doc = _run(html, url, opts, mode=first, metadata=True)
    except Exception as exc:  # lxml/trafilatura on hostile markup: "nothing extracted", never a crash
        log.warning("extraction failed: %s: %s", type(exc).__name__, exc)
        return None
    if doc is None or not getattr(doc, "text", None):
        return None
    text: str = doc.text
    if opts.favor == "consensus":
        try:
            precise = _run(html, url, opts, mode="precision", metadata=False)
        except Exception as exc:
            log.warning("precise extraction failed: %s: %s", type(exc).__name__, exc)
            precise = None
        precise_text = getattr(precise, "text", None) or ""
        if precise_text and _contained(precise_text, text) >= opts.agreement:
            text = precise_text
    title = _clean(doc.title)
    body = _drop_title_lines(clean_paragraphs(text), title)
    if len(body) < opts.min_chars:
        return None
    return ExtractedPage(
        text=body,
        title=title,
        author=_clean(doc.author),
        date=_clean(doc.date),
        language=detect_language(body, declared=html_language(html)),
        truncated=truncated,
    )
