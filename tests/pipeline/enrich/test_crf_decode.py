"""The numpy decoder must reproduce crfsuite's own tagger: same labels, same marginals."""

from __future__ import annotations

import re
from pathlib import Path

import pycrfsuite  # type: ignore[import-untyped]
import pytest

from pipeline.enrich.ner import NerTagger, split_sentences
from pipeline.enrich.registry import load_registry

ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "config" / "models" / "ner-crf.crfsuite"
FEED = ROOT / "tests" / "fixtures" / "feeds" / "seed" / "seed-article.xml"


@pytest.fixture(scope="module")
def tagger() -> NerTagger:
    return NerTagger.load(MODEL, load_registry(ROOT / "config" / "entities"), ROOT / "config" / "ner")


def _texts() -> list[str]:
    xml = FEED.read_text(encoding="utf-8")
    body = re.sub(r"<[^>]+>", " ", xml)
    return [
        body,
        "قال وزير الخارجية الأمريكي أنتوني بلينكن في الدوحة إن حماس وافقت.",
        "بوتين",  # one-token sentence: BOS and EOS on the same token
        "",
    ]


def test_labels_and_marginals_match_crfsuite(tagger: NerTagger) -> None:
    reference = pycrfsuite.Tagger()
    reference.open(str(MODEL))
    sentences = [s for text in _texts() for s in split_sentences(text, tagger.tokens(text))]
    assert len(sentences) > 10 and min(map(len, sentences)) == 1
    gazetteer = [tagger.featurizer.gazetteer(s) for s in sentences]
    decoded = tagger.decoder.tag(sentences, gazetteer)  # all at once: padding must not leak
    labels_of = tagger.decoder.labels
    entity_tokens = 0
    separated = 0
    for sentence, (labels, marginals) in zip(sentences, decoded, strict=True):
        feats, _ = tagger.featurizer.sentence_and_gazetteer(sentence)
        separated += sum("sp-" in f for f in feats)
        reference.set(feats)
        expected = reference.tag()
        assert labels == expected
        for k, label in enumerate(expected):
            assert marginals[k, labels_of.index(label)] == pytest.approx(
                reference.marginal(label, k), abs=1e-5
            )
        assert marginals.sum(axis=1) == pytest.approx(1.0)
        entity_tokens += sum(label != "O" for label in labels)
    assert entity_tokens > 10  # the comparison covered entities, not only O
    assert separated > 3  # and punctuation inside sentences (the `sp-`/`sp+` features)


def test_batched_spans_equal_one_text_at_a_time(tagger: NerTagger) -> None:
    texts = _texts()
    assert tagger.spans_many([(t, None) for t in texts]) == [tagger.spans(t) for t in texts]


def test_words_beyond_the_cache_limit_score_the_same(
    tagger: NerTagger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.enrich.crf_decode as crf_decode

    reference = pycrfsuite.Tagger()
    reference.open(str(MODEL))
    monkeypatch.setattr(crf_decode, "_CACHE_LIMIT", 10)  # most words of the text overflow the cache
    small = crf_decode.CrfDecoder(reference, tagger.featurizer)
    sentences = [s for text in _texts() for s in split_sentences(text, tagger.tokens(text))]
    gazetteer = [tagger.featurizer.gazetteer(s) for s in sentences]
    for _ in range(2):  # the second call starts with a full cache
        got = small.tag(sentences, gazetteer)
        want = tagger.decoder.tag(sentences, gazetteer)
        assert [labels for labels, _ in got] == [labels for labels, _ in want]
        for (_, a), (_, b) in zip(got, want, strict=True):
            assert a == pytest.approx(b)
    assert len(small._word_ids) == 10
