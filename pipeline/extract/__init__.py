"""Article-page text extraction and the full-text stage's decisions; pure (no network, no Kafka).

`extract` wraps trafilatura (main text, title, author, date, language); `text` makes the result
display-safe (bidi overrides removed, paragraph breaks kept); `policy` decides which articles need their
page and which text wins. Fetching, robots.txt, politeness and the cache are in `connectors/fulltext/`.
"""

from __future__ import annotations

from pipeline.extract.extract import ExtractedPage, ExtractOptions, Favor, extract_page, html_language
from pipeline.extract.policy import FullTextMode, feed_text, needs_fulltext, page_is_better
from pipeline.extract.text import clean_paragraphs, strip_bidi_overrides

__all__ = [
    "ExtractOptions",
    "ExtractedPage",
    "Favor",
    "FullTextMode",
    "clean_paragraphs",
    "extract_page",
    "feed_text",
    "html_language",
    "needs_fulltext",
    "page_is_better",
    "strip_bidi_overrides",
]
