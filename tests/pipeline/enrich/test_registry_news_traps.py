"""Registry data against the linking traps an audit of real news found (8,081 ANT articles, 2026-12).

Each case is a real-news sentence whose trap the registry's data resolves (an organisation or place
whose name holds a country or a person, a region written with أمريكا, a role word after a full
name, a one-word name that is also a common word), with the entity that must still be found beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.ids import article_id
from pipeline.models import Article
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]

Link = tuple[str, str]  # (surface, canonical id)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=REPO / "config"))


def _links(enricher: Enricher, body: str) -> set[Link]:
    article = Article(id=article_id(None, body, source="t"), source="t", title="خبر", body=body)
    return {(m.surface, m.canonical_id) for m in enricher.enrich(article).entities}


@pytest.mark.parametrize(
    ("body", "found", "not_found"),
    [
        pytest.param(  # a party named after the country: the longest match wins
            "أكد القيادي في حركة نداء تونس أن الحزب سيشارك في الانتخابات البلدية في تونس.",
            {("حركة نداء تونس", "rasd:nidaa-tounes"), ("تونس", "Q948")},
            set(),
            id="nidaa-tounes",
        ),
        pytest.param(
            "وقرر حزب آفاق تونس الانسحاب من الحكومة.",
            {("حزب آفاق تونس", "rasd:afek-tounes")},
            {("تونس", "Q948")},
            id="afek-tounes",
        ),
        pytest.param(
            "حققت اتصالات تونس أرباحا وارتفع مؤشر بورصة تونس.",
            {("اتصالات تونس", "rasd:tunisie-telecom"), ("بورصة تونس", "rasd:bourse-de-tunis")},
            {("تونس", "Q948")},
            id="tunisie-telecom",
        ),
        pytest.param(  # the son is not the father
            "قال المدير التنفيذي للحزب حافظ قائد السبسي إن الحزب سيفوز."
            " وكان الباجي قائد السبسي قد أسس الحزب.",
            {
                ("حافظ قائد السبسي", "rasd:hafedh-caid-essebsi"),
                ("الباجي قائد السبسي", "rasd:beji-caid-essebsi"),
            },
            {("حافظ قائد السبسي", "rasd:beji-caid-essebsi"), ("قائد السبسي", "rasd:beji-caid-essebsi")},
            id="hafedh-caid-essebsi",
        ),
        pytest.param(  # a town named after a person
            "تم القبض على شخص بمنزل بورقيبة من ولاية بنزرت.",
            {("منزل بورقيبة", "rasd:menzel-bourguiba"), ("ولاية بنزرت", "rasd:bizerte")},
            {("بورقيبة", "rasd:habib-bourguiba")},
            id="menzel-bourguiba",
        ),
        pytest.param(  # hospitals named after people
            "نقل المصاب إلى المستشفى الجامعي الحبيب بورقيبة بصفاقس.",
            {
                ("المستشفى الجامعي الحبيب بورقيبة", "rasd:chu-habib-bourguiba-sfax"),
                ("صفاقس", "rasd:sfax"),
            },
            {("الحبيب بورقيبة", "rasd:habib-bourguiba")},
            id="hospital-habib-bourguiba",
        ),
        pytest.param(
            "توفي رضيع بمستشفى فرحات حشاد بسوسة.",
            {("مستشفى فرحات حشاد", "rasd:chu-farhat-hached-sousse"), ("سوسة", "rasd:sousse")},
            {("فرحات حشاد", "rasd:farhat-hached")},
            id="hospital-farhat-hached",
        ),
        pytest.param(
            "أعلنت الحكومة خطة لدعم ولايات سيدي بوزيد والقصرين وقفصة.",
            {
                ("سيدي بوزيد", "rasd:sidi-bouzid"),
                ("القصرين", "rasd:kasserine"),
                ("قفصة", "rasd:gafsa"),
            },
            set(),
            id="tunisian-governorates",
        ),
        pytest.param(
            "قال النادي الإفريقي إن المدرب استقال. وأكد الاتحاد الإفريقي لكرة القدم العقوبة.",
            {("النادي الإفريقي", "rasd:club-africain"), ("الاتحاد الإفريقي لكرة القدم", "rasd:caf")},
            set(),
            id="club-africain",
        ),
        pytest.param(  # a footballer whose given name is a city
            "سجل المهاجم الجزائري بغداد بونجاح هدفين للسد القطري. وتعرضت بغداد لهجوم.",
            {("بغداد بونجاح", "rasd:baghdad-bounedjah"), ("بغداد", "Q1530")},
            {("بغداد بونجاح", "Q1530")},
            id="baghdad-bounedjah",
        ),
        pytest.param(  # bare بن مبارك is on neither man
            "وأكد جوهر بن مبارك أن الحكومة فشلت في إدارة الأزمة. والتقى أحمد عوض بن مبارك السفير.",
            {
                ("جوهر بن مبارك", "rasd:jawhar-ben-mbarek"),
                ("أحمد عوض بن مبارك", "rasd:ahmed-awad-bin-mubarak"),
            },
            {("بن مبارك", "rasd:ahmed-awad-bin-mubarak")},
            id="jawhar-ben-mbarek",
        ),
        pytest.param(  # Florentino Pérez is not Shimon Peres
            "وأهدى رئيس ريال مدريد فلورنتينو بيريز قميصا لرونالدو. وقال بيريز إن النادي فخور به.",
            {("رونالدو", "rasd:cristiano-ronaldo")},
            {("بيريز", "rasd:shimon-peres")},
            id="perez-peres",
        ),
        pytest.param(
            "ميلانيا ترمب ترأس مجلس الأمن.. هل تصلح الزوجة ما عطله الزوج؟",
            {("ميلانيا ترمب", "rasd:melania-trump")},
            {("ترمب", "Q22686")},
            id="melania-trump",
        ),
        pytest.param(  # a region is not the United States
            "هي أول ميدالية لدولة من أمريكا الجنوبية في الألعاب. وقالت الولايات المتحدة إنها ستحضر.",
            {("أمريكا الجنوبية", "rasd:south-america"), ("الولايات المتحدة", "Q30")},
            {("أمريكا", "Q30")},
            id="south-america",
        ),
        pytest.param(
            "شاركت دول أمريكا الوسطى وأمريكا الشمالية في القمة.",
            {("أمريكا الوسطى", "rasd:central-america"), ("أمريكا الشمالية", "rasd:north-america")},
            set(),
            id="central-north-america",
        ),
        pytest.param(  # مدينة الجيزة and مدينة غزة share a consonant skeleton
            "وقع الهجوم في مدينة الجيزة المصرية مساء أمس. وقصف الاحتلال مدينة غزة.",
            {("مدينة الجيزة", "rasd:giza"), ("مدينة غزة", "rasd:gaza-city")},
            {("مدينة الجيزة", "rasd:gaza-city")},
            id="giza",
        ),
        pytest.param(  # تيران is a spelling variant of تيرانا
            "مضيق تيران وخليج العقبة ممران مائيان دوليان. وزار الوزير تيرانا.",
            {("مضيق تيران", "rasd:strait-of-tiran"), ("تيرانا", "rasd:tirana")},
            {("تيران", "rasd:tirana")},
            id="strait-of-tiran",
        ),
    ],
)
def test_a_name_inside_a_longer_name_or_a_word_is_not_that_entity(
    enricher: Enricher, body: str, found: set[Link], not_found: set[Link]
) -> None:
    links = _links(enricher, body)
    assert found <= links
    assert not (not_found & links)


@pytest.mark.parametrize(
    ("body", "entity"),
    [
        pytest.param(  # وجوبا "obligatorily": one-word جوبا stands alone only where the tagger agrees
            "يجب على المشاركين أن يحضروا وجوبا هذه الدورات التدريبية."
            " ووصل الوفد إلى جوبا عاصمة جنوب السودان.",
            "rasd:juba",
            id="juba",
        ),
        pytest.param(  # Copa Coca-Cola is no Cuba
            "معهد أسد ابن الفرات بوادي الليل يمثل تونس في كوبا كوكا العالمية."
            " وزار الرئيس كوبا الأسبوع الماضي.",
            "Q241",
            id="cuba",
        ),
    ],
)
def test_an_ambiguous_word_is_its_entity_only_where_it_names_it(
    enricher: Enricher, body: str, entity: str
) -> None:
    """The second sentence names the entity; the first holds the same word as something else."""
    article = Article(id=article_id(None, body, source="t"), source="t", title="خبر", body=body)
    starts = [m.start for m in enricher.enrich(article).entities if m.canonical_id == entity]
    assert len(starts) == 1 and starts[0] > body.index(".")


@pytest.mark.parametrize(
    ("body", "person", "word"),
    [
        pytest.param(
            "استقبل ولي العهد السعودي الرئيس الفرنسي في الرياض."
            " وأكد البيان السعودي أن المباحثات تناولت التعاون.",
            "rasd:mohammed-bin-salman",
            "السعودي",
            id="nationality-adjective",
        ),
        pytest.param(
            "استقبل ولي العهد السعودي الرئيس الفرنسي في الرياض. وقال ولي الأمر إن ابنه بخير.",
            "rasd:mohammed-bin-salman",
            "ولي",
            id="wali",
        ),
        pytest.param(
            "التقى خادم الحرمين الشريفين الملك سلمان بن عبد العزيز الوفد. وقال خادم المسجد إن الزوار كثر.",
            "rasd:king-salman",
            "خادم",
            id="khadim",
        ),
    ],
)
def test_a_role_word_alone_is_not_the_person_named_in_full(
    enricher: Enricher, body: str, person: str, word: str
) -> None:
    links = _links(enricher, body)
    assert any(ent == person for _, ent in links)  # the full name still is
    assert (word, person) not in links
