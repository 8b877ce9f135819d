from __future__ import annotations

from pathlib import Path

from pipeline.eval.conll import Sentence
from pipeline.eval.ner import evaluate_ner, score_sentences, token_spans

TOKENS = ("قال", "وبوتين", "في", "موسكو", "الروسية")


def test_token_spans_maps_clitic_trimmed_start_to_its_token() -> None:
    text = " ".join(TOKENS)
    start = text.index("بوتين")  # after the clitic و
    assert token_spans(TOKENS, [(start, start + 5, "PER")]) == {(1, 2, "PER")}
    loc = text.index("موسكو")
    assert token_spans(TOKENS, [(loc, len(text), "LOC"), (0, 3, "MISC")]) == {(3, 5, "LOC")}


def _sentence() -> Sentence:
    return Sentence(TOKENS, ("O", "B-PER", "O", "B-LOC", "I-LOC"))


def test_exact_match_counts_and_partial_is_wrong() -> None:
    text = " ".join(TOKENS)
    per = (text.index("وبوتين"), text.index(" في"), "PER")
    partial_loc = (text.index("موسكو"), text.index(" الروسية"), "LOC")
    report = score_sentences([_sentence()], lambda _: [per, partial_loc])
    assert (report.scores["PER"].tp, report.scores["PER"].fp, report.scores["PER"].fn) == (1, 0, 0)
    assert (report.scores["LOC"].tp, report.scores["LOC"].fp, report.scores["LOC"].fn) == (0, 1, 1)
    assert report.micro.precision == 0.5
    assert report.micro.recall == 0.5


def test_wrong_type_is_a_miss_and_format_ends_with_micro_f1(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("قال O\nبوتين B-PERS\n\nفي O\nموسكو B-LOC\n", encoding="utf-8")
    report = evaluate_ner(path, "anercorp", lambda text: [(4, 9, "LOC")] if text.startswith("قال") else [])
    assert report.sentences == 2
    assert report.micro.tp == 0
    lines = report.format().splitlines()
    assert lines[-1] == "micro-F1 0.000"
    assert any(line.startswith("PER") for line in lines)


def test_perfect_extraction_scores_one() -> None:
    text = " ".join(TOKENS)
    gold = [
        (text.index("وبوتين"), text.index(" في"), "PER"),
        (text.index("موسكو"), len(text), "LOC"),
    ]
    report = score_sentences([_sentence()], lambda _: gold)
    assert report.format().splitlines()[-1] == "micro-F1 1.000"
