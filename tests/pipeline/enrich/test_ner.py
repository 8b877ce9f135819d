from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pipeline.enrich.ner import NerTagger, Span
from pipeline.enrich.registry import EntityRegistry, load_registry

ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "config" / "models" / "ner-crf.crfsuite"
SEED = ROOT.parent / "shared" / "samples" / "seed-article-ar.txt"


@pytest.fixture(scope="module")
def registry() -> EntityRegistry:
    return load_registry(ROOT / "config" / "entities")


@pytest.fixture(scope="module")
def tagger(registry: EntityRegistry) -> NerTagger:
    return NerTagger.load(MODEL, registry, ROOT / "config" / "ner")


def _found(text: str, spans: list[Span]) -> set[tuple[str, str]]:
    return {(text[s.start : s.end], s.type) for s in spans}


def test_model_is_small() -> None:
    assert MODEL.stat().st_size < 10_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "تعهد الرئيس الروسي فلاديمير بوتين بمساعدة كوريا الشمالية.",
            {("فلاديمير بوتين", "PER"), ("كوريا الشمالية", "LOC")},
        ),
        (
            "ويحضر وزير الدفاع الروسي سيرغي شويغو المناقشات في روسيا.",
            {("سيرغي شويغو", "PER"), ("روسيا", "LOC")},
        ),
        ("وكان البيت الأبيض قد حذر كوريا الشمالية.", {("البيت الأبيض", "ORG"), ("كوريا الشمالية", "LOC")}),
        # names outside the registry: the CRF and the word lists must carry them
        (
            "وقال المتحدث باسم وزارة الخارجية المصرية أحمد أبو زيد إن الوفد وصل إلى مدينة الإسكندرية.",
            {("أحمد أبو زيد", "PER"), ("وزارة الخارجية المصرية", "ORG"), ("الإسكندرية", "LOC")},
        ),
    ],
)
def test_finds_entities(tagger: NerTagger, text: str, expected: set[tuple[str, str]]) -> None:
    assert expected <= _found(text, tagger.spans(text))


def test_offsets_index_original_text_and_skip_clitics(tagger: NerTagger) -> None:
    text = "\u200fوأشاد بوتينُ بـ«دعم» لروسيا، وقال لبوتين وبوتين."
    spans = tagger.spans(text)
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    surfaces = [text[s.start : s.end] for s in spans]
    assert "روسيا" in surfaces
    assert surfaces.count("بوتين") == 2
    assert "بوتينُ" in surfaces  # trailing diacritic kept with its word
    assert all(0.0 < s.confidence <= 1.0 for s in spans)


def test_seed_article(tagger: NerTagger) -> None:
    if not SEED.exists():
        pytest.skip(f"{SEED} not available")
    text = SEED.read_text(encoding="utf-8")
    found = _found(text, tagger.spans(text))
    for item in [
        ("فلاديمير بوتين", "PER"),
        ("سيرغي شويغو", "PER"),
        ("روسيا", "LOC"),
        ("البيت الأبيض", "ORG"),
    ]:
        assert item in found


def test_tokens_from_the_enricher_give_the_same_spans() -> None:
    from pipeline.enrich.enricher import load_enricher
    from pipeline.settings import Settings

    enricher = load_enricher(Settings(config_dir=Path(__file__).resolve().parents[3] / "config"))
    assert enricher.ner is not None
    text = (Path(__file__).resolve().parents[4] / "shared" / "samples" / "seed-article-ar.txt").read_text(
        "utf-8"
    )
    own = enricher.ner.spans(text)
    passed = enricher.ner.spans(text, enricher.analyzer.tokens(text))
    assert own == passed and own
    assert enricher.ner.tokens(text, enricher.analyzer.tokens(text)) == enricher.ner.analyzer.tokens(text)


def test_person_spans_leave_titles_out() -> None:
    """On real news sentences, no person span starts with a title (الدكتور حجازي → حجازي)."""
    from pipeline.eval.conll import read_conll
    from pipeline.text.normalise import normalise

    root = Path(__file__).resolve().parents[4] / "shared" / "data" / "ner" / "newsfane" / "dev.txt"
    if not root.is_file():
        pytest.skip("needs ../shared/data/ner/newsfane/dev.txt")
    registry = load_registry(Path(__file__).resolve().parents[3] / "config" / "entities")
    tagger = NerTagger.load(
        Path(__file__).resolve().parents[3] / "config" / "models" / "ner-crf.crfsuite",
        registry,
        Path(__file__).resolve().parents[3] / "config" / "ner",
    )
    titled = []
    persons = 0
    for sentence in read_conll(root, "newsfane")[:250]:
        text = " ".join(sentence.tokens)
        for span in tagger.spans(text):
            if span.type == "PER":
                persons += 1
                name = text[span.start : span.end]
                first = normalise(name.split()[0])
                # a title word that is also a name (خليفة بن زايد: Khalifa, not "caliph") opens the
                # name, and so does the title of a listed name (الملك سلمان)
                word = tagger.analyzer.tokens(name)[0]
                as_name = not word.has_article and tagger.featurizer.classes(word) & {"GN", "RPER"}
                listed = registry.lookup(tuple(registry.analyzer.terms(name))) is not None
                if first in tagger.resources.titles and len(name.split()) > 1 and not as_name and not listed:
                    titled.append(name)
    assert persons > 50 and titled == []


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("وقال إنه لم يلتق فان نيستلروي منذ سنوات", "فان نيستلروي"),
        ("وسجل فان بيرسي هدفين", "فان بيرسي"),
    ],
)
def test_a_surname_particle_is_part_of_the_name(tagger: NerTagger, text: str, person: str) -> None:
    assert (person, "PER") in _found(text, tagger.spans(text))


@pytest.mark.parametrize("text", ["فان الملك سلمان استقبل الوفد", "فان أحمد غادر المدينة"])
def test_fan_for_inna_is_no_particle(tagger: NerTagger, text: str) -> None:
    # فإن ("indeed") written without its hamza, before a title or a given name
    assert not any(surface.startswith("فان") for surface, _ in _found(text, tagger.spans(text)))
