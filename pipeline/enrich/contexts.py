"""Where a registry name is another word: written forms and neighbours that keep a match from its entity.

Measured on 8,081 ANT articles and the sample feeds: القطر in «القطر الجزائري» is "the country", not
Qatar; السورية is the adjective "Syrian"; الجولان after معلوم is a vehicle tax; الرياض after حي is a
neighbourhood of Sousse; المغرب after أذان is the sunset prayer; مجلس الأمن before القومي is a national
council, not the UN's. The lists are data (`config/entities/rules/contexts.yaml`); this module reads
them and answers, for a match over tokens [i, j) of a sentence, whether it may be that entity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pipeline.config import read_yaml
from pipeline.errors import ConfigError
from pipeline.models import EntityType
from pipeline.text.normalise import normalise
from pipeline.text.tokenize import Analyzer, Token

__all__ = ["CLITIC_LETTERS", "NameContexts", "load_contexts", "written_form"]

_TYPES: frozenset[str] = frozenset(get_args(EntityType))
_KEYS = frozenset({"not_names", "ambiguous_forms", "after", "before", "place_heads"})


def written_form(token: Token) -> str:
    """The word as a name is written: the article kept when it is there, other clitics cut (للقطر → القطر)."""
    return ("ال" if token.has_article else "") + token.stem


@dataclass(frozen=True)
class NameContexts:
    """The curated contexts; empty by default (every match stands)."""

    # written forms (`written_form`) that never stand for the entity they spell
    not_names: frozenset[str] = frozenset()
    # whole normalised words, clitics included, that stand for their entity only where the tagger
    # agrees (بحماس is mostly "with enthusiasm"; حماس، وحماس، لحماس stay Hamas)
    ambiguous_forms: frozenset[str] = frozenset()
    # type or entity id -> stems of words right after which a name of that type (or of that entity)
    # is part of another name
    after: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # type or entity id -> stems of words right before which such a name is part of another name
    before: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # stems of words that name a listed place together with it (مدينة القيروان is Kairouan)
    place_heads: frozenset[str] = frozenset()

    def entity_ids(self) -> set[str]:
        """The entity ids the rules name (the registry checks that it knows them)."""
        return {key for rules in (self.after, self.before) for key in rules if key not in _TYPES}

    def ambiguous(self, token: Token) -> bool:
        """Whether this written word needs the tagger's agreement to stand for a one-word name."""
        return token.norm in self.ambiguous_forms

    def heads_place(self, token: Token) -> bool:
        """Whether the word, in front of a listed place, names that place with it (مدينة, ولاية)."""
        return _known(token, self.place_heads)

    def blocks(self, tokens: Sequence[Token], i: int, j: int, etype: str, ent_id: str | None = None) -> bool:
        """Whether a registry match of type `etype` (of entity `ent_id`, when known) over tokens [i, j)
        is another word or name here."""
        if j - i == 1 and written_form(tokens[i]) in self.not_names:
            return True
        keys = (etype,) if ent_id is None else (etype, ent_id)
        if (
            i > 0
            and tokens[i].start - tokens[i - 1].end <= 1
            and any((after := self.after.get(k)) and _known(tokens[i - 1], after) for k in keys)
        ):
            return True
        return j < len(tokens) and any(
            (before := self.before.get(k)) and _known(tokens[j], before) for k in keys
        )


CLITIC_LETTERS = "وفبلك"  # the clitics the analyzer leaves on short words (بحي، لكأس، لرئيس)


def _known(token: Token, words: frozenset[str]) -> bool:
    """Whether the token is one of `words` (stems), also with one or two clitic letters the stemmer
    leaves on a short word (بحي، لكأس، بمستشفى)."""
    norm = token.norm
    return (
        token.stem in words
        or (norm[:1] in CLITIC_LETTERS and norm[1:] in words)
        or (norm[:1] in CLITIC_LETTERS and norm[1:2] in CLITIC_LETTERS and norm[2:] in words)
    )


def _words(path: Path, data: Any, key: str) -> list[str]:
    if not isinstance(data, list) or not all(isinstance(w, str) and w.strip() for w in data):
        raise ConfigError(f"{path}: {key}: expected a list of words")
    return [w.strip() for w in data]


_ENTITY_ID = re.compile(r"^(Q[1-9][0-9]*|rasd:[a-z0-9-]+)$")


def _stems(path: Path, data: Any, key: str, analyzer: Analyzer) -> frozenset[str]:
    return frozenset(s for w in _words(path, data, key) for s in analyzer.terms(w))


def _by_type(path: Path, data: Any, key: str, analyzer: Analyzer) -> dict[str, frozenset[str]]:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {key}: expected a mapping of PER/ORG/LOC or entity ids to word lists")
    out: dict[str, frozenset[str]] = {}
    for name, words in data.items():
        if name not in _TYPES and not (isinstance(name, str) and _ENTITY_ID.match(name)):
            raise ConfigError(
                f"{path}: {key}: {name!r} is neither an entity type (PER, ORG, LOC) nor an entity id"
            )
        out[name] = _stems(path, words, f"{key}.{name}", analyzer)
    return out


def load_contexts(path: Path, analyzer: Analyzer) -> NameContexts:
    """Read the contexts file; a missing file means no contexts. Words are normalised with the
    registry's analyzer, so they compare with the tokens' stems and forms."""
    if not path.is_file():
        return NameContexts()
    data = read_yaml(path) or {}
    if not isinstance(data, dict) or not set(data) <= _KEYS:
        unknown = sorted(set(data) - _KEYS) if isinstance(data, dict) else []
        raise ConfigError(f"{path}: expected a mapping with keys {sorted(_KEYS)}; unknown: {unknown}")
    forms = set()
    for word in _words(path, data.get("not_names", []), "not_names"):
        tokens = analyzer.tokens(word)
        if len(tokens) != 1:
            raise ConfigError(f"{path}: not_names: {word!r} is not one word")
        forms.add(written_form(tokens[0]))
    return NameContexts(
        not_names=frozenset(forms),
        ambiguous_forms=frozenset(
            normalise(w) for w in _words(path, data.get("ambiguous_forms", []), "ambiguous_forms")
        ),
        after=_by_type(path, data.get("after", {}), "after", analyzer),
        before=_by_type(path, data.get("before", {}), "before", analyzer),
        place_heads=_stems(path, data.get("place_heads", []), "place_heads", analyzer),
    )
