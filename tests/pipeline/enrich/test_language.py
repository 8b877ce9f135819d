from __future__ import annotations

import pytest

from pipeline.enrich.language import detect_language


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        ("قال الرئيس الروسي فلاديمير بوتين إن بلاده ستساعد كوريا الشمالية", "en", "ar"),  # feeds mislabel
        ("President Vladimir Putin said Russia would help North Korea build satellites", "ar", "en"),
        ("Le président russe a promis d'aider la Corée du Nord à construire des satellites", None, "fr"),
        ("بوتين", "ar", "ar"),  # too short: the declared language
        ("", None, None),
    ],
)
def test_detect_language(text: str, declared: str | None, expected: str | None) -> None:
    assert detect_language(text, declared) == expected
