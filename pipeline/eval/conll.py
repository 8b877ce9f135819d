"""Reader for CoNLL-style NER files, mapped onto the project's PER/ORG/LOC types.

One ``token<space or tab>tag [tag ...]`` per line, a blank line (or a line holding only a tab)
between sentences. When a line carries several tags (Wojood's nested annotation), the first one
whose type maps to PER/ORG/LOC wins. BIO and IOB1 are both accepted: an ``I-`` tag that does not
continue an entity of the same type starts one.

Scheme mappings:

- ``anercorp``: PERS→PER, ORG→ORG, LOC→LOC; MISC ignored.
- ``wojood``: PERS→PER, ORG→ORG, GPE/LOC/FAC→LOC; the other 17 types (NORP, OCC, DATE …) ignored.
- ``newsfane`` (NewsFANE Gold, Alotaibi & Lee 2014; ACE-style two-level taxonomy):

  - PER: Politician, Athlete, Artist, Businessperson, Scientist, Engineer, Lawyer, Police,
    Religious_PER, Other_PER. ``Group`` (peoples and nationalities: الصينيون) is ignored, as
    Wojood's NORP is.
  - ORG: Government, Non-Governmental, Commercial, Educational, Media, Sports (clubs),
    Religious_ORG, Medical-Science, Entertainment.
  - LOC: the GPE types (Nation, Population-Center, State-or-Province, County-or-District,
    GPE-Cluster, Continent, Special), the location types (Water-Body, Land-Region-Natural,
    Celestial, Region-General, Region-International, Address, Boundary) and the facility types
    (Building-Grounds, Airport, Path, Subarea-Facility, Plant), as Wojood's FAC→LOC.
  - ignored: vehicles (Air, Land, Water, Subarea-Vehicle), weapons (Projectile, Shooting, …) and
    products (Book, Movie, Software, Hardware, Food, Drug).

Tokens keep their text as written in the file except for invisible controls (the LRM marks and
BOM NewsFANE carries), which the project normaliser strips everywhere else too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.models import EntityType
from pipeline.text.normalise import strip_bidi_marks

__all__ = [
    "SCHEMES",
    "Scheme",
    "Sentence",
    "map_tag",
    "parse_conll",
    "read_conll",
    "spans_of",
]

Scheme = Literal["anercorp", "wojood", "newsfane"]
SCHEMES: tuple[Scheme, ...] = ("anercorp", "wojood", "newsfane")

_ANERCORP: dict[str, EntityType] = {"PERS": "PER", "PER": "PER", "ORG": "ORG", "LOC": "LOC"}
_WOJOOD: dict[str, EntityType] = {
    "PERS": "PER",
    "PER": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
}
_NEWSFANE_TYPES: dict[EntityType, tuple[str, ...]] = {
    "PER": (
        "Politician",
        "Athlete",
        "Artist",
        "Businessperson",
        "Scientist",
        "Engineer",
        "Lawyer",
        "Police",
        "Religious_PER",
        "Other_PER",
        "PER",
        "PERS",
    ),
    "ORG": (
        "Government",
        "Non-Governmental",
        "Commercial",
        "Educational",
        "Media",
        "Sports",
        "Religious_ORG",
        "Medical-Science",
        "Entertainment",
        "ORG",
    ),
    "LOC": (
        "Nation",
        "Population-Center",
        "State-or-Province",
        "County-or-District",
        "GPE-Cluster",
        "Continent",
        "Special",
        "Water-Body",
        "Land-Region-Natural",
        "Celestial",
        "Region-General",
        "Region-International",
        "Address",
        "Boundary",
        "Building-Grounds",
        "Airport",
        "Path",
        "Subarea-Facility",
        "Plant",
        "GPE",
        "LOC",
        "FAC",
    ),
}
_NEWSFANE: dict[str, EntityType] = {
    fine: coarse for coarse, fines in _NEWSFANE_TYPES.items() for fine in fines
}
_MAPS: dict[str, dict[str, EntityType]] = {"anercorp": _ANERCORP, "wojood": _WOJOOD, "newsfane": _NEWSFANE}


@dataclass(frozen=True, slots=True)
class Sentence:
    """Tokens of one sentence and their BIO tags over PER/ORG/LOC (``O``, ``B-PER``, ``I-LOC`` …)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]


def map_tag(tag: str, scheme: str) -> tuple[str, EntityType] | None:
    """(``B``/``I``, project type) for one raw tag, or None when the type is ignored or the tag is O."""
    if scheme not in _MAPS:
        raise ValueError(f"unknown NER scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    tag = strip_bidi_marks(tag).strip()
    if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIES":
        return None
    etype = _MAPS[scheme].get(tag[2:])
    if etype is None:
        return None
    return ("B" if tag[0] in "BS" else "I"), etype


def _bio(raw: Sequence[tuple[str, EntityType] | None]) -> tuple[str, ...]:
    """BIO tags from per-token (prefix, type) pairs, repairing IOB1 and orphan ``I-`` tags."""
    out: list[str] = []
    prev: EntityType | None = None
    for item in raw:
        if item is None:
            out.append("O")
            prev = None
            continue
        prefix, etype = item
        if prefix == "I" and prev == etype:
            out.append(f"I-{etype}")
        else:
            out.append(f"B-{etype}")
        prev = etype
    return tuple(out)


_BLANKS = " \t\r\n\f\v"
_ASCII_SPACE = re.compile(r"[ \t\r\n\f\v]+")


def _fields(line: str) -> list[str]:
    """Token then tags. With a tab on the line, the token is everything before the first tab (it may
    hold a space: "الأمم المتحدة<TAB>B-ORG"); else fields split on ASCII blanks only, so a no-break
    space stays inside its token."""
    line = line.strip(_BLANKS)
    if not line:
        return []
    if "\t" in line:
        token, _, tags = line.partition("\t")
        token = token.strip(_BLANKS)
        return [token, *_ASCII_SPACE.split(tags.strip(_BLANKS))] if token else []
    return _ASCII_SPACE.split(line)


def parse_conll(lines: Iterable[str], scheme: str) -> Iterator[Sentence]:
    """Sentences from the lines of a CoNLL-style file (see the module docstring for the format)."""
    if scheme not in _MAPS:
        raise ValueError(f"unknown NER scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    tokens: list[str] = []
    raw: list[tuple[str, EntityType] | None] = []
    for line in lines:
        fields = _fields(line)
        if not fields:
            if tokens:
                yield Sentence(tuple(tokens), _bio(raw))
            tokens, raw = [], []
            continue
        token = strip_bidi_marks(fields[0])
        if not token:
            continue  # a token made only of invisible marks: nothing a reader would see
        tokens.append(token)
        raw.append(next((m for m in (map_tag(t, scheme) for t in fields[1:]) if m is not None), None))
    if tokens:
        yield Sentence(tuple(tokens), _bio(raw))


def read_conll(path: Path, scheme: str) -> list[Sentence]:
    """Every sentence of a CoNLL-style file (UTF-8, BOM tolerated)."""
    with path.open(encoding="utf-8-sig") as fh:
        return list(parse_conll(fh, scheme))


def spans_of(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """Entity spans (first token, last token + 1, type) of a BIO tag sequence."""
    spans: set[tuple[int, int, str]] = set()
    start = -1
    etype = ""
    for i, tag in enumerate([*tags, "O"]):
        if tag.startswith("I-") and start >= 0 and tag[2:] == etype:
            continue
        if start >= 0:
            spans.add((start, i, etype))
            start = -1
        if tag != "O":
            start, etype = i, tag[2:]
    return spans
