"""Extraction quality on real article pages, and the failure/boilerplate cases on constructed pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.fulltext import extract_html
from pipeline.eval.extract import ExtractReport, evaluate_extract, reference_text, token_f1
from pipeline.extract import ExtractOptions, clean_paragraphs, extract_page, html_language
from pipeline.extract.extract import prepare_html
from pipeline.extract.policy import feed_text, needs_fulltext, page_is_better
from pipeline.models import Article, FullTextOutcome

PAGES = Path(__file__).resolve().parents[4] / "shared" / "samples" / "pages"
PAGE_FLOOR = 0.90
MEAN_FLOOR = 0.90


@pytest.fixture(scope="module")
def report() -> ExtractReport:
    if not PAGES.is_dir() or not any(PAGES.glob("*.html")):
        pytest.skip(f"sample pages not present at {PAGES}")
    return evaluate_extract(PAGES, lambda body, _name: extract_html(body))


def test_every_sample_page_is_recovered(report: ExtractReport) -> None:
    assert len(report.pages) == 9, report.format()
    low = [p.name for p in report.pages if p.f1 < PAGE_FLOOR]
    assert not low, report.format()


def test_mean_f1_meets_the_target(report: ExtractReport) -> None:
    assert report.mean_f1 >= MEAN_FLOOR, report.format()
    assert report.format().splitlines()[-1] == f"mean-F1 {report.mean_f1:.3f}"


def test_sample_metadata_and_language() -> None:
    page_path = PAGES / "JA-sport-1-20170302.html"
    if not page_path.is_file():
        pytest.skip(f"sample pages not present at {PAGES}")
    page = extract_page(page_path.read_text(encoding="utf-8"))
    assert page is not None
    assert page.language == "ar"
    assert page.title and "الدفعة الأولى" in page.title
    assert page.date is not None and page.date.startswith("2017-")
    assert "\n" in page.text  # paragraph (line) breaks are kept
    assert not page.text.startswith("رياضة")  # the section kicker is boilerplate


P1 = "قال وزير الخارجية اليوم إن المحادثات بين الطرفين ستستأنف الأسبوع المقبل في العاصمة بعد توقف دام شهرين."
P2 = "وأضاف الوزير في مؤتمر صحفي أن الوفدين اتفقا على جدول أعمال يشمل ملفات الطاقة والمياه والحدود المشتركة."
P3 = "ومن المتوقع أن تشارك في الجولة الجديدة وفود من دول الجوار بصفة مراقب، بحسب مصادر دبلوماسية مطلعة."

BOILERPLATE_PAGE = f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>&#x202b;استئناف المحادثات الأسبوع المقبل</title>
<meta name="author" content="سارة المحمد">
<meta property="article:published_time" content="2024-05-06T09:30:00+03:00">
</head><body>
<nav><ul><li><a href="/">الرئيسية</a></li><li><a href="/sport">رياضة</a></li>
<li><a href="/eco">اقتصاد</a></li></ul></nav>
<div class="share-buttons"><a href="#">شارك على فيسبوك</a> <a href="#">غرّد</a></div>
<article>
<h1>استئناف المحادثات الأسبوع المقبل</h1>
<p>{P1}</p>
<p>{P2}</p>
<p>{P3}</p>
</article>
<aside class="related"><h3>أخبار ذات صلة</h3><ul>
<li><a href="/a/1">انخفاض أسعار النفط في الأسواق العالمية خلال تعاملات اليوم</a></li>
<li><a href="/a/2">منتخب كرة القدم يستعد لمباراة ودية أمام ضيفه الأسبوع القادم</a></li>
</ul></aside>
<section id="comments" class="comments"><h3>التعليقات</h3>
<div class="comment"><p>تعليق القارئ الأول: هذا خبر ممتاز جدا ونتمنى أن تنجح المحادثات هذه المرة.</p></div>
</section>
<footer>جميع الحقوق محفوظة ٢٠٢٤</footer>
</body></html>"""


def test_boilerplate_is_dropped_and_paragraphs_kept() -> None:
    page = extract_page(BOILERPLATE_PAGE)
    assert page is not None
    assert page.text.split("\n") == [P1, P2, P3]
    for noise in ("الرئيسية", "فيسبوك", "ذات صلة", "أسعار النفط", "تعليق القارئ", "الحقوق محفوظة"):
        assert noise not in page.text, noise
    assert page.title == "استئناف المحادثات الأسبوع المقبل"  # RLE control removed
    assert page.author == "سارة المحمد"
    assert page.date == "2024-05-06"
    assert page.language == "ar"


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html><body></body></html>",
        "<html><body><nav><a href='/'>الرئيسية</a></nav></body></html>",
        "\x00\x01 not html at all <<<>>>",
    ],
)
def test_no_main_text_is_none(html: str) -> None:
    assert extract_page(html) is None


@pytest.mark.parametrize("favor", ["balanced", "precision", "recall", "consensus"])
def test_every_mode_extracts_the_article(favor: str) -> None:
    page = extract_page(BOILERPLATE_PAGE, options=ExtractOptions(favor=favor))  # type: ignore[arg-type]
    assert page is not None and P2 in page.text


def test_clean_paragraphs_is_rtl_safe() -> None:
    text = "\u202bعنوان\u202c\r\n\r\n  سطر   ثان\u200f  \n\u2067عزل\u2069"
    assert clean_paragraphs(text) == "عنوان\nسطر ثان\u200f\nعزل"


def test_html_language() -> None:
    assert html_language('<html lang="ar-TN" dir="rtl">') == "ar"
    assert html_language("<html>") is None


def test_reference_text_and_token_f1() -> None:
    doc = "<DOC>\n<DOCNO>x</DOCNO>\n<CAT>c</CAT>\n<TITLE>عنوان</TITLE>\n"
    doc += "<TEXT>\nكلمة أولى\nثانية\n</TEXT>\n</DOC>"
    assert reference_text(doc) == "كلمة أولى\nثانية"
    assert reference_text("  نص عادي ") == "نص عادي"
    assert token_f1("كلمة أولى ثانية", "كلمة اولى، ثانية!") == (1.0, 1.0, 1.0)  # alef and punctuation
    p, r, f = token_f1("كلمة كلمة", "كلمة")
    assert (p, r) == (0.5, 1.0) and f == pytest.approx(2 / 3)
    assert token_f1("", "كلمة") == (0.0, 0.0, 0.0)


def _article(**kw: object) -> Article:
    values: dict[str, object] = {"id": "a" * 16, "source": "s", "url": "https://example.com/a"}
    values.update(kw)
    return Article.model_validate(values)


@pytest.mark.parametrize(
    ("mode", "summary", "body", "expected"),
    [
        ("auto", "قصير", "", True),
        ("auto", "", "ن" * 500, False),
        ("always", "", "ن" * 500, True),
        ("never", "قصير", "", False),
    ],
)
def test_needs_fulltext(mode: str, summary: str, body: str, expected: bool) -> None:
    article = _article(summary=summary, body=body)
    assert needs_fulltext(article, mode, 400) is expected  # type: ignore[arg-type]


def test_needs_fulltext_needs_a_url_and_runs_once() -> None:
    assert not needs_fulltext(_article(url=None), "always", 400)
    done = _article(fulltext=FullTextOutcome(status="extracted"))
    assert not needs_fulltext(done, "always", 400)


def test_page_is_better_than_the_feed_only_when_not_shorter() -> None:
    article = _article(summary="ملخص قصير", body="")
    assert feed_text(article) == "ملخص قصير"
    assert page_is_better("نص أطول من الملخص بكثير", article)
    assert not page_is_better("قصير", article)


@pytest.mark.parametrize(
    "ref", ["&#1;", "&#x7;", "&#X1F;", "&#0;", "&#xFFFE;", "&#xD800;", "&#x110000;", "&#1"]
)
def test_a_reference_to_a_character_xml_forbids_does_not_lose_the_page(ref: str) -> None:
    html = BOILERPLATE_PAGE.replace(f"<p>{P1}</p>", f"<p>{P1}{ref}</p>")
    page = extract_page(html)
    assert page is not None and page.text.split("\n") == [P1, P2, P3]


def test_prepare_html_spaces_forbidden_references_and_keeps_the_others() -> None:
    html, cut = prepare_html(
        "<p>a&#1;b&#x0007;c&#xFFFF;d&#55296;e&#65;&#x202B;&#x1F600;&amp;&#99999999999;\ud800</p>"
    )
    assert html == "<p>a b c d e&#65;&#x202B;&#x1F600;&amp;  </p>" and not cut


def test_template_and_hidden_content_is_left_out() -> None:
    hidden = "قالب مخفي لا يظهر للقارئ أبدا في الصفحة المعروضة على الموقع"
    html = BOILERPLATE_PAGE.replace(
        f"<p>{P3}</p>",
        f"<template><p>{hidden} TEMPLATE</p></template><div hidden><p>{hidden} HIDDEN</p></div><p>{P3}</p>",
    )
    page = extract_page(html)
    assert page is not None and page.text.split("\n") == [P1, P2, P3]


def _many_paragraphs(n: int) -> str:
    junk = "".join(f"<p>خبر {i}</p>" for i in range(n))
    return BOILERPLATE_PAGE.replace("</article>", f"</article><div>{junk}</div>")


def test_the_page_is_cut_at_a_tag_boundary_within_the_bounds() -> None:
    html = _many_paragraphs(60_000)  # about 1 MB: what took minutes in trafilatura
    opts = ExtractOptions()
    cut, truncated = prepare_html(html, opts)
    assert truncated and html.startswith(cut) and html[len(cut)] == "<"
    assert len(cut) <= opts.max_chars
    assert len(re.findall(r"<[A-Za-z]", cut)) <= opts.max_tags
    by_chars, truncated = prepare_html(html, ExtractOptions(max_chars=5000, max_tags=10**9))
    assert truncated and len(by_chars) <= 5000 and html.startswith(by_chars)
    assert by_chars.rfind("<") < by_chars.rfind(">")  # never inside a tag
    inside_tag = html.index("<p>", 5000) + 2  # a limit that falls between "<p" and ">"
    cut_tag, _ = prepare_html(html, ExtractOptions(max_chars=inside_tag, max_tags=10**9))
    assert html[len(cut_tag) : len(cut_tag) + 3] == "<p>"


def test_a_cut_page_still_gives_its_article_and_says_so() -> None:
    page = extract_page(_many_paragraphs(200), options=ExtractOptions(max_tags=60))
    assert page is not None and page.truncated
    assert P1 in page.text and P3 in page.text
    whole = extract_page(BOILERPLATE_PAGE)
    assert whole is not None and not whole.truncated


def test_sample_pages_are_within_the_bounds() -> None:
    pages = sorted(PAGES.glob("*.html"))
    if not pages:
        pytest.skip(f"sample pages not present at {PAGES}")
    for path in pages:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not prepare_html(text)[1], path.name


def test_a_single_huge_text_node_is_cut_inside_the_text_not_dropped() -> None:
    html = BOILERPLATE_PAGE.replace(f"<p>{P3}</p>", f"<p>{P3} " + "كلام " * 200_000 + "</p>")
    cut, truncated = prepare_html(html)
    assert truncated and len(cut) == ExtractOptions().max_chars and html.startswith(cut)
    page = extract_page(html)
    assert page is not None and page.truncated and P1 in page.text
