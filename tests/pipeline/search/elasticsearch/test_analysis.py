"""The index analysis is generated from the Python normaliser and the registry's protected names."""

from __future__ import annotations

import re

import pytest

from pipeline.enrich.registry import EntityRegistry
from pipeline.models import Article
from pipeline.search.elasticsearch.analysis import (
    ARABIC_ANALYZER,
    LIGHT_ANALYZER,
    NAME_PREFIXES,
    TERMS_ANALYZER,
    analysis_settings,
    name_prefix_pattern,
    normaliser_mappings,
    protected_arabic_names,
    read_stopwords,
)
from pipeline.text import normalise
from pipeline.text.tokenize import strip_prefix


def _unescape(side: str) -> str:
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), side)


def _char_map() -> dict[str, str]:
    """The mapping rules as Lucene's MappingCharFilterFactory parses them (trimmed, \\uXXXX escapes)."""
    out = {}
    for rule in normaliser_mappings():
        lhs, rhs = rule.split("=>")
        out[_unescape(lhs.strip())] = _unescape(rhs.strip())
    return out


def _char_filter(text: str) -> str:
    table = _char_map()
    assert all(len(k) == 1 for k in table)  # single characters: greedy matching is plain lookup
    return "".join(table.get(c, c) for c in text)


def test_mapping_rules_are_the_normaliser(corpus: list[Article]) -> None:
    table = _char_map()
    assert table["أ"] == "ا" and table["ة"] == "ه" and table["ى"] == "ي" and table["٣"] == "3"
    assert table["\u064e"] == "" and table["\u0640"] == "" and table["\u200f"] == ""  # fatha, tatweel, RLM
    assert table["\ufefb"] == "لا"  # a presentation-form ligature
    for article in corpus:
        text = article.title + article.summary + article.body
        # the char filter does what normalise does, up to Latin case (the lowercase filter's job)
        assert _char_filter(text).lower() == normalise(text).lower()


def test_mapping_rules_are_escaped_where_invisible() -> None:
    for rule in normaliser_mappings():
        lhs = rule.split(" => ")[0]
        assert not any(c.isspace() or c in "\u200b\u200c\u200d\u200e\u200f" for c in lhs), rule


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("وبوتين", "بوتين"),
        ("لبوتين", "بوتين"),
        ("فبوتين", "بوتين"),
        ("والبوتين", "بوتين"),
        ("وإيران", "ايران"),
        ("بإيران", "ايران"),
        ("وللبنان", "لبنان"),
        ("لبنان", "لبنان"),  # a name itself is never cut (not ل + بنان)
        ("بوتين", "بوتين"),
        ("والكتاب", "والكتاب"),  # not a name: left to arabic_stem
        ("وبوتينهم", "وبوتينهم"),  # a name with a suffix is not the name
    ],
)
def test_name_prefixes_come_off_protected_names_only(
    registry: EntityRegistry, word: str, expected: str
) -> None:
    pattern = name_prefix_pattern(protected_arabic_names(registry.analyzer.protected))
    assert pattern is not None
    assert re.sub(pattern, "", normalise(word)) == expected


def test_name_prefix_pattern_agrees_with_strip_prefix_on_every_name(registry: EntityRegistry) -> None:
    protected = registry.analyzer.protected
    names = protected_arabic_names(protected)
    assert len(names) > 1000 and "بوتين" in names and "ايران" in names
    regex = re.compile(name_prefix_pattern(names) or "")
    for name in names:
        for prefix in NAME_PREFIXES:
            word = prefix + name
            assert regex.sub("", word) == strip_prefix(word, protected), word


def test_analysis_chain_protects_names_from_arabic_stem(registry: EntityRegistry) -> None:
    settings = analysis_settings(registry.analyzer.protected, ["في"])
    arabic = settings["analyzer"][ARABIC_ANALYZER]
    assert arabic["tokenizer"] == "standard"
    assert arabic["char_filter"] == ["rasd_normalise"]
    assert arabic["filter"] == [
        "lowercase",
        "decimal_digit",
        "arabic_normalization",
        "rasd_stop",
        "rasd_name_prefix",
        "rasd_names",
        "arabic_stem",
    ]
    filters = settings["filter"]
    assert filters["rasd_names"]["type"] == "keyword_marker"
    assert filters["rasd_names"]["keywords"] == protected_arabic_names(registry.analyzer.protected)
    assert {"بوتين", "ايران", "لبنان"} <= set(filters["rasd_names"]["keywords"])
    assert filters["rasd_name_prefix"] == {
        "type": "pattern_replace",
        "pattern": name_prefix_pattern(filters["rasd_names"]["keywords"]),
        "replacement": "",
    }
    assert filters["rasd_stop"] == {"type": "stop", "stopwords": ["في"]}
    light = settings["analyzer"][LIGHT_ANALYZER]
    assert "arabic_stem" not in light["filter"] and "rasd_stop" not in light["filter"]
    assert settings["analyzer"][TERMS_ANALYZER] == {"type": "custom", "tokenizer": "whitespace", "filter": []}


def test_without_names_or_stopwords_the_chain_is_still_valid() -> None:
    settings = analysis_settings()
    assert settings["analyzer"][ARABIC_ANALYZER]["filter"][-1] == "arabic_stem"
    assert "rasd_names" not in settings["filter"]  # keyword_marker refuses an empty list
    assert settings["filter"]["rasd_stop"]["stopwords"] == "_none_"


def test_only_arabic_script_names_are_protected() -> None:
    assert protected_arabic_names(["Putin", "بوتين", "إيران", "abdul-malik", "ترمب"]) == [
        "ايران",
        "بوتين",
        "ترمب",
    ]


def test_stopwords_are_normalised_like_the_text() -> None:
    lines = ["# comment", "إلى", "في  # trailing comment", "", "على", "إلى"]
    assert read_stopwords(lines) == ["الي", "علي", "في"]
