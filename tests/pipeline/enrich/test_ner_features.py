from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.ner import ner_analyzer, split_sentences
from pipeline.enrich.ner_features import Featurizer, gazetteer_tags, load_resources, separated
from pipeline.enrich.ner_rules import org_from_trigger, title_persons
from pipeline.enrich.ner_train import align_sentence, merge_clitics
from pipeline.enrich.registry import Entity, EntityRegistry
from pipeline.eval.conll import Sentence
from pipeline.text.normalise import normalise

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def registry() -> EntityRegistry:
    return EntityRegistry.build(
        [
            Entity(id="Q7747", type="PER", name_ar="فلاديمير بوتين", aliases_ar=("بوتين",)),
            Entity(id="Q159", type="LOC", name_ar="روسيا"),
            Entity(id="Q35525", type="ORG", name_ar="البيت الأبيض"),
        ]
    )


@pytest.fixture(scope="module")
def featurizer(registry: EntityRegistry) -> Featurizer:
    return Featurizer(load_resources(ROOT / "config" / "ner", registry), registry)


def test_word_and_context_features(registry: EntityRegistry, featurizer: Featurizer) -> None:
    analyzer = ner_analyzer(registry, featurizer.res)
    tokens = analyzer.tokens("قال الرئيس فلاديمير بوتين في روسيا")
    feats = featurizer.sentence(tokens)
    assert len(feats) == len(tokens) == 6
    putin = set(feats[3])
    assert {"w=بوتين", "s=بوتين", "g=I-PER", "c=RPER", "-1c=GN", "-2c=T", "1s=في"} <= putin
    assert "b-=فلاديمير|بوتين" in putin
    title = set(feats[1])
    assert {"c=T", "al", "s=رئيس", "pre=ال"} <= title
    assert "BOS" in feats[0] and "EOS" in feats[-1]
    assert "g=B-LOC" in feats[5]


def test_given_names_lose_only_the_article(tmp_path: Path, registry: EntityRegistry) -> None:
    """A name's first letters are no clitic: ألبير is not ال + بير ("well"), وليد is not و + ليد."""
    (tmp_path / "given_names.txt").write_text("# names\nالحسن ألبير وليد\n", encoding="utf-8")
    for other in ("person_titles", "org_triggers", "loc_triggers", "person_verbs", "foreign_name_endings"):
        (tmp_path / f"{other}.txt").write_text("", encoding="utf-8")
    names = load_resources(tmp_path, registry).given_names
    assert names == {"الحسن", "حسن", "البير", "وليد"}
    analyzer = ner_analyzer(registry, load_resources(tmp_path, registry))
    assert [t.stem for t in analyzer.tokens("ووليد يدرس")] == ["وليد", "يدرس"]


def test_punctuation_between_tokens_is_a_feature(registry: EntityRegistry, featurizer: Featurizer) -> None:
    analyzer = ner_analyzer(registry, featurizer.res)
    tokens = analyzer.tokens("استشهد محمد برقاوي، وجبار درويش (الطالب)")
    assert separated(tokens) == [False, False, False, True, False, True]
    feats = featurizer.sentence(tokens)
    assert "sp+" in feats[2] and "sp-" not in feats[2]
    assert "sp-" in feats[3] and "sp+" in feats[4] and "sp-" in feats[5]
    assert not {"sp-", "sp+"} & set(feats[0] + feats[1])


@pytest.mark.parametrize(
    ("word", "expected"),
    [("شويغو", set()), ("ميدفيديف", {"FE"}), ("زيلينسكي", {"FE"}), ("محمد", {"GN"}), ("وزارة", {"OT"})],
)
def test_word_classes(featurizer: Featurizer, word: str, expected: set[str]) -> None:
    norm = normalise(word)
    assert expected <= set(featurizer.word_classes(norm, norm))


def test_gazetteer_tags_longest_match(registry: EntityRegistry) -> None:
    stems = registry.analyzer.terms("وفلاديمير بوتين زار البيت الأبيض")
    assert gazetteer_tags(stems, registry) == ["B-PER", "I-PER", "O", "B-ORG", "I-ORG"]


def test_merge_clitics_reattaches_split_clitics() -> None:
    sent = Sentence(
        ("قال", "و", "بوتين", "ان", "ه", "في", "ب", "موسكو"), ("O", "O", "B-PER", "O", "O", "O", "O", "B-LOC")
    )
    merged = merge_clitics(sent)
    assert merged.tokens == ("قال", "وبوتين", "انه", "في", "بموسكو")
    assert merged.tags == ("O", "B-PER", "O", "O", "B-LOC")


def test_align_sentence_drops_punctuation_and_splits_labels(registry: EntityRegistry) -> None:
    sent = Sentence(("قال", "(", "بوتين", ")", "في", "سان-بطرسبورغ"), ("O", "O", "B-PER", "O", "O", "B-LOC"))
    tokens, labels = align_sentence(sent, registry.analyzer)
    assert [t.text for t in tokens] == ["قال", "بوتين", "في", "سان", "بطرسبورغ"]
    assert labels == ["O", "B-PER", "O", "B-LOC", "I-LOC"]


def test_split_sentences(registry: EntityRegistry) -> None:
    text = "وصل بوتين. وقال كيم: نعم\nثم غادر"
    groups = split_sentences(text, registry.analyzer.tokens(text))
    assert [[t.text for t in g] for g in groups] == [
        ["وصل", "بوتين"],
        ["وقال", "كيم"],
        ["نعم"],
        ["ثم", "غادر"],
    ]


def test_split_sentences_cuts_long_runs(registry: EntityRegistry) -> None:
    text = " ".join(["كلمة"] * 320) + ". آخر"
    groups = split_sentences(text, registry.analyzer.tokens(text))
    assert [len(g) for g in groups] == [150, 150, 20, 1]
    assert split_sentences("", []) == []


def test_title_positions_are_the_title_class(registry: EntityRegistry, featurizer: Featurizer) -> None:
    analyzer = ner_analyzer(registry, featurizer.res)
    tokens = analyzer.tokens("قال الرئيس الروسي والوزير بوتين إن الشيخ تميم وصل")
    expected = [i for i, t in enumerate(tokens) if "T" in featurizer.classes(t)]
    assert featurizer.title_positions(tokens) == expected
    assert len(expected) >= 2


def test_title_rule_needs_two_name_words(registry: EntityRegistry, featurizer: Featurizer) -> None:
    analyzer = ner_analyzer(registry, featurizer.res)
    tokens = analyzer.tokens("قال الشيخ محمد الراشد إن الرئيس محمد، وصل")
    found = title_persons(tokens, ["O"] * len(tokens), ["O"] * len(tokens), featurizer)
    assert [" ".join(t.text for t in tokens[i:j]) for i, j in found] == ["محمد الراشد"]


def test_org_head_noun_turns_place_into_organisation(
    registry: EntityRegistry, featurizer: Featurizer
) -> None:
    analyzer = ner_analyzer(registry, featurizer.res)
    tokens = analyzer.tokens("زار بلدية روسيا الجنوبية ثم مدينة روسيا")
    spans = [(2, 3, "LOC"), (6, 7, "LOC")]
    assert org_from_trigger(tokens, spans, featurizer) == [(0, 1, 4)]
