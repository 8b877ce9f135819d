"""The fast `Analyzer.terms` path agrees with the stems of full tokenisation."""

from __future__ import annotations

import pytest

from pipeline.text.tokenize import Analyzer


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
