"""Digits, dates and strings per language; safe highlights, entity-linked text, the timeline SVG."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from pipeline.api.models import DayCount
from pipeline.models import EntityMention
from pipeline.web import i18n
from pipeline.web.render import highlight, paragraphs, timeline_svg


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [(0, "ar", "٠"), (1234567, "ar", "١٬٢٣٤٬٥٦٧"), (1234567, "en", "1,234,567"), (42, "ar", "٤٢")],
)
def test_numbers(value: int, lang: i18n.Lang, expected: str) -> None:
    assert i18n.fmt_num(value, lang) == expected


def test_dates_and_digits_both_ways() -> None:
    moment = datetime(2023, 9, 13, 9, 5, tzinfo=UTC)
    assert i18n.fmt_datetime(moment, "ar") == "١٣ سبتمبر ٢٠٢٣، ٠٩:٠٥"
    assert i18n.fmt_datetime(moment, "en") == "13 Sep 2023, 09:05"
    assert i18n.fmt_date(date(2026, 4, 1), "ar") == "١ أبريل ٢٠٢٦"
    assert i18n.to_western("٢٠٢٦-٠٤-٠١ ۱۲") == "2026-04-01 12"
    assert i18n.to_eastern("2026") == "٢٠٢٦"


def test_language_choice_and_strings() -> None:
    assert i18n.pick_lang(None, None) == "ar" and i18n.direction("ar") == "rtl"
    assert i18n.pick_lang("en", "ar") == "en" and i18n.direction("en") == "ltr"
    assert i18n.pick_lang(None, "en") == "en" and i18n.pick_lang("xx", None) == "ar"
    for key, (ar, en) in i18n.STRINGS.items():
        assert ar and en, key
        assert i18n.t(key, "ar") == ar and i18n.t(key, "en") == en


def test_highlight_keeps_only_the_marks() -> None:
    fragment = "قال &lt;script&gt;alert(1)&lt;/script&gt; إن <mark>بوتين</mark> &amp; كيم"
    html = str(highlight(fragment))
    assert html == "قال &lt;script&gt;alert(1)&lt;/script&gt; إن <mark>بوتين</mark> &amp; كيم"
    assert "<script>" not in str(highlight("<script>x</script>"))


def _mention(text: str, surface: str, cid: str, etype: str = "PER") -> EntityMention:
    start = text.index(surface)
    return EntityMention.model_validate(
        {
            "type": etype,
            "surface": surface,
            "canonical_id": cid,
            "canonical_name": surface,
            "field": "body",
            "start": start,
            "end": start + len(surface),
        }
    )


def test_paragraphs_link_whole_words_and_keep_all_text() -> None:
    text = "التقى كيم ولبوتين في روسيا.\nثم عاد كيم."
    mentions = [
        _mention(text, "بوتين", "Q7747"),
        _mention(text, "روسيا", "Q159", "LOC"),
        _mention(text, "كيم", "Q56226"),
    ]
    paras = paragraphs(text, mentions)
    assert len(paras) == 2
    assert "".join(s.text for s in paras[0]) == "التقى كيم ولبوتين في روسيا."
    linked = [(s.text, s.url) for p in paras for s in p if s.mention]
    assert ("ولبوتين", "/ui/entities/Q7747") in linked  # the clitics stay joined to the name
    assert ("روسيا", "/ui/entities/Q159") in linked


def test_timeline_runs_in_the_reading_direction() -> None:
    days = [DayCount(day=date(2026, 3, 1), count=2), DayCount(day=date(2026, 3, 11), count=5)]

    def xs(svg: str) -> list[float]:
        return [float(x) for x in re.findall(r'<rect class="bar" x="([0-9.]+)"', svg)]

    ar, en = str(timeline_svg(days, "ar")), str(timeline_svg(days, "en"))
    assert ar.count("<rect") == en.count("<rect") == 2
    assert xs(ar)[0] > xs(ar)[1] and xs(en)[0] < xs(en)[1]  # oldest on the right in Arabic
    assert "١ مارس ٢٠٢٦" in ar and "٥" in ar and "1 Mar 2026" in en
    assert str(timeline_svg([], "ar")) == ""
