"""Entity mentions of an article: gazetteer matches, tagger spans canonicalised, partial mentions.

One canonical id per real-world entity: registry entities keep their id (Wikidata QID where
known); names the registry does not know get a stable id derived from their normalised name
(`u:per:…`), so they can be searched and watched too. After a full name, a later mention of
part of it (كيم after كيم جونغ أون, بوتين after فلاديمير بوتين) resolves to the same entity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pipeline.enrich.gazetteer import tag_entities, trim_prefix
from pipeline.enrich.registry import EntityRegistry
from pipeline.models import EntityMention, EntityType, TextField
from pipeline.text.tokenize import Token

__all__ = ["TypedSpan", "article_mentions", "unknown_entity_id"]

PARTIAL_CONFIDENCE = 0.6


class TypedSpan(Protocol):
    """A tagger's span: character offsets into the text and a type."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def type(self) -> EntityType: ...
    @property
    def confidence(self) -> float: ...


def unknown_entity_id(type_: EntityType, stems: Sequence[str]) -> str:
    """Stable id for a name the registry does not know: the same spelling gets the same id."""
    return f"u:{type_.lower()}:{'_'.join(stems)}"


def _overlaps(start: int, end: int, taken: Sequence[EntityMention]) -> bool:
    return any(start < m.end and m.start < end for m in taken)


def _span_mention(
    text: str, field: TextField, span: TypedSpan, tokens: Sequence[Token], registry: EntityRegistry
) -> EntityMention | None:
    inside = [t for t in tokens if t.start >= span.start and t.end <= span.end]
    if not inside:
        return None
    stems = tuple(t.stem for t in inside)
    ent_id = registry.lookup(stems, variants=True)
    ent = registry.entities.get(ent_id) if ent_id else None
    start = trim_prefix(text, inside[0])
    surface = text[start : span.end]
    if ent is not None and ent.type == span.type:
        return EntityMention(
            type=ent.type,
            surface=surface,
            canonical_id=ent.id,
            canonical_name=ent.name_ar,
            field=field,
            start=start,
            end=span.end,
            confidence=span.confidence,
        )
    return EntityMention(
        type=span.type,
        surface=surface,
        canonical_id=unknown_entity_id(span.type, stems),
        canonical_name=" ".join(surface.split()),
        field=field,
        start=start,
        end=span.end,
        confidence=span.confidence,
    )


def _partial_names(mentions: Sequence[EntityMention], registry: EntityRegistry) -> dict[str, str]:
    """Single name words of persons mentioned in full, each pointing to one person only."""
    owners: dict[str, set[str]] = {}
    common = registry.common_given_names
    for m in mentions:
        if m.type != "PER":
            continue
        words = registry.analyzer.terms(m.surface)
        if len(words) < 2:
            continue
        for word in words:
            if len(word) >= 3 and not word.isdigit() and word not in common:
                owners.setdefault(word, set()).add(m.canonical_id)
    return {w: next(iter(ids)) for w, ids in owners.items() if len(ids) == 1}


def article_mentions(
    fields: Sequence[tuple[TextField, str]],
    registry: EntityRegistry,
    spans: Mapping[TextField, Sequence[TypedSpan]] | None = None,
    tokenized: Mapping[TextField, Sequence[Token]] | None = None,
) -> list[EntityMention]:
    """All mentions over the article's fields: registry names, then tagger spans, then partial names.

    `tokenized` passes the fields' tokens when the caller has them already.
    """
    per_field: dict[TextField, list[EntityMention]] = {}
    tokens: dict[TextField, Sequence[Token]] = {}
    for field, text in fields:
        tokens[field] = tokenized[field] if tokenized else registry.analyzer.tokens(text)
        found = tag_entities(text, field, registry, tokens[field])
        for span in (spans or {}).get(field, ()):
            if not _overlaps(span.start, span.end, found):
                m = _span_mention(text, field, span, tokens[field], registry)
                if m is not None:
                    found.append(m)
        per_field[field] = found
    partial = _partial_names([m for ms in per_field.values() for m in ms], registry)
    if partial:
        for field, text in fields:
            found = per_field[field]
            for tok in tokens[field]:
                ent_id = partial.get(tok.stem)
                if ent_id is None or _overlaps(tok.start, tok.end, found):
                    continue
                ref = next(m for ms in per_field.values() for m in ms if m.canonical_id == ent_id)
                start = trim_prefix(text, tok)
                found.append(
                    ref.model_copy(
                        update={
                            "surface": text[start : tok.end],
                            "field": field,
                            "start": start,
                            "end": tok.end,
                            "confidence": PARTIAL_CONFIDENCE,
                        }
                    )
                )
    out = [m for field, _ in fields for m in sorted(per_field[field], key=lambda m: m.start)]
    return out
