from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.eval.conll import map_tag, parse_conll, read_conll, spans_of

LRM = "\u200e"


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_newsfane_tab_separated_with_lrm_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "nf.txt"
    body = (
        f"{LRM}فرانكفورت\tB-Population-Center\n(\tO\n{LRM}د\tB-Media\n{LRM}ب\tI-Media\n)\tO\n\t\n"
        f"{LRM}بوتين\tB-Politician\n{LRM}في\tO\n{LRM}الصين\tB-Nation\n{LRM}التتار\tB-Group\n"
    )
    path.write_text("\ufeff" + body, encoding="utf-8")
    sents = read_conll(path, "newsfane")
    assert [s.tokens for s in sents] == [
        ("فرانكفورت", "(", "د", "ب", ")"),
        ("بوتين", "في", "الصين", "التتار"),
    ]
    assert sents[0].tags == ("B-LOC", "O", "B-ORG", "I-ORG", "O")
    assert sents[1].tags == ("B-PER", "O", "B-LOC", "O")  # Group (peoples) is ignored


def test_a_tab_separated_token_may_hold_a_space_and_a_no_break_space_stays_inside() -> None:
    # "الأمم المتحدة<TAB>B-ORG" was read as the token الأمم: the pipeline then saw another sentence
    tab = list(
        parse_conll(["الأمم المتحدة\tB-ORG\r\n", "تدعو\tO\n", "  \t \n", "بوتين\tB-PERS B-ORG\n"], "wojood")
    )
    assert [(s.tokens, s.tags) for s in tab] == [
        (("الأمم المتحدة", "تدعو"), ("B-ORG", "O")),
        (("بوتين",), ("B-PER",)),
    ]
    spaced = list(parse_conll(["عبد\u00a0الله B-PERS\n", "قال O\n"], "wojood"))
    assert spaced[0].tokens == ("عبد\u00a0الله", "قال") and spaced[0].tags == ("B-PER", "O")


def test_wojood_nested_takes_first_mappable_tag() -> None:
    lines = _lines(
        "مجلس B-ORG\nالأمن I-ORG\nضد I-ORG\nالأسد I-ORG B-PERS\n\n"
        "سكرتير B-OCC\nاللجنة I-OCC B-ORG\nالعربية I-OCC I-ORG\nفي I-OCC\nنابلس I-OCC B-GPE\nاليوم B-DATE\n"
    )
    first, second = parse_conll(lines, "wojood")
    assert first.tags == ("B-ORG", "I-ORG", "I-ORG", "I-ORG")
    assert second.tags == ("O", "B-ORG", "I-ORG", "O", "B-LOC", "O")


@pytest.mark.parametrize(
    ("tag", "scheme", "expected"),
    [
        ("B-PERS", "anercorp", ("B", "PER")),
        ("I-LOC", "anercorp", ("I", "LOC")),
        ("B-MISC", "anercorp", None),
        ("B-FAC", "wojood", ("B", "LOC")),
        ("B-GPE", "wojood", ("B", "LOC")),
        ("B-NORP", "wojood", None),
        ("B-Athlete", "newsfane", ("B", "PER")),
        ("I-Sports", "newsfane", ("I", "ORG")),
        ("B-Water-Body", "newsfane", ("B", "LOC")),
        ("B-Book", "newsfane", None),
        ("O", "newsfane", None),
    ],
)
def test_map_tag(tag: str, scheme: str, expected: tuple[str, str] | None) -> None:
    assert map_tag(tag, scheme) == expected


def test_anercorp_iob1_and_orphan_i_are_repaired() -> None:
    lines = _lines("قال O\nجورج I-PERS\nبوش I-PERS\nفي O\nواشنطن B-LOC\nاليوم B-MISC\n")
    (sent,) = parse_conll(lines, "anercorp")
    assert sent.tags == ("O", "B-PER", "I-PER", "O", "B-LOC", "O")


def test_unknown_scheme_is_rejected() -> None:
    with pytest.raises(ValueError, match="scheme"):
        list(parse_conll(["a O"], "conll2003"))


def test_spans_of_adjacent_entities() -> None:
    assert spans_of(["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-ORG"]) == {
        (0, 2, "PER"),
        (2, 3, "PER"),
        (4, 5, "LOC"),
        (5, 6, "ORG"),
    }
