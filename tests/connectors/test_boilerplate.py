"""Feed boilerplate is removed from feed text, and nothing else: WordPress's "The post … appeared first
on …" footer, and a footer or header that most items of one document share."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import parse_feed
from connectors.boilerplate import MIN_SHARED_WORDS, strip_feed_boilerplate, strip_shared_ends
from pipeline.enrich.dedupe_store import StoryIndex

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


FOOTER = (
    "تابعونا على فيسبوك وتويتر وإنستغرام ويوتيوب للحصول على آخر الأخبار العاجلة والتقارير الحصرية "
    "وحمّلوا تطبيق الموقع المجاني على هواتفكم الذكية لمتابعة التغطية المباشرة على مدار الساعة "
    "جميع الحقوق محفوظة للموقع ويمنع النقل أو الاقتباس دون ذكر المصدر"
)
ITEMS = [
    (
        "زلزال بقوة 6 درجات يضرب جنوب تركيا",
        "ضرب زلزال بقوة ست درجات جنوب تركيا صباح اليوم دون أنباء عن إصابات",
    ),
    ("البنك المركزي يرفع سعر الفائدة", "قرر البنك المركزي المصري رفع أسعار الفائدة بمقدار مئتي نقطة أساس"),
    ("الأهلي يفوز على الزمالك في القمة", "فاز النادي الأهلي على غريمه الزمالك بهدفين نظيفين في قمة الدوري"),
    (
        "بوتين يستقبل وزير الخارجية السعودي",
        "استقبل الرئيس الروسي فلاديمير بوتين وزير الخارجية السعودي في موسكو",
    ),
    ("ارتفاع أسعار النفط عالميا", "ارتفعت أسعار خام برنت ثلاثة في المئة بعد قرار أوبك خفض الإنتاج"),
    ("أمطار غزيرة تغرق شوارع الإسكندرية", "غمرت الأمطار الغزيرة شوارع الإسكندرية وتعطلت حركة المرور لساعات"),
]


def _site_feed(summary: str = "{text}\n" + FOOTER) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>https://site.example/{n}</link>"
        f"<description>{summary.format(text=text)}</description></item>"
        for n, (title, text) in enumerate(ITEMS)
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>".encode()


def test_a_footer_every_item_shares_is_removed_and_unrelated_items_stay_apart() -> None:
    # with the footer, six unrelated one-line items reached Jaccard 0.66-0.75: one story for the feed
    parsed = parse_feed(_site_feed(), source="site")
    assert [a.summary for a in parsed.articles] == [text for _, text in ITEMS]
    assert any("footer or header of 37 words shared by 6 entries" in w for w in parsed.warnings)
    index = StoryIndex.in_memory()
    assert len({index.assign(a).story_id for a in parsed.articles}) == len(ITEMS)


def test_a_header_is_removed_the_same_way() -> None:
    parsed = parse_feed(_site_feed(FOOTER + " {text}"), source="site")
    assert [a.summary for a in parsed.articles] == [text for _, text in ITEMS]


@pytest.mark.parametrize(
    "texts",
    [
        # a shared ending shorter than MIN_SHARED_WORDS: an ordinary closing phrase
        [f"خبر رقم {n} عن موضوع مختلف والله أعلم بالصواب" for n in range(6)],
        # shared by fewer than half of the items
        [f"نص {n} " + FOOTER if n < 2 else f"نص {n} مختلف تماما عن غيره" for n in range(6)],
        # only two items in the document
        [f"نص {n} " + FOOTER for n in range(2)],
    ],
)
def test_text_that_is_not_a_shared_footer_is_kept(texts: list[str]) -> None:
    assert strip_shared_ends(texts) == (texts, 0, 0)


def test_the_longest_shared_run_goes_and_items_without_it_are_kept() -> None:
    words = " ".join(f"كلمة{n}" for n in range(MIN_SHARED_WORDS + 2))
    texts = [f"أول نص {words}", f"ثاني {words}", f"ثالث\n{words}", "رابع لا تذييل فيه", words]
    stripped, changed, removed = strip_shared_ends(texts)
    assert stripped == ["أول نص", "ثاني", "ثالث", "رابع لا تذييل فيه", ""]
    assert (changed, removed) == (4, MIN_SHARED_WORDS + 2)
