"""Where a registry name is another word: the contexts file, and the links it keeps out of real sentences.

The sentences are the audit's reproductions (ANT articles and sample feeds, 2026-12-07); each comes
with a control in which the same name is the entity and must still be linked.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pipeline.enrich.contexts import NameContexts, load_contexts, written_form
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.errors import ConfigError
from pipeline.ids import article_id
from pipeline.models import Article, EntityType
from pipeline.settings import Settings
from pipeline.text.tokenize import Analyzer

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=REPO / "config"))


def _ids(enricher: Enricher, body: str, title: str = "-") -> set[str]:
    article = Article(id=article_id(None, title + body, source="t"), source="t", title=title, body=body)
    return {m.canonical_id for m in enricher.enrich(article).entities}


# -- the file ---------------------------------------------------------------------------------


def _contexts(tmp_path: Path, text: str) -> NameContexts:
    path = tmp_path / "contexts.yaml"
    path.write_text(text, encoding="utf-8")
    return load_contexts(path, Analyzer())


def test_forms_and_neighbours_are_matched_as_the_text_writes_them(tmp_path: Path) -> None:
    contexts = _contexts(
        tmp_path,
        "not_names: [القطر]\nambiguous_forms: [بحماس]\nafter: {LOC: [حي]}\nbefore: {ORG: [القومي]}\n",
    )
    analyzer = Analyzer()
    tokens = analyzer.tokens("جاء للقطر وقطر ثم بحي الرياض و حي  الرياض ومجلس الأمن القومي")
    words = [t.text for t in tokens]
    assert written_form(tokens[1]) == "القطر"
    assert contexts.blocks(tokens, 1, 2, "LOC")  # للقطر: the article is kept, ل cut
    assert not contexts.blocks(tokens, 2, 3, "LOC")  # وقطر is Qatar
    riyadh = words.index("الرياض")
    assert contexts.blocks(tokens, riyadh, riyadh + 1, "LOC")  # بحي: the clitic the stemmer leaves on
    assert not contexts.blocks(tokens, riyadh, riyadh + 1, "PER")  # the rule is for places only
    assert not contexts.blocks(tokens, riyadh + 3, riyadh + 4, "LOC")  # two spaces: not «حي الرياض»
    council = words.index("ومجلس")
    assert contexts.blocks(tokens, council, council + 2, "ORG")
    assert not contexts.blocks(tokens, council, council + 1, "ORG")  # الأمن is not before القومي
    assert contexts.ambiguous(analyzer.tokens("بحماس")[0])
    assert not contexts.ambiguous(analyzer.tokens("وحماس")[0])


@dataclasses.dataclass(frozen=True)
class _Span:
    start: int
    end: int
    type: EntityType
    confidence: float = 0.9


@pytest.mark.parametrize(
    ("text", "place", "expected"),
    [
        ("أقدمت امرأة من مدينة القيروان على الانتحار", "مدينة القيروان", "rasd:kairouan"),
        ("نقل المصابون إلى مستشفى بمدينة سوسة", "بمدينة سوسة", "rasd:sousse"),  # a clitic on the head
        ("عبرت السفينة بحر الصين أمس", "بحر الصين", "u:loc:بحر_صين"),  # a sea is not its country
        ("جاء من مدينة الرياض في سوسة", "مدينة الرياض", "Q3692"),
        ("انعقد المؤتمر في مدينة تونس أمس", "مدينة تونس", "Q3572"),  # the capital, listed, not the country
    ],
)
def test_a_place_head_in_a_tagger_span_names_the_listed_place(text: str, place: str, expected: str) -> None:
    from pipeline.enrich.entities import article_mentions
    from pipeline.enrich.registry import load_registry

    registry = load_registry(REPO / "config" / "entities")
    start = text.index(place)
    if place.startswith("ب"):
        start += 1  # the tagger trims the clitic
    (mention,) = article_mentions(
        [("body", text)], registry, {"body": [_Span(start, text.index(place) + len(place), "LOC")]}
    )
    assert mention.canonical_id == expected
    assert (mention.start, mention.end) == (start, text.index(place) + len(place))  # the span stays


def test_place_heads_are_read_as_stems(tmp_path: Path) -> None:
    contexts = _contexts(tmp_path, "place_heads: [مدينة, ولاية]\n")
    tokens = Analyzer().tokens("بمدينة والمدينة ولاية مدين")
    assert [contexts.heads_place(t) for t in tokens] == [True, True, True, False]


def test_a_missing_file_means_no_contexts(tmp_path: Path) -> None:
    assert load_contexts(tmp_path / "none.yaml", Analyzer()) == NameContexts()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not_name: [القطر]\n", "unknown: ['not_name']"),
        ("after: {CITY: [حي]}\n", "'CITY' is neither an entity type (PER, ORG, LOC) nor an entity id"),
        ("after: [حي]\n", "expected a mapping of PER/ORG/LOC"),
        ("not_names: [القطر الجزائري]\n", "is not one word"),
        ("before: {ORG: [1]}\n", "expected a list of words"),
    ],
)
def test_a_bad_contexts_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _contexts(tmp_path, text)


def test_a_rule_for_one_entity_holds_for_its_names_only(tmp_path: Path) -> None:
    contexts = _contexts(tmp_path, "before: {Q37470: [الروسي]}\n")
    tokens = Analyzer().tokens("مجلس الأمن الروسي والاتحاد الروسي")
    assert contexts.blocks(tokens, 0, 2, "ORG", "Q37470")
    assert not contexts.blocks(tokens, 0, 2, "ORG", "Q1")  # another entity written before الروسي
    assert not contexts.blocks(tokens, 0, 2, "ORG")  # a span whose entity is not known


def test_rules_for_entities_the_registry_lacks_are_logged_and_unused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A trimmed registry still loads; a rule naming no entity it has is worth a line in the log."""
    import shutil

    from pipeline.enrich.registry import load_registry

    entities = tmp_path / "entities"
    shutil.copytree(REPO / "config" / "entities", entities)
    (entities / "rules" / "contexts.yaml").write_text("before: {Q99999999: [الروسي]}\n", encoding="utf-8")
    registry = load_registry(entities)
    assert "Q99999999" in caplog.text and "unused" in caplog.text
    assert registry.resolve("مجلس الأمن") is not None


# -- the shipped contexts, through the whole enrichment ---------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "right", "entity"),
    [
        ("حجزت الديوانة بضاعة قادمة من القطر الجزائري.", "أعلنت قطر اليوم عن مبادرة جديدة.", "Q846"),
        ("أعلنت السلطات السورية عن إجراءات جديدة.", "زار الوفد سوريا الأسبوع الماضي.", "Q858"),
        ("قامت الشرطة بحي الرياض في سوسة بإيقاف شخص.", "وصل الوزير إلى الرياض مساء أمس.", "Q3692"),
        ("رفع المؤذن أذان المغرب في المسجد الكبير.", "وصل الوزير إلى المغرب في زيارة رسمية.", "Q1028"),
        ("تمت الموافقة على إحداث مجلس الأمن القومي.", "عقد مجلس الأمن جلسة طارئة أمس.", "Q37470"),
        ("قال أمين مجلس الأمن الروسي سيرجي شويجو إن", "قال مجلس الأمن الدولي في بيان إن", "Q37470"),
        ("استقبل الجمهور الفريق بحماس كبير.", "قالت حماس في بيان إنها ترفض المقترح.", "Q38799"),
        ("اقترحت الحكومة زيادة في معلوم الجولان على السيارات.", "قصفت المدفعية مواقع في الجولان.", None),
        ("تأهل الفريق إلى الدور النهائي لكأس تونس.", "وصل الوفد إلى تونس صباح اليوم.", "Q948"),
        # the recheck after the Tunisian governorates were added (a club, a company, an insect)
        ("فاز النادي البنزرتي على شبيبة القيروان.", "زار الوزير القيروان أمس.", "rasd:kairouan"),
        ("استأنفت شركة فسفاط قفصة الإنتاج.", "زار الوزير قفصة أمس.", "rasd:gafsa"),
        ("منع دخول سوسة النخيل الحمراء إلى الواحات.", "وصل الوفد إلى سوسة أمس.", "rasd:sousse"),
        ("صلى المئات في المسجد القبلي.", "سجلت أمطار غزيرة في قبلي أمس.", "rasd:kebili"),
        ("شارك الفريق في دورة كوبا كوكاكولا.", "زار الرئيس كوبا في جولة.", "Q241"),
        ("عاد الحجيج من البقاع المقدسة.", "قصف الطيران سهل البقاع.", "rasd:bekaa"),
    ],
)
def test_a_name_that_is_another_word_here_is_not_linked(
    enricher: Enricher, wrong: str, right: str, entity: str | None
) -> None:
    if entity is None:
        entity = enricher.registry.resolve("الجولان").id  # type: ignore[union-attr]
    assert entity not in _ids(enricher, wrong)
    assert entity in _ids(enricher, right)


def test_the_contexts_hold_without_a_tagger_too(enricher: Enricher) -> None:
    gazetteer_only = dataclasses.replace(enricher, ner=None)
    assert "Q3692" not in _ids(gazetteer_only, "قامت الشرطة بحي الرياض بإيقاف شخص.")
    assert "Q37470" not in _ids(gazetteer_only, "تمت الموافقة على إحداث مجلس الأمن القومي.")
    assert "Q37470" in _ids(gazetteer_only, "عقد مجلس الأمن جلسة طارئة أمس.")


def test_a_hospital_named_after_a_person_is_not_him_nor_a_later_mention_of_him(enricher: Enricher) -> None:
    hached = enricher.registry.resolve("فرحات حشاد").id  # type: ignore[union-attr]
    body = "أحيا الاتحاد ذكرى اغتيال الزعيم فرحات حشاد. ونقل مصاب إلى مستشفى فرحات حشاد بسوسة."
    article = Article(id=article_id(None, body, source="t"), source="t", title="-", body=body)
    linked = [m for m in enricher.enrich(article).entities if m.canonical_id == hached]
    hospital = body.index("مستشفى")
    assert linked and all(m.end <= hospital for m in linked)  # the leader, not the hospital's words


def test_a_title_and_its_qualifier_do_not_make_a_registry_person_a_place(enricher: Enricher) -> None:
    article = Article(
        id=article_id(None, "essebsi", source="t"),
        source="t",
        title="-",
        body="استقبل رئيس الجمهورية الباجي قائد السبسي اليوم وزير الخارجية الفرنسي.",
    )
    mentions = enricher.enrich(article).entities
    essebsi = [m for m in mentions if m.canonical_id == "rasd:beji-caid-essebsi"]
    assert [(m.type, m.surface) for m in essebsi] == [("PER", "الباجي قائد السبسي")]
    assert not [m for m in mentions if m.type == "LOC" and "السبسي" in m.surface]
    # the title with a preposition on it (لرئيس، برئيس): 8 such spans were still places in ANT
    prefixed = article.model_copy(update={"body": "وجه التحية لرئيس الجمهورية الباجي قائد السبسي أمس."})
    assert "rasd:beji-caid-essebsi" in {m.canonical_id for m in enricher.enrich(prefixed).entities}


def test_a_first_name_of_someone_else_is_not_a_spelling_of_the_name(enricher: Enricher) -> None:
    nazir = enricher.registry.resolve("نظير عياد").id  # type: ignore[union-attr]
    assert nazir not in _ids(enricher, "وقال نزار عياد عضو الهيئة السياسية للحزب إن الحركة ترفض ذلك.")
    assert nazir in _ids(enricher, "وقال مفتي الجمهورية نظير عياد إن الفتوى واضحة.")
    # a longer name has its other words to go by: جون/جان إيف لودريان is one man
    assert "rasd:jean-yves-le-drian" in _ids(enricher, "زار جون إيف لودريان تونس يوم الخميس.")
