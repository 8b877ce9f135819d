"""The fast `Analyzer.terms` path agrees with the stems of full tokenisation."""

from __future__ import annotations

import random

import pytest

from pipeline.text.tokenize import _WORD_ORIGINAL, Analyzer, _word_pattern, tokenize


@pytest.mark.parametrize(
    "text",
    [
        "وبوتين وكيم جونغ أون في قاعدة فوستوتشني",
        "والـ«ناتو» ﻻ يُعرف ٢٠٢٤ e.g. U.S.A",  # presentation form ﻻ, tatweel, digits, Latin
        "ﷺ بـوتين\u200fلبنان زيارته",
        "",
    ],
)
def test_terms_fast_path_equals_token_stems(text: str) -> None:
    warm, cold = Analyzer({"بوتين", "لبنان"}), Analyzer({"بوتين", "لبنان"})
    warm.tokens(text)  # every form cached: the fast path
    assert warm.terms(text) == cold.terms(text) == [t.stem for t in Analyzer({"بوتين", "لبنان"}).tokens(text)]


def test_plain_text_shortcut_finds_the_same_words_as_the_full_pattern() -> None:
    # text without marks or invisible characters is split with the simpler pattern
    rng = random.Random(7)
    alphabet = "ابتكمن  _'’-a1٣\u064b\u064e\u0670\u200e\u200f\u00ad\ufeff.«»"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(20000)]
    plain = [t for t in texts if not any(c in t for c in "\u064b\u064e\u0670\u200e\u200f\u00ad\ufeff")]
    assert len(plain) > 1000  # both branches are exercised
    for text in texts:
        assert _word_pattern(text).findall(text) == _WORD_ORIGINAL.findall(text), repr(text)
    analyzer = Analyzer()
    for text in plain[:300]:
        assert analyzer.terms(text) == [t.stem for t in Analyzer().tokens(text)]


def test_token_offsets_are_the_pattern_match_spans() -> None:
    # tokens locate each word found by `findall` with `str.find` from the previous word's end;
    # random texts with repeats, apostrophes, marks, invisible characters and underscores
    rng = random.Random(11)
    alphabet = "ابب  _'’-a1\u064b\u0670\u200e\u200f\u00ad.«»"
    analyzer = Analyzer()
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        expected = [(m.group(), m.start(), m.end()) for m in _word_pattern(text).finditer(text)]
        found = [(t.text, t.start, t.end) for t in analyzer.tokens(text)]
        assert found == expected, repr(text)
        assert all(text[t.start : t.end] == t.text for t in analyzer.tokens(text))


def test_one_written_word_expands_to_a_bounded_number_of_tokens() -> None:
    assert [t.norm for t in tokenize("ﷺ")] == ["صلي", "الله", "عليه", "وسلم"]
    run = tokenize("قال " + "ﷺ" * 100_000 + " تم")  # one word of 100,000 ligatures
    assert len(run) == 1 + 64 + 1 and run[-1].norm == "تم"
    assert all(run[0].end <= t.start for t in run[1:])  # offsets still point into the text
