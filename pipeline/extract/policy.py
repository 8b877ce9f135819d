"""When an article needs its page, and which text wins: pure decisions of the full-text stage."""

from __future__ import annotations

from typing import Literal

from pipeline.models import Article

__all__ = ["FullTextMode", "feed_text", "needs_fulltext", "page_is_better"]

FullTextMode = Literal["auto", "always", "never"]


def feed_text(article: Article) -> str:
    """The longest text the feed gave for the article (its body, else its summary)."""
    body, summary = article.body.strip(), article.summary.strip()
    return body if len(body) >= len(summary) else summary


def needs_fulltext(article: Article, mode: FullTextMode, min_chars: int) -> bool:
    """`always`: every article with a URL; `auto`: when the feed text is under `min_chars`; `never`: no."""
    if mode == "never" or not article.url or article.fulltext is not None:
        return False
    return mode == "always" or len(feed_text(article)) < min_chars


def page_is_better(page_text: str, article: Article) -> bool:
    """The extracted text replaces the feed's only when it is at least as long (else: fallback)."""
    return len(page_text.strip()) >= len(feed_text(article))
