"""WordPress's "The post … appeared first on …" footer is removed from feed text, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import parse_feed
from connectors.boilerplate import strip_feed_boilerplate

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
TITLE = "عنوان الخبر"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"نص الخبر […] The post {TITLE} appeared first on Hespress - هسبريس جريدة", "نص الخبر …"),
        (f"نص الخبر [...] ظهرت المقالة {TITLE} أولاً على موقع الخبر.", "نص الخبر …"),
        (f"نص الخبر\n\nThe post {TITLE} appeared first on Site.", "نص الخبر"),  # a paragraph of its own
        # the footer only after the truncation marker, or naming the item's own title
        (
            "نص الخبر\nThe post عنوان آخر appeared first on Site.",
            "نص الخبر\nThe post عنوان آخر appeared first on Site.",
        ),
        (
            "The post office appeared first on the list of closures, officials said.",
            "The post office appeared first on the list of closures, officials said.",
        ),
        ("نص عادي […]", "نص عادي […]"),
        ("", ""),
    ],
)
def test_footer_is_removed_only_where_it_is_surely_one(text: str, expected: str) -> None:
    assert strip_feed_boilerplate(text, TITLE) == expected


def test_a_huge_text_is_searched_only_at_its_end() -> None:
    text = "The post " * 200_000 + f"نص […] The post {TITLE} appeared first on Site."
    assert strip_feed_boilerplate(text, TITLE) == "The post " * 199_999 + "The post نص …"


def test_wordpress_feed_items_lose_the_footer() -> None:
    feeds = sorted((FEEDS / "hespress").glob("*.xml"))
    articles = [a for f in feeds for a in parse_feed(f.read_bytes(), source="hespress").articles]
    assert articles and all("appeared first" not in (a.summary or "") + (a.body or "") for a in articles)
    assert sum(1 for a in articles if (a.summary or "").endswith(" …")) >= len(articles) // 2
