from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.entities import article_mentions
from pipeline.enrich.gazetteer import tag_entities
from pipeline.enrich.ner import Span
from pipeline.enrich.registry import Entity, EntityRegistry, load_registry
from pipeline.errors import ConfigError
from pipeline.models import EntityType


def _named(*entities: tuple[str, EntityType, str]) -> EntityRegistry:
    """A registry of (id, type, Arabic name) entities."""
    return EntityRegistry.build([Entity(id=i, type=t, name_ar=name) for i, t, name in entities])


@pytest.fixture(scope="module")
def registry() -> EntityRegistry:
    return EntityRegistry.build(
        [
            Entity(
                id="Q7747",
                type="PER",
                name_ar="فلاديمير بوتين",
                name_en="Vladimir Putin",
                aliases_ar=("بوتين", "بوطين"),
                aliases_en=("Putin",),
            ),
            Entity(
                id="Q56226",
                type="PER",
                name_ar="كيم جونغ أون",
                name_en="Kim Jong Un",
                aliases_ar=("كيم جونج أون", "كيم يونغ أون"),
            ),
            Entity(id="Q159", type="LOC", name_ar="روسيا", name_en="Russia"),
            Entity(id="Q423", type="LOC", name_ar="كوريا الشمالية", name_en="North Korea"),
            Entity(id="Q822", type="LOC", name_ar="لبنان", name_en="Lebanon"),
            Entity(id="Q35525", type="ORG", name_ar="البيت الأبيض", name_en="White House"),
            Entity(id="Q406", type="LOC", name_ar="إسطنبول", name_en="Istanbul"),
        ]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قال بوتين إن", [("Q7747", "بوتين")]),
        ("التقى وبوتين", [("Q7747", "بوتين")]),  # clitic و kept out of the surface span
        ("رسالة لبوتين", [("Q7747", "بوتين")]),
        ("الرئيس فلاديمير بوتينُ", [("Q7747", "فلاديمير بوتينُ")]),  # longest match wins
        ("Putin said", [("Q7747", "Putin")]),
        ("الزعيم كيم جونج أون", [("Q56226", "كيم جونج أون")]),
        ("زار كوريا الشمالية وروسيا", [("Q423", "كوريا الشمالية"), ("Q159", "روسيا")]),
        ("غارات على لبنان وللبنان", [("Q822", "لبنان"), ("Q822", "لبنان")]),
        ("حذر البيت الأبيض", [("Q35525", "البيت الأبيض")]),
        ("وصل \ufef9سطنبول", [("Q406", "\ufef9سطنبول")]),  # the clitic shares a ligature (لإ) with the name
        ("قطة اسمها بوت", []),  # a cat called بوت is not Putin
        ("بوتينات", []),
    ],
)
def test_tagging(registry: EntityRegistry, text: str, expected: list[tuple[str, str]]) -> None:
    mentions = tag_entities(text, "body", registry)
    assert [(m.canonical_id, m.surface) for m in mentions] == expected
    for m in mentions:
        assert text[m.start : m.end] == m.surface  # offsets index the original text


def test_resolve_by_id_or_any_variant(registry: EntityRegistry) -> None:
    for name in ("Q7747", "بوتين", "بوطين", "Putin", "putin", "فلاديمير بوتين"):
        ent = registry.resolve(name)
        assert ent is not None and ent.id == "Q7747", name
    assert registry.resolve("بوت") is None


def test_name_claimed_by_two_entities_resolves_to_neither() -> None:
    reg = EntityRegistry.build(
        [
            Entity(id="aa", type="LOC", name_ar="الجزائر", name_en="Algeria"),
            Entity(id="bb", type="LOC", name_ar="الجزائر", name_en="Algiers"),
        ]
    )
    assert reg.resolve("الجزائر") is None
    assert reg.resolve("Algiers") is not None


def test_a_spelling_variant_shared_by_two_entities_is_reported_and_matches_neither() -> None:
    reg = _named(
        ("john", "PER", "جون سميث"),
        ("jan", "PER", "جان سميث"),
        ("putin", "PER", "بوتين"),
        ("bhutan", "LOC", "بوتان"),
    )
    # جين سميث could be either once the vowels go: neither, and the clash is listed for curators
    assert reg.resolve("جين سميث") is None
    assert reg.variant_clashes[("جن", "سمت")] == {"john", "jan"}  # ث folds to ت
    # one word keeps its vowels but one: بوطين is Putin, not Bhutan; بوتين/بوتان share only بوتن
    assert getattr(reg.resolve("بوطين"), "id", None) == "putin"
    assert reg.variant_clashes[("3:بوتن",)] == {"putin", "bhutan"}  # both drop a vowel at 3


def test_one_word_matches_a_name_by_consonant_classes_and_one_long_vowel_only() -> None:
    reg = EntityRegistry.build(
        [
            Entity(id="nepal", type="LOC", name_ar="نيبال"),
            Entity(id="gaddafi", type="PER", name_ar="معمر القذافي", aliases_ar=["القذافي"]),
            Entity(id="unicef", type="ORG", name_ar="اليونيسف"),
            Entity(id="tesla", type="ORG", name_ar="شركة تسلا", aliases_ar=["تسلا"]),
        ]
    )
    found = {word: getattr(reg.resolve(word), "id", None) for word in ("اليونيسيف", "تيسلا", "القظافي")}
    assert found == {"اليونيسيف": "unicef", "تيسلا": "tesla", "القظافي": "gaddafi"}
    # the consonant skeleton alone made these the names of entities
    for word in ("نابل", "نبيل", "جوزيف", "جوزيفي"):
        assert reg.resolve(word) is None, word


def test_a_one_word_name_s_last_vowel_is_never_the_one_changed() -> None:
    reg = _named(("politico", "ORG", "بوليتيكو"), ("merkel", "PER", "ميركل"))
    # the Tunisian radio programme بوليتيكا is not the site; ماركل is ميركل with an inner vowel changed
    found = {word: getattr(reg.resolve(word), "id", None) for word in ("بوليتيكا", "بوليتكو", "ماركل")}
    assert found == {"بوليتيكا": None, "بوليتكو": "politico", "ماركل": "merkel"}


def test_a_multi_word_variant_needs_its_last_word_close_to_the_name() -> None:
    reg = EntityRegistry.build(
        [
            Entity(id="deby", type="PER", name_ar="محمد إدريس ديبي", aliases_ar=["محمد ديبي"]),
            Entity(id="merkel", type="PER", name_ar="أنجيلا ميركل"),
        ]
    )
    found = {
        name: getattr(reg.resolve(name), "id", None) for name in ("انجيلا ماركل", "محمد ديبى", "محمد دياب")
    }
    # ماركل is ميركل with one vowel changed; دياب (Diab) shares only the skeleton دب with ديبي
    assert found == {"انجيلا ماركل": "merkel", "محمد ديبى": "deby", "محمد دياب": None}
    tagged = tag_entities("التقى محمد دياب بأنجيلا ماركل", "body", reg)
    assert [m.canonical_id for m in tagged] == ["merkel"]


def test_a_nisba_adjective_is_no_spelling_of_its_place() -> None:
    reg = _named(
        ("baghdad", "LOC", "بغداد"),
        ("mauritania", "LOC", "موريتانيا"),
        ("abbas", "PER", "محمود عباس"),
        ("unsc", "ORG", "مجلس الأمن"),
    )
    for name in ("البغدادي", "بغدادي", "موريتاني", "محمد عباسي", "المجلس الأمني"):
        assert reg.resolve(name) is None, name
    # the other long-vowel spellings still match
    found = {name: getattr(reg.resolve(name), "id", None) for name in ("بقداد", "موريتنيا", "محمد عباس")}
    assert found == {"بقداد": "baghdad", "موريتنيا": "mauritania", "محمد عباس": "abbas"}


def test_a_person_s_surname_that_names_someone_else_is_not_a_spelling_variant() -> None:
    reg = EntityRegistry.build(
        [
            Entity(id="hassoun", type="PER", name_ar="أحمد بدر الدين حسون", aliases_ar=["أحمد حسون"]),
            Entity(id="saddam", type="PER", name_ar="صدام حسين"),
            Entity(id="tusk", type="PER", name_ar="دونالد توسك"),
        ]
    )
    # حسين is a surname in the registry, so أحمد حسين is not a misspelling of أحمد حسون; تاسك names nobody
    names = ("أحمد حسين", "أحمد حسون", "دونالد تاسك")
    found = {name: getattr(reg.resolve(name), "id", None) for name in names}
    assert found == {"أحمد حسين": None, "أحمد حسون": "hassoun", "دونالد تاسك": "tusk"}


def test_clitic_and_article_words_of_organisation_names_are_not_protected() -> None:
    reg = EntityRegistry.build(
        [
            Entity(id="sco", type="ORG", name_ar="منظمة شنغهاي للتعاون"),
            Entity(id="waltz", type="PER", name_ar="مايك والتز"),
        ]
    )
    # protected, للتعاون would stay whole in every text and a search for التعاون would miss it
    assert reg.analyzer.terms("للتعاون والتعاون") == ["تعاون", "تعاون"]
    assert reg.analyzer.terms("والتز") == ["والتز"]  # a person's name keeps its letters
    found = tag_entities("انضمت إيران إلى منظمة شنغهاي للتعاون ومايك والتز", "body", reg)
    assert [(m.canonical_id, m.surface) for m in found] == [
        ("sco", "منظمة شنغهاي للتعاون"),
        ("waltz", "مايك والتز"),
    ]


def test_abd_compounds_match_written_joined_or_apart() -> None:
    reg = EntityRegistry.build(
        [
            Entity(id="abdullah", type="PER", name_ar="عبد الله الثاني"),
            Entity(id="zayani", type="PER", name_ar="عبداللطيف الزياني"),
            Entity(id="hadi", type="PER", name_ar="عبد ربه منصور هادي"),
        ]
    )
    for text, ent_id in [
        ("عبد الله الثاني", "abdullah"),
        ("عبدالله الثاني", "abdullah"),
        ("عبداللطيف الزياني", "zayani"),
        ("عبد اللطيف الزياني", "zayani"),
        ("عبدربه منصور هادي", "hadi"),
    ]:
        assert [m.canonical_id for m in tag_entities(f"قال {text} أمس", "body", reg)] == [ent_id], text
    assert tag_entities("قال عبد الثاني", "body", reg) == []  # only the compound, not any عبد


def test_duplicate_ids_are_a_config_error() -> None:
    e = Entity(id="xx", type="LOC", name_ar="روسيا")
    with pytest.raises(ConfigError, match="twice"):
        EntityRegistry.build([e, e])


def test_partial_mentions_after_a_full_name(registry: EntityRegistry) -> None:
    title = "جولة مع كيم في القاعدة"
    body = "اصطحب بوتين الزعيم كيم جونغ أون في جولة. وقال كيم إن"
    mentions = article_mentions([("title", title), ("body", body)], registry)
    kims = [(m.field, m.surface) for m in mentions if m.canonical_id == "Q56226"]
    assert kims == [("title", "كيم"), ("body", "كيم جونغ أون"), ("body", "كيم")]
    for m in mentions:
        text = title if m.field == "title" else body
        assert text[m.start : m.end] == m.surface


def test_partial_mentions_need_the_full_name_first(registry: EntityRegistry) -> None:
    assert article_mentions([("body", "قال كيم إن")], registry) == []


def test_spelling_variants_of_multiword_names(registry: EntityRegistry) -> None:
    mentions = tag_entities("استقبل كيم جونق اون وسيرجي", "body", registry)  # ق for g: not a listed alias
    assert [(m.canonical_id, m.surface) for m in mentions] == [("Q56226", "كيم جونق اون")]


def test_tagger_spans_outside_the_registry_get_stable_ids(registry: EntityRegistry) -> None:
    text = "قال وزير الخارجية وفلان الفلاني إن بوطين في روسيا"
    person = text.index("فلان")
    putin = text.index("بوطين")
    spans = {
        "body": [
            Span(person, person + len("فلان الفلاني"), "PER", 0.8, "crf"),
            Span(putin, putin + 5, "PER", 0.7, "crf"),
        ]
    }
    found = article_mentions([("body", text)], registry, spans)
    # with a tagger, its spans are the mentions (روسيا was not tagged), canonicalised
    assert [(m.canonical_id, m.surface) for m in found] == [
        ("u:per:فلان_فلاني", "فلان الفلاني"),
        ("Q7747", "بوطين"),
    ]


def test_stray_tagger_spans_do_not_block_partial_names(registry: EntityRegistry) -> None:
    text = "استقبل بوتين كيم جونغ أون. ثم قال كيم سيناقشان كل شيء. وأضاف كيم"
    full, stray, alone = text.index("كيم جونغ"), text.index("كيم سيناقشان"), text.rindex("كيم")
    spans = {
        "body": [
            Span(full, full + len("كيم جونغ أون"), "PER", 0.9, "crf"),
            Span(
                stray, stray + len("كيم سيناقشان"), "PER", 0.5, "crf"
            ),  # a tagger error: an unknown two-word name
            Span(alone, alone + 3, "PER", 0.6, "crf"),
        ]
    }
    found = article_mentions([("body", text)], registry, spans)
    assert [m.canonical_id for m in found] == ["Q56226", "u:per:كيم_سيناقشان", "Q56226"]


def test_a_place_always_named_with_the_article_is_not_the_bare_word() -> None:
    reg = EntityRegistry.build(
        [
            Entity(id="raqqa", type="LOC", name_ar="الرقة"),
            Entity(id="riyadh", type="LOC", name_ar="الرياض"),
            Entity(id="cairo", type="LOC", name_ar="القاهرة", aliases_ar=["قاهرة المعز"]),
            Entity(id="doha", type="LOC", name_ar="الدوحة", aliases_ar=["دوحة"]),  # listed bare too
            Entity(id="arsenal", type="ORG", name_ar="آرسنال", aliases_ar=["الآرسنال"]),
        ]
    )
    assert reg.article_only == {"رقه", "رياض", "قاهره"}
    with_article, bare = reg.analyzer.tokens("الرقة رقة")
    assert reg.stands_alone(with_article) and not reg.stands_alone(bare)
    found = tag_entities("وصلوا إلى الرقة وبالرياض وللقاهرة", "body", reg)
    assert [m.canonical_id for m in found] == ["raqqa", "riyadh", "cairo"]
    # ورقة "paper" is و + رقة; رياض الأطفال "kindergartens"; وقاهرة "and compelling"
    assert tag_entities("قطع ورقة من رياض الأطفال بقوة وقاهرة", "body", reg) == []
    assert [m.canonical_id for m in tag_entities("في دوحة وآرسنال", "body", reg)] == ["doha", "arsenal"]


def test_an_ambiguous_word_needs_the_tagger_to_stand_for_its_entity(tmp_path: Path) -> None:
    (tmp_path / "places.yaml").write_text(
        "entities:\n"
        "  - {id: male, type: LOC, name_ar: ماليه, name_en: Malé}\n"
        "  - {id: maldives, type: LOC, name_ar: جزر المالديف, name_en: Maldives}\n",
        encoding="utf-8",
    )
    assert load_registry(tmp_path).ambiguous_words == frozenset()  # the list is optional
    (tmp_path / "ambiguous_words.txt").write_text(
        '# Malé; مالية "financial"\nماليه  # note\n', encoding="utf-8"
    )
    reg = load_registry(tmp_path)
    assert reg.ambiguous_words == {"ماليه"}
    text = "منحة مالية لسكان ماليه في جزر المالديف"
    # without a tagger the word never stands alone; a longer name is unaffected
    assert [m.canonical_id for m in tag_entities(text, "body", reg)] == ["maldives"]
    # where the tagger tags it as a place, it is the place
    at = text.index("ماليه")
    spans = {"body": [Span(at, at + len("ماليه"), "LOC", 0.7, "crf")]}
    assert [m.canonical_id for m in article_mentions([("body", text)], reg, spans)] == ["male"]


def test_a_word_with_a_verb_prefix_or_a_pronoun_is_not_a_name() -> None:
    reg = _named(("tallinn", "LOC", "تالين"), ("jeddah", "LOC", "جدة"))
    # ستالين is read as س (future) + تالين, جدته as جدة + ه ("his grandmother")
    text = "تمثال ستالين في تالين، وزارت جدته مدينة جدة"
    assert [m.surface for m in tag_entities(text, "body", reg)] == ["تالين", "جدة"]
    # a tagger's span over such a word is not canonicalised to the place either, nor named by the cut
    at = text.index("ستالين")
    spans = {"body": [Span(at, at + len("ستالين"), "PER", 0.7, "crf")]}
    assert [m.canonical_id for m in article_mentions([("body", text)], reg, spans)] == ["u:per:ستالين"]
