"""The entity registry: canonical entities and every known name variant, loaded from `config/entities/`.

Names are stored as analyzer stem sequences, so the same normalisation and clitic handling
applies to registry names and to article text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.config import load_list
from pipeline.errors import ConfigError
from pipeline.models import EntityType
from pipeline.text.normalise import normalise
from pipeline.text.tokenize import Analyzer

__all__ = ["Entity", "EntityRegistry", "load_registry"]


class Entity(BaseModel):
    """A canonical entity (Wikidata QID id where known, else a `rasd:` slug)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=2)
    type: EntityType
    name_ar: str
    name_en: str = ""
    aliases_ar: tuple[str, ...] = ()
    aliases_en: tuple[str, ...] = ()
    role: str = ""
    country: str | None = None

    def names(self) -> Iterator[str]:
        """Every written form: canonical names first, then aliases."""
        yield self.name_ar
        if self.name_en:
            yield self.name_en
        yield from self.aliases_ar
        yield from self.aliases_en


def _protected_words(names: Iterable[str]) -> set[str]:
    """Name words that must never lose a 'prefix' letter (لبنان is not ل + بنان)."""
    words: set[str] = set()
    for name in names:
        for word in normalise(name).split():
            if len(word) >= 3 and not word.startswith("ال"):
                words.add(word)
    return words


@dataclass
class EntityRegistry:
    """Canonical entities plus a lookup from name stem-sequences to entity ids."""

    entities: dict[str, Entity]
    analyzer: Analyzer
    names: dict[tuple[str, ...], str] = field(default_factory=dict)
    ambiguous: set[tuple[str, ...]] = field(default_factory=set)
    max_name_tokens: int = 1

    @classmethod
    def build(cls, entities: Iterable[Entity]) -> EntityRegistry:
        """Index every name of every entity; a name claimed by two entities resolves to neither."""
        by_id: dict[str, Entity] = {}
        for ent in entities:
            if ent.id in by_id:
                raise ConfigError(f"entity id {ent.id!r} is defined twice")
            by_id[ent.id] = ent
        analyzer = Analyzer(_protected_words(n for e in by_id.values() for n in e.names()))
        reg = cls(entities=by_id, analyzer=analyzer)
        for ent in by_id.values():
            for name in ent.names():
                key = tuple(analyzer.terms(name))
                if not key:
                    continue
                owner = reg.names.get(key)
                if owner is not None and owner != ent.id:
                    reg.ambiguous.add(key)
                reg.names.setdefault(key, ent.id)
                reg.max_name_tokens = max(reg.max_name_tokens, len(key))
        for key in reg.ambiguous:
            reg.names.pop(key, None)
        return reg

    def resolve(self, name_or_id: str) -> Entity | None:
        """An entity by id or by any known name variant (Arabic or English, any spelling we know)."""
        if name_or_id in self.entities:
            return self.entities[name_or_id]
        key = tuple(self.analyzer.terms(name_or_id))
        ent_id = self.names.get(key)
        return self.entities.get(ent_id) if ent_id else None

    def __len__(self) -> int:
        return len(self.entities)


def load_registry(directory: Path) -> EntityRegistry:
    """Load every `*.yaml` under `directory` (`entities: [...]`), naming the file and entry on error."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: entity registry directory not found")
    entities = [e for path in sorted(directory.glob("*.yaml")) for e in load_list(path, "entities", Entity)]
    return EntityRegistry.build(entities)
