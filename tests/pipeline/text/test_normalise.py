from __future__ import annotations

import pytest

from pipeline.text import Analyzer, normalise, normalise_with_offsets, strip_prefix, tokenize
from pipeline.text.normalise import FAST_RANGES, NormaliseOptions


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("بوتينُ", "بوتين"),  # damma
        ("مُحَمَّدٌ", "محمد"),  # harakat, shadda, tanween
        ("فـــلاديمير", "فلاديمير"),  # tatweel
        ("أحمد إبراهيم آمال ٱلله", "احمد ابراهيم امال الله"),  # hamza/madda/wasla alef
        ("مصطفى", "مصطفي"),  # alef maqsura
        ("الحكومة", "الحكومه"),  # ta marbuta
        ("قاليباف", "قاليباف"),
        ("قالیباف", "قاليباف"),  # Persian yeh U+06CC
        ("٢٠٢٣ ۱۴۰۲", "2023 1402"),  # Eastern Arabic and Persian digits
        ("\u200eبوتين\u200f", "بوتين"),  # LRM/RLM (NewsFANE carries LRM on tokens)
        ("بو\u200cتين", "بوتين"),  # zero-width non-joiner
        ("Putin", "putin"),
        ("\ufefb", "لا"),  # presentation-form ligature lam-alef
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_offsets_point_into_original() -> None:
    raw = "قال الرئيسُ فـلاديمير"
    normed, origin = normalise_with_offsets(raw)
    assert len(normed) == len(origin)
    i = normed.index("فلاديمير")
    assert raw[origin[i]] == "ف"
    assert raw[origin[i + len("فلاديمير") - 1]] == "ر"


@pytest.mark.parametrize(
    ("word", "protected", "stem"),
    [
        ("وبوتين", {"بوتين"}, "بوتين"),
        ("لبوتين", {"بوتين"}, "بوتين"),
        ("فبوتين", {"بوتين"}, "بوتين"),
        ("بوتين", {"بوتين"}, "بوتين"),
        ("لبنان", {"لبنان"}, "لبنان"),  # a name is not ل + بنان
        ("ولبنان", {"لبنان"}, "لبنان"),
        ("للبنان", {"لبنان"}, "لبنان"),
        ("الحكومه", set(), "حكومه"),
        ("والحكومه", set(), "حكومه"),
        ("بالصين", set(), "صين"),
        ("وقال", set(), "قال"),
        ("وزير", {"وزير"}, "وزير"),
        ("بيت", set(), "بيت"),  # no letter prefix stripped from unknown words
    ],
)
def test_strip_prefix(word: str, protected: set[str], stem: str) -> None:
    assert strip_prefix(word, protected) == stem


def test_clitic_and_diacritic_variants_share_one_term() -> None:
    analyzer = Analyzer(["بوتين"])
    assert {analyzer.terms(w)[0] for w in ["بوتين", "وبوتين", "لبوتين", "بوتينُ", "بوتيـــن"]} == {"بوتين"}


def test_tokens_keep_original_surface_and_trailing_marks() -> None:
    text = "قال الرئيسُ الروسيّ فلاديمير بوتين ٢٠٢٣"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["قال", "الرئيسُ", "الروسيّ", "فلاديمير", "بوتين", "٢٠٢٣"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert tokens[-1].norm == "2023"


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("زيارته", "زياره"),  # ta marbuta + pronoun
        ("حكومتهم", "حكومه"),
        ("سيارتكم", "سياره"),
        ("رئيسها", "رئيس"),
        ("أبناءهم", "ابناء"),
        ("تفاهم", "تفاهم"),  # too little would remain
        ("كورونا", "كورونا"),  # نا is not stripped
        ("بوتين", "بوتين"),
    ],
)
def test_pronoun_suffixes(word: str, stem: str) -> None:
    assert Analyzer().terms(word) == [stem]


def test_suffix_stripping_spares_protected_names() -> None:
    assert Analyzer(["أستانها"]).terms("أستانها") == ["استانها"]
    assert Analyzer().terms("أستانها") == ["استان"]


def test_kept_words_stay_whole_but_pull_no_clitics_off_other_words() -> None:
    kept = Analyzer(kept=["وليد", "يان", "شيرين"])
    assert kept.terms("وليد بيان وشيرين") == ["وليد", "بيان", "شيرين"]
    assert Analyzer().terms("وليد") == ["ليد"]  # an unknown word loses a leading و
    assert Analyzer(["يان"]).terms("بيان") == ["يان"]  # a protected name pulls ب off: why names are kept


def test_a_kept_word_keeps_its_root_waw_with_a_pronoun_or_an_ending_after_it() -> None:
    analyzer = Analyzer(kept=["وزير", "وثيقه"])
    forms = ["وزير", "الوزير", "ووزير", "للوزير", "وزيرها", "وزيرا", "وزيران"]
    assert [analyzer.terms(w) for w in forms] == [["وزير"]] * 4 + [["وزير"], ["وزيرا"], ["وزيران"]]
    assert analyzer.terms("وثيقة الوثيقة ووثيقتها") == ["وثيقه", "وثيقه", "وثيقه"]
    # only a leading و that is the conjunction goes: وقال, وزيد (no listed word)
    assert analyzer.terms("وقال وزيد") == ["قال", "زيد"]
    assert Analyzer().terms("وزير الوزير") == ["زير", "وزير"]  # the mismatch the list removes


def test_the_future_particle_is_never_cut_off_a_name() -> None:
    """س only takes a verb: سبيل is not س + بيل, though بيل (Bill) is a listed name."""
    analyzer = Analyzer(["بيل"])
    assert analyzer.terms("سبيل وبيل لبيل") == ["سبيل", "بيل", "بيل"]


def test_a_kept_word_s_own_lam_or_alif_lam_stays_and_only_the_clitics_in_front_go() -> None:
    analyzer = Analyzer(kept=["لاعب", "التزام", "الكتروني"])
    assert analyzer.terms("لاعب اللاعب للاعب وللاعب") == ["لاعب"] * 4  # للاعب is ل + اللاعب
    forms = "التزام الالتزام بالتزام والتزام للالتزام التزامها التزامات"
    assert analyzer.terms(forms) == ["التزام"] * 6 + ["التزامات"]
    assert analyzer.terms("إلكترونية الإلكترونية والإلكترونية") == ["الكترونيه"] * 3
    assert analyzer.terms("الحكومة للحكومة بالحكومة") == ["حكومه"] * 3  # the article still comes off
    assert Analyzer().terms("التزام الالتزام للاعب اللاعب") == ["تزام", "التزام", "اعب", "لاعب"]


def test_the_shipped_root_words_make_a_bare_word_and_its_article_form_one_term() -> None:
    from pipeline.enrich.registry import load_registry
    from pipeline.settings import Settings

    analyzer = load_registry(Settings().config_dir / "entities").analyzer
    words = ["وزير", "وزارة", "وطني", "وطنية", "وثيقة", "واحد", "وسائل", "وكيل", "ولاية", "لاعب", "لقاء"]
    for word in [*words, "التزام", "إلغاء", "إلكترونية", "ألعاب"]:
        assert analyzer.terms(word) == analyzer.terms("ال" + word), word
    for word in words:
        assert analyzer.terms(word) == analyzer.terms("بال" + word) == analyzer.terms("لل" + word), word
    assert analyzer.terms("وقال وأكد وبوتين الفرنسية") == ["قال", "اكد", "بوتين", "فرنسيه"]


def test_token_prefix_is_what_was_stripped_in_front() -> None:
    [tok] = Analyzer(["بوتين"]).tokens("وبوتين")
    assert (tok.prefix, tok.stem) == ("و", "بوتين")
    [tok] = Analyzer().tokens("بزيارته")
    assert tok.prefix == "" and tok.stem == "بزياره"


def test_the_fast_path_and_the_per_character_path_agree_on_every_character_it_takes() -> None:
    slow = NormaliseOptions()  # equal to the default, but not it: always the per-character path
    for lo, hi in FAST_RANGES:
        for code in range(lo, hi + 1):
            assert normalise(chr(code)) == normalise(chr(code), slow), hex(code)


@pytest.mark.parametrize("char", ["µ", "Ⅻ", "Ⓐ", "𐐀", "K", "ﻻ"])
def test_a_character_normalises_the_same_alone_or_beside_one_that_needs_the_slow_path(char: str) -> None:
    alone = normalise(f"a{char}")
    assert normalise(f"ﺏ{char}") == "ب" + alone[1:]
    assert alone == normalise(f"a{char}", NormaliseOptions())


def test_an_isolated_haraka_does_not_split_a_word() -> None:
    assert normalise("بوﹶتين") == normalise("بوﹰتين") == "بوتين"  # U+FE76 fatha, U+FE70 fathatan
    assert normalise("بوﹷتين") == "بوتين"  # U+FE77: tatweel + fatha, both dropped
