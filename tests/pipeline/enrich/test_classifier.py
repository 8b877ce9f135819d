from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.enrich.classifier import FeatureSpec, SectionClassifier, extract_features, words_of
from pipeline.eval.ant import read_ant
from pipeline.text.tokenize import Analyzer

ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "config" / "models" / "topics-ant.npz"
ANT = ROOT.parent / "shared" / "data" / "topics" / "ant"
needs_ant = pytest.mark.skipif(not ANT.is_dir(), reason=f"ANT corpus not found at {ANT}")


@pytest.fixture(scope="module")
def model() -> SectionClassifier:
    return SectionClassifier.load(MODEL)


def test_shipped_model_is_small_and_pickle_free(model: SectionClassifier) -> None:
    assert MODEL.stat().st_size < 5_000_000
    with np.load(MODEL, allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)
    assert set(model.labels) == {
        "culture", "diverse", "economy", "internationalNews", "localNews",
        "politic", "society", "sport", "technology",
    }  # fmt: skip


def test_inference_does_not_import_sklearn(model: SectionClassifier) -> None:
    model.predict("عنوان", "نص")
    assert "sklearn" not in sys.modules or "pipeline.enrich.classifier_train" in sys.modules


def test_word_features_are_project_stems() -> None:
    title, body = "وزير الاقتصاد", "وبالتالي ارتفعت الأسعار في البورصة"
    feats = extract_features(title, body, FeatureSpec())
    stems = Analyzer().terms(title) + Analyzer().terms(body)
    assert feats.words[: len(stems)] == stems
    assert len(feats.chars) > 0


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("وزير الاقتصاد", "وبالتالي ارتفعت الأسعار في البورصة. ارتفعت الأسعار في البورصة"),
        ("الترجي يفوز على النجم", "سجل المهاجم هدفين في المباراة والمهاجم سجل"),
        ("", ""),
        ("T كرة", "Mixed LATIN text, 123 و كرة القدم"),
    ],
)
def test_inference_row_equals_the_reference_columns(model: SectionClassifier, title: str, body: str) -> None:
    """Stem-id lookup (inference) and feature strings (training) give the same row, bit for bit."""
    cols, values = model._article_columns(words_of(title), words_of(body))
    ref_cols, ref_values = model.columns(extract_features(title, body, model.spec))
    assert cols.tolist() == ref_cols.tolist()
    assert values.tobytes() == ref_values.tobytes()


@pytest.mark.parametrize(
    "text",
    [
        "وَقَالَ الرَّئِيسُ: إنّ المحادثات مستمرة",  # diacritics, shadda
        "الاقتصــــاد، وبالتالي ١٢٣ ارتفعت",  # tatweel, Eastern Arabic digits
        "بو\u200cتين \u200fقال\u200e إن «الحرب» O'Neil’s 3.5%",  # zero-width/bidi marks, quotes, Latin
        "ﻻ ﷲ ﻹ النص",  # presentation forms
        "",
    ],
)
def test_words_of_equal_the_analyzer_token_norms(text: str) -> None:
    """The enricher hands the classifier its tokens' norms instead of normalising the text again."""
    assert words_of(text) == [t.norm for t in Analyzer().tokens(text)]


@needs_ant
def test_words_of_equal_the_token_norms_on_real_news() -> None:
    analyzer = Analyzer()
    for doc in read_ant(ANT / "politic").documents[:200]:
        for text in (doc.title, doc.body):
            assert words_of(text) == [t.norm for t in analyzer.tokens(text)], doc.docno


def test_scores_sum_to_one(model: SectionClassifier) -> None:
    scores = model.scores("الترجي يفوز على النجم", "سجل المهاجم هدفين في المباراة")
    assert set(scores) == set(model.labels)
    assert sum(scores.values()) == pytest.approx(1.0)
    assert max(scores, key=scores.__getitem__) == model.predict(
        "الترجي يفوز على النجم", "سجل المهاجم هدفين في المباراة"
    )
    empty = model.scores("", "")
    assert sum(empty.values()) == pytest.approx(1.0)


@needs_ant
@pytest.mark.parametrize(
    ("name", "label"),
    [
        # training documents of the shipped model: a smoke test, not an evaluation
        ("sport/JA-sport-10-20170120.txt", "sport"),
        ("economy/JA-economy-1-20170121.txt", "economy"),
    ],
)
def test_shipped_model_on_training_documents(model: SectionClassifier, name: str, label: str) -> None:
    (doc,) = read_ant(ANT / name).documents
    assert model.predict(doc.title, doc.body) == label


def test_train_save_load_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from pipeline.enrich.classifier_train import TrainOptions, fit_sections
    from pipeline.eval.ant import AntDocument

    sport = ["مباراة كرة القدم والهدف", "الفريق فاز في المباراة", "اللاعب سجل هدفا في الملعب"]
    money = ["البورصة والأسعار ارتفعت", "البنك المركزي والدينار", "الصادرات والاستثمار في السوق"]
    docs = [AntDocument(f"s{i}", "sport", t, t) for i, t in enumerate(sport)] + [
        AntDocument(f"e{i}", "economy", t, t) for i, t in enumerate(money)
    ]
    clf = fit_sections(docs, TrainOptions(word_min_df=1, char_min_df=1, max_features=500))
    path = tmp_path / "m.npz"
    clf.save(path)
    loaded = SectionClassifier.load(path)
    assert loaded.labels == ("economy", "sport")
    assert loaded.predict("مباراة", "هدف اللاعب") == "sport"
    assert loaded.predict("الأسعار", "البورصة والدينار") == "economy"
    a, b = clf.scores("مباراة", "الدينار"), loaded.scores("مباراة", "الدينار")
    assert a == pytest.approx(b, abs=1e-2)  # float16 storage
