from __future__ import annotations

from pipeline.enrich.keywords import extract_keywords
from pipeline.enrich.topics import TopicDef, TopicLexicon
from pipeline.text import Analyzer

ANALYZER = Analyzer()
LEXICON = TopicLexicon.build(
    [
        TopicDef(
            id="space",
            label_ar="الفضاء",
            label_en="Space",
            terms={"أقمار صناعية": 3, "فضائية": 2, "إطلاق": 1},
        ),
        TopicDef(id="sport", label_ar="رياضة", label_en="Sport", terms={"مباراة": 3, "هدف": 1}),
    ],
    ANALYZER,
)


def test_multiword_terms_and_title_weight() -> None:
    title = ANALYZER.terms("بوتين يعرض بناء الأقمار الصناعية")
    body = ANALYZER.terms("زيارة إلى القاعدة الفضائية")
    topics = LEXICON.classify(title, body)
    assert [t.id for t in topics] == ["space"]
    assert 0 < topics[0].score < 1


def test_weak_evidence_is_not_a_topic() -> None:
    assert LEXICON.classify([], ANALYZER.terms("سجل هدف واحد")) == []


def test_topics_are_ranked_by_evidence() -> None:
    body = ANALYZER.terms("مباراة مباراة هدف و أقمار صناعية")
    assert [t.id for t in LEXICON.classify([], body)] == ["sport", "space"]


def test_a_phrase_term_matches_behind_the_prepositions_search_and_watches_allow() -> None:
    lexicon = TopicLexicon.build(
        [
            TopicDef(
                id="conflict",
                label_ar="نزاع",
                label_en="Conflict",
                terms={"وقف إطلاق النار": 3, "حرب": 1.5, "بوقف إطلاق النار": 0.5},
            )
        ],
        ANALYZER,
    )
    for text in ("دعا المجلس لوقف إطلاق النار", "رفض الطرفان أي وقف لإطلاق النار"):
        assert lexicon.raw_scores(ANALYZER.terms(text)) == {"conflict": 3.0}, text
    # a single word is not derived: «أسلحة لحربها» is no war story (list such forms where they matter)
    assert lexicon.raw_scores(ANALYZER.terms("أسلحة لحرب")) == {}
    # a form listed on its own keeps its own weight
    assert lexicon.raw_scores(ANALYZER.terms("طالب المجلس بوقف إطلاق النار")) == {"conflict": 0.5}


def test_keywords_skip_stopwords_and_prefer_title() -> None:
    stop = frozenset(ANALYZER.terms("في من على قال"))
    kws = extract_keywords(
        ANALYZER.terms("القمة الروسية الكورية"), ANALYZER.terms("قال في القمة من على الكورية 2023"), stop
    )
    assert kws[:3] == ["قمه", "كوريه", "روسيه"]
    assert "قال" not in kws and "2023" not in kws


def test_section_classifier_adds_evidence_through_the_mapping() -> None:
    lexicon = TopicLexicon.build(
        [
            TopicDef(
                id="sport", label_ar="رياضة", label_en="Sport", terms={"مباراة": 3}, sections={"sport": 1.0}
            )
        ],
        ANALYZER,
    )
    body = ANALYZER.terms("فاز الفريق")  # no lexicon term
    assert lexicon.classify([], body) == []
    assert [t.id for t in lexicon.classify([], body, {"sport": 0.9, "economy": 0.1})] == ["sport"]
    assert lexicon.classify([], body, {"economy": 0.9}) == []
