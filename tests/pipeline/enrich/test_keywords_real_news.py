"""Keywords of real feed items (headline and lede from shared/samples/feeds) name the story, not the
newsroom: reporting verbs, connectives, time and quantity words give way to the content words."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.ids import article_id
from pipeline.models import Article
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]

# (headline, lede, function words that must not be keywords, content words that must be), the words
# written as in text; keywords are analyzer stems, so both lists are compared through the analyzer
CASES = [
    pytest.param(
        "«حزب الله» يعلن شنّ هجوم بمسيّرات وصواريخ على شمال إسرائيل",
        "أعلن «حزب الله» أن مقاتليه أطلقوا طائرات مسيّرة وصواريخ على شمال إسرائيل اليوم الخميس، "
        "بينما تم تفعيل صافرات الإنذار عبر الحدود.",
        ["يعلن", "أعلن"],
        ["حزب", "إسرائيل", "طائرات", "مسيرة"],
        id="aawsat-hezbollah-drones",
    ),
    pytest.param(
        "السفارة الأميركية في بغداد تحذّر من هجمات وشيكة خلال 48 ساعة",
        "نصحت السفارة الأميركية في بغداد، اليوم الخميس، الرعايا الأميركيين بمغادرة العراق فوراً.",
        ["تحذر", "ساعة", "الخميس"],
        ["السفارة", "بغداد", "العراق", "الأميركيين"],
        id="aawsat-baghdad-embassy",
    ),
    pytest.param(
        "روسيا تحذر من امتداد حرب إيران إلى بحر قزوين",
        "قال المتحدث باسم الكرملين دميتري بيسكوف، الثلاثاء، إن روسيا ستنظر إلى أي امتداد للصراع "
        'الإيراني إلى بحر قزوين على أنه "أمر سلبي للغاية"، في ظل تصاعد العمليات العسكرية واتساع '
        "نطاقها الجغرافي.",
        ["تحذر", "المتحدث"],
        ["روسيا", "قزوين", "دميتري", "بيسكوف"],
        id="skynews-caspian",
    ),
    pytest.param(
        "السعودية تنفذ الإعدام بسوري قتل مواطنا وتكشف تفاصيل",
        "أعلنت وزارة الداخلية السعودية، السبت، تنفيذ حكم الإعدام بشخص يحمل الجنسية السورية، وذلك بعد "
        "إدانته بقتل مواطن سعودي في منطقة الحدود الشمالية",
        ["تكشف", "تفاصيل", "أعلنت"],
        ["السعودية", "الإعدام", "الداخلية", "حكم"],
        id="cnn-saudi-execution",
    ),
    pytest.param(
        "غارات إسرائيلية على عدة مناطق في جنوب لبنان",
        "في الساعات الأولى من صباح اليوم الأحد، شنت إسرائيل سلسلة غارات على مناطق عديدة في جنوب "
        "لبنان، ولم يتضح بعد إذا ما كانت تلك الغارات خلفت خسائر بشرية.",
        ["عدة", "الساعات", "الأولى", "صباح", "الأحد"],
        ["غارات", "لبنان", "إسرائيل", "سلسلة"],
        id="aljazeera-south-lebanon-strikes",
    ),
    pytest.param(
        "هل يؤثر التقشف الحكومي بسبب الحرب الإيرانية في حياة المصريين؟",
        "قررت الحكومة المصرية إغلاق المحال التجارية والكافيهات في التاسعة مساءً، بداية من السبت "
        "المقبل، وتخفيض الإضاءة على مختلف الطرق وفي المصالح الحكومية.",
        ["بسبب", "قررت"],
        ["التقشف", "المصريين", "إغلاق"],
        id="aawsat-egypt-austerity",
    ),
    pytest.param(
        "فيديو يظهر سفينة ضخمة عالقة وسط الجليد في القطب الجنوبي",
        "يُظهر مقطع فيديو كاسحة جليد تابعة لخفر السواحل الأمريكي وهي تكسر الجليد لتحرير سفينة "
        "سياحية عالقة في القطب الجنوبي.",
        ["فيديو", "يظهر", "وسط", "مقطع"],
        ["الجليد", "سفينة", "كاسحة", "السواحل"],
        id="cnn-antarctic-ship",
    ),
]


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=REPO / "config"))


def _keywords(enricher: Enricher, title: str, lede: str) -> list[str]:
    article = Article(id=article_id(None, title, source="t"), source="t", title=title, summary=lede)
    return enricher.enrich(article).keywords


def _stems(enricher: Enricher, words: list[str]) -> set[str]:
    return {stem for word in words for stem in enricher.analyzer.terms(word)}


@pytest.mark.parametrize(("title", "lede", "function_words", "content_words"), CASES)
def test_function_words_are_not_keywords(
    enricher: Enricher, title: str, lede: str, function_words: list[str], content_words: list[str]
) -> None:
    keywords = _keywords(enricher, title, lede)
    assert not _stems(enricher, function_words) & set(keywords), keywords


@pytest.mark.parametrize(("title", "lede", "function_words", "content_words"), CASES)
def test_content_words_take_their_place(
    enricher: Enricher, title: str, lede: str, function_words: list[str], content_words: list[str]
) -> None:
    keywords = _keywords(enricher, title, lede)
    assert _stems(enricher, content_words) <= set(keywords), keywords
