"""`parse_user_query` (the safe syntax) and highlighting, as tables."""

from __future__ import annotations

import pytest

from pipeline.errors import InvalidQuery
from pipeline.search import MAX_QUERY_TERMS, ParsedQuery, Phrase, parse_user_query
from pipeline.search.highlight import highlight
from pipeline.text import Analyzer
from pipeline.text.spellings import word_forms


def shape(parsed: ParsedQuery) -> tuple[list[list[str]], list[str]]:
    """Groups and exclusions as plain strings: alternatives of one group, stems of a phrase space-joined."""
    groups = [[" ".join(p.terms) for p in group] for group in parsed.groups]
    return groups, [" ".join(p.terms) for p in parsed.excluded]


@pytest.mark.parametrize(
    ("text", "groups", "excluded"),
    [
        ("بوتين", [["بوتين"]], []),
        ("وبوتين لبوتين بوتينُ", [["بوتين"], ["بوتين"], ["بوتين"]], []),
        ("بوتين كيم", [["بوتين"], ["كيم"]], []),
        ('"كيم جونغ أون"', [["كيم جونغ اون"]], []),
        ('"كيم جونغ أون" روسيا', [["كيم جونغ اون"], ["روسيا"]], []),
        ("روسيا -أوكرانيا", [["روسيا"]], ["اوكرانيا"]),
        ('روسيا -"بحر قزوين"', [["روسيا"]], ["بحر قزوين"]),
        ("روسيا OR موسكو", [["روسيا", "موسكو"]], []),
        ("روسيا OR موسكو OR كيف أوكرانيا", [["روسيا", "موسكو", "كيف"], ["اوكرانيا"]], []),
        ('"حرب إيران" OR قزوين', [["حرب ايران", "قزوين"]], []),
        ("روسيا OR لروسيا", [["روسيا"]], []),  # same stem twice is one alternative
        # OR only between two positive items; anywhere else it is the word "or"
        ("روسيا or موسكو", [["روسيا"], ["or"], ["موسكو"]], []),
        ("OR روسيا", [["or"], ["روسيا"]], []),
        ("روسيا OR", [["روسيا"], ["or"]], []),
        ("روسيا OR -موسكو", [["روسيا"], ["or"]], ["موسكو"]),
        # engine syntax is literal text: punctuation drops out, glued words become phrases
        ("بوتين*", [["بوتين"]], []),
        ("^بوتين", [["بوتين"]], []),
        ("(بوتين)", [["بوتين"]], []),
        ("NEAR(بوتين كيم)", [["near بوتين"], ["كيم"]], []),
        ("title:بوتين", [["title بوتين"]], []),
        ("بوتين AND كيم", [["بوتين"], ["and"], ["كيم"]], []),
        ("NOT بوتين", [["not"], ["بوتين"]], []),
        ("e-mail", [["e mail"]], []),
        ("a-b -c-d", [["a b"]], ["c d"]),
        ("بوتين -", [["بوتين"]], []),
        ("بوتين - كيم", [["بوتين"], ["كيم"]], []),
        ("--بوتين كيم", [["كيم"]], ["بوتين"]),
        # quotes: unclosed runs to the end, empty ones vanish, a quote splits a word
        ('"كيم جونغ', [["كيم جونغ"]], []),
        ('بوتين ""', [["بوتين"]], []),
        ('بـ"دعم بيونغ يانغ"', [["ب"], ["دعم بيونغ يانغ"]], []),
        ("  بوتين\t\nكيم  ", [["بوتين"], ["كيم"]], []),
    ],
)
def test_parse(analyzer: Analyzer, text: str, groups: list[list[str]], excluded: list[str]) -> None:
    assert shape(parse_user_query(text, analyzer)) == (groups, excluded)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_blank_text_is_the_match_all_query(analyzer: Analyzer, text: str) -> None:
    parsed = parse_user_query(text, analyzer)
    assert parsed.is_empty
    assert parsed == ParsedQuery()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-بوتين", "only excludes"),
        ('-"كيم جونغ" -روسيا', "only excludes"),
        ("!!!", "no searchable words"),
        ('"', "no searchable words"),
        ("* ( ) : ^ -", "no searchable words"),
        ("«» ، ؟", "no searchable words"),
        (" ".join(["كلمة"] * (MAX_QUERY_TERMS + 1)), "at most"),
        ('"' + " ".join(["كلمة"] * (MAX_QUERY_TERMS + 1)) + '"', "at most"),
    ],
)
def test_invalid_queries_name_the_problem(analyzer: Analyzer, text: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        parse_user_query(text, analyzer)


def test_the_limit_counts_stems(analyzer: Analyzer) -> None:
    parsed = parse_user_query(" ".join(["كلمة"] * MAX_QUERY_TERMS), analyzer)
    assert len(parsed.groups) == MAX_QUERY_TERMS


def test_items_keep_the_text_as_typed(analyzer: Analyzer) -> None:
    parsed = parse_user_query('وبوتين -"كيم جونغ أون"', analyzer)
    assert parsed.groups == ((Phrase(("بوتين",), "وبوتين"),),)
    assert parsed.excluded == (Phrase(("كيم", "جونغ", "اون"), "كيم جونغ أون"),)
    assert parsed.positive_terms() == frozenset({"بوتين"})


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("كيم وبوتين", "بوتين", ["كيم <mark>وبوتين</mark>"]),
        ("<b>بوتين</b> & كيم", "بوتين", ["&lt;b&gt;<mark>بوتين</mark>&lt;/b&gt; &amp; كيم"]),
        ("الزعيم كيم جونغ أون وصل", '"كيم جونغ أون"', ["الزعيم <mark>كيم جونغ أون</mark> وصل"]),
        ("كيم وصل ثم جونغ", '"كيم جونغ"', []),  # not adjacent: no phrase match, nothing marked
        ("بوتينُ قال", "بوتين", ["<mark>بوتينُ</mark> قال"]),
        ("لا شيء هنا", "بوتين", []),
        # one ligature of four words: marked once
        ("قال النبي ﷺ في الحديث", "صلى عليه", ["قال النبي <mark>ﷺ</mark> في الحديث"]),
    ],
)
def test_highlight_whole(analyzer: Analyzer, text: str, query: str, expected: list[str]) -> None:
    assert highlight(text, analyzer.tokens(text), parse_user_query(query, analyzer), whole=True) == expected


def test_fragments_are_bounded_and_cover_separate_matches(analyzer: Analyzer) -> None:
    filler = " ".join(["كلام"] * 80)
    text = f"بوتين {filler} وبوتين {filler} لبوتين {filler} بوتين {filler}"
    fragments = highlight(text, analyzer.tokens(text), parse_user_query("بوتين", analyzer))
    assert len(fragments) == 3
    assert [f.count("<mark>") for f in fragments] == [1, 1, 1]
    assert "<mark>وبوتين</mark>" in fragments[1]
    assert all(len(f) <= 160 + len("<mark></mark>") + 10 for f in fragments)


def test_fragments_stay_within_a_line(analyzer: Analyzer) -> None:
    text = "سطر أول طويل بلا شيء\nقال بوتين كلمة\nسطر ثالث"
    assert highlight(text, analyzer.tokens(text), parse_user_query("بوتين", analyzer)) == [
        "قال <mark>بوتين</mark> كلمة"
    ]


@pytest.mark.parametrize(
    "run",
    ["بَ" * 150, "🇸🇦" * 80, "👨\u200d👩\u200d👧" * 40],  # marks, flags, emoji sequences: no space near
)
def test_a_fragment_cut_without_a_space_keeps_characters_whole(analyzer: Analyzer, run: str) -> None:
    text = f"{run}-بوتين-{run}"
    (fragment,) = highlight(text, analyzer.tokens(text), parse_user_query("بوتين", analyzer))
    before, after = fragment.split("<mark>")[0].rstrip("-"), fragment.split("</mark>")[1].lstrip("-")
    assert before and after
    for piece in (before, after):
        assert piece in run + run  # whole clusters: the same text as the run's own, never a shifted one
    assert len(after) < 200
    if run.startswith("🇸🇦"):
        assert before.startswith("🇸") and after.endswith("🇦")  # no flag split in two (🇦🇸 is another)
    if run.startswith("بَ"):
        assert before.startswith("ب") and after.endswith("َ")


# -- a name's other spellings, from the shipped registry -------------------------------------------


@pytest.fixture(scope="module")
def registry_analyzer() -> Analyzer:
    from pathlib import Path

    from pipeline.enrich.registry import load_registry

    return load_registry(Path(__file__).resolve().parents[3] / "config" / "entities").analyzer


@pytest.mark.parametrize(
    ("text", "groups", "excluded"),
    [
        ("بوتين", [["بوتين", "بوطين", "بوتن", "putin"]], []),
        ("غزة -بوتين", [["غزه", "gaza strip"]], ["بوتين", "بوطين", "بوتن", "putin"]),
        # bare words that name an entity together are searched as that name, in every spelling
        ("كيم جونغ أون", [["كيم جونغ اون", "kim jong un", "كيم جونج اون", "كيم يونغ اون"]], []),
        # a phrase the user quoted is searched as written
        ('"كيم جونغ أون"', [["كيم جونغ اون"]], []),
        ('"فلاديمير بوتين"', [["فلاديمير بوتين"]], []),
        # short Latin names (un, us, is, who) and words inside other entities' names (america in
        # Latin America, أمريكا in أمريكا اللاتينية) would match other things: left out
        ("الأمم المتحدة", [["امم متحده", "united nations", "u n"]], []),
        ("الولايات المتحدة", [["ولايات متحده", "united states"]], []),
        # words that name nothing, or are ambiguous, are not expanded
        ("الأمل السلام", [["امل"], ["سلام", "سلامات", "سلامين", "سلامون"]], []),  # a word's plurals only
        ("كوبا", [["كوبا"]], []),
    ],
)
def test_a_name_is_also_searched_in_its_other_spellings(
    registry_analyzer: Analyzer, text: str, groups: list[list[str]], excluded: list[str]
) -> None:
    assert shape(parse_user_query(text, registry_analyzer)) == (groups, excluded)


@pytest.mark.parametrize(
    ("stem", "forms"),
    [
        ("مظاهره", ["مظاهرات", "مظاهرتان", "مظاهرتين"]),  # ة (normalised ه): feminine plural and dual
        ("احتجاج", ["احتجاجات", "احتجاجين", "احتجاجون"]),
        ("عسكري", ["عسكريين", "عسكريون"]),  # a nisba takes no ات
        ("حزب", []),  # three letters: its plural is broken (أحزاب), and سود + ان would be سودان
        ("سليم", ["سليمات", "سليمين", "سليمون"]),  # no ان: سليمان is another name
        ("مظاهرات", []),  # already a plural
        ("روسيا", []),
        ("protest", []),
    ],
)
def test_a_word_s_sound_plural_and_dual(stem: str, forms: list[str]) -> None:
    assert [f for (f,) in word_forms((stem,))] == forms


def test_a_name_or_a_phrase_gets_no_plural() -> None:
    assert word_forms(("كييف",), lambda stems: (("kyiv",),) if stems == ("كييف",) else ()) == []
    assert word_forms(("حقوق", "انسان")) == []
