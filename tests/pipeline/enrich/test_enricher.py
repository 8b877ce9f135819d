"""The full enrichment with the shipped config and models: what an analyst following an actor relies on."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.ids import article_id
from pipeline.models import Article
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=REPO / "config"))


def _article(title: str, body: str = "") -> Article:
    return Article(id=article_id(None, title, source="t"), source="t", title=title, body=body)


@pytest.mark.parametrize(
    "title",
    [
        "بوتين يصل إلى بكين في زيارة رسمية",
        "لقاء مرتقب بين شي جين بينغ وبوتين الأسبوع المقبل",
        "الكرملين: فلاديمير بوتين سيلقي خطابا غدا",
        "رسالة من بوطين إلى القمة الأفريقية",
        "الرئيس الروسي (Putin) يلتقي نظيره الصيني",
        "مكالمة هاتفية لبوتين مع أردوغان",
        "وقع الرئيس الروسي بوتن مرسوما جديدا",  # a spelling an analyst met (was u:per:بوتن)
    ],
)
def test_every_spelling_of_putin_resolves_to_one_id(enricher: Enricher, title: str) -> None:
    ids = {m.canonical_id for m in enricher.enrich(_article(title)).entities}
    assert "Q7747" in ids


def test_a_cat_called_but_is_not_putin(enricher: Enricher) -> None:
    article = _article(
        "قطة اسمها بوت تفوز بمسابقة", "فازت القطة بوت بالجائزة الأولى في معرض الحيوانات الأليفة."
    )
    assert "Q7747" not in {m.canonical_id for m in enricher.enrich(article).entities}


@pytest.mark.parametrize(
    ("body", "wrong"),
    [
        ("حصل الفائز على منحة مالية قدرها ألف دينار.", "rasd:male"),  # مالية "financial" is not Malé
        ("نشرت صحيفة ديلي ميل البريطانية التقرير أمس.", "rasd:dili"),  # "Daily", not Dili
        ("أعلن البنك عن إصدار ورقة نقدية جديدة.", "rasd:raqqa"),  # ورقة "paper" is و + رقة, not الرقة
        ("تعمل في رياض الأطفال منذ سنوات.", "Q3692"),  # kindergartens, not Riyadh
    ],
)
def test_common_words_that_spell_a_place_are_not_that_place(
    enricher: Enricher, body: str, wrong: str
) -> None:
    assert wrong not in {m.canonical_id for m in enricher.enrich(_article("خبر", body)).entities}


def test_places_written_as_their_names_still_resolve(enricher: Enricher) -> None:
    body = "وصلت القافلة إلى الرقة قادمة من الرياض، ثم زار الوفد ماليه عاصمة جزر المالديف."
    ids = {m.canonical_id for m in enricher.enrich(_article("خبر", body)).entities}
    assert {"rasd:raqqa", "Q3692"} <= ids


@pytest.mark.parametrize(
    ("body", "person"),
    [
        ("استقبل الملك سلمان الوفد في الرياض.", "rasd:king-salman"),  # a listed name with its title
        ("قال المشير خليفة حفتر إن قواته تتقدم.", "rasd:khalifa-haftar"),  # خليفة: a name, not "caliph"
        ("قال العميد خليفة الشيباني إن الوضع مستقر.", None),  # not Asaad al-Shaibani
    ],
)
def test_a_title_word_that_is_a_name_stays_in_the_name(
    enricher: Enricher, body: str, person: str | None
) -> None:
    found = {m.canonical_id for m in enricher.enrich(_article("خبر", body)).entities if m.type == "PER"}
    assert "rasd:asaad-al-shaibani" not in found
    if person is not None:
        assert person in found


def test_english_article_is_tagged_english(enricher: Enricher) -> None:
    article = _article(
        "Putin hosts Kim at the Vostochny cosmodrome", "Russia pledged to help North Korea build satellites."
    )
    enriched = enricher.enrich(article)
    assert enriched.language == "en"
    assert "Q7747" in {m.canonical_id for m in enriched.entities}


def test_english_words_that_spell_an_acronym_are_not_it(enricher: Enricher) -> None:
    plain = _article("Weather", "The weather is nice, the forecast told us. Who knew? The car was a spa.")
    assert enricher.enrich(plain).entities == []
    named = _article("Summit", "The US and the WHO met NATO. Nato and Opec officials said IS fighters left.")
    found = [(m.surface, m.canonical_id) for m in enricher.enrich(named).entities]
    assert found == [
        ("US", "Q30"),
        ("WHO", "Q7817"),
        ("NATO", "Q7184"),
        ("Nato", "Q7184"),
        ("Opec", "Q7795"),
        ("IS", "Q2429253"),
    ]


def test_a_long_article_with_thousands_of_mentions_keeps_every_partial_mention(enricher: Enricher) -> None:
    body = "قال فلاديمير بوتين إن روسيا مستعدة. " + "وأضاف بوتين أن موسكو ترحب. " * 2000
    found = enricher.enrich(_article("خبر", body)).entities
    putin = [m for m in found if m.canonical_id == "Q7747"]
    assert len(putin) == 2001
    spans = sorted((m.field, m.start, m.end) for m in found)
    assert all(a[0] != b[0] or a[2] <= b[1] for a, b in itertools.pairwise(spans))  # no overlap


def test_a_huge_field_is_enriched_from_its_first_fifty_thousand_words(enricher: Enricher) -> None:
    from pipeline.enrich.enricher import MAX_ENRICHED_WORDS

    head = "قال بوتين إن موسكو ترحب. "
    body = head + "كلام " * MAX_ENRICHED_WORDS + "وصل ترامب إلى بكين."
    ids = {m.canonical_id for m in enricher.enrich(_article("خبر", body)).entities}
    assert {"Q7747", "Q649"} <= ids  # Putin and Moscow, in the first words
    assert not ids & {"Q22686", "Q956"}  # Trump and Beijing, past them


def test_offsets_index_the_original_text_of_each_field(enricher: Enricher) -> None:
    article = _article("وبوتينُ يستقبل كيم جونغ أون", "قال الرئيسُ الروسيّ فلاديمير بوتين إنّ كيم سيزور موسكو.")
    enriched = enricher.enrich(article)
    assert enriched.entities
    for m in enriched.entities:
        assert enriched.text_of(m.field)[m.start : m.end] == m.surface
        assert not m.surface.startswith("و")  # the clitic is not part of the name
