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

__all__ = ["ExtractOptions", "ExtractedPage", "Favor", "extract_page", "html_language"]

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


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """What the page says: main text (paragraphs one per line) and the metadata found with it."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None  # ISO date (YYYY-MM-DD) as found by htmldate; may be a date only
    language: str | None = None


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
    )
