"""Entity mentions of an article: gazetteer matches, tagger spans canonicalised, partial mentions.

One canonical id per real-world entity: registry entities keep their id (Wikidata QID where
known); names the registry does not know get a stable id derived from their normalised name
(`u:per:…`), so they can be searched and watched too. After a full name, a later mention of
part of it (كيم after كيم جونغ أون, بوتين after فلاديمير بوتين) resolves to the same entity.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from typing import Protocol

from pipeline.enrich.gazetteer import tag_entities, trim_prefix
from pipeline.enrich.registry import Entity, EntityRegistry
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


class _Taken:
    """The spans of a field's mentions, asked whether a word overlaps any of them by bisection: a scan
    per word made an article with thousands of mentions quadratic (80 KB of بوتين took 23 s)."""

    def __init__(self, spans: Sequence[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self.starts = [start for start, _ in ordered]
        self.reach: list[int] = []  # the furthest end among the spans up to each one
        for _, end in ordered:
            self.reach.append(max(end, self.reach[-1] if self.reach else end))

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_right(self.starts, start)  # mentions before i start at or before `start`
        return (i > 0 and self.reach[i - 1] > start) or (i < len(self.starts) and self.starts[i] < end)


class _TokenBounds:
    """Tokens of one text with their start and end offsets, to find the tokens a span covers by
    bisection rather than a scan per span (offsets never decrease along a tokenised text)."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = tokens
        self.starts = [t.start for t in tokens]
        self.ends = [t.end for t in tokens]

    def overlapping(self, start: int, end: int) -> tuple[int, int]:
        """Indices [i, j) of the tokens with `t.end > start and t.start < end`."""
        return bisect_right(self.ends, start), bisect_left(self.starts, end)


# `_span_mention`'s answer for a span that is a registry name here part of another name or another word
_BLOCKED = "blocked"


def _span_mention(
    text: str,
    field: TextField,
    span: TypedSpan,
    tokens: _TokenBounds,
    registry: EntityRegistry,
) -> EntityMention | str | None:
    """Canonicalise a tagger span: a registry name (any spelling), else a stable id from its name;
    `_BLOCKED` where the contexts say the name is part of another name or another word here."""
    i, j = tokens.overlapping(span.start, span.end)
    inside = tokens.tokens[i:j]
    if not inside:
        return None
    stems = tuple(t.stem for t in inside)
    start = span.start  # the tagger trimmed clitics already
    # one word written as the name cannot be (ورقة is not الرقة, ستالين not تالين) stays unknown, and
    # is the whole word: the letters cut as clitics made it look like the name
    misread = len(inside) == 1 and not registry.written_as_name(inside[0])
    if misread:
        stems, start = (inside[0].norm,), min(start, inside[0].start)
    surface = text[start : span.end]
    ent_id = None if misread else registry.lookup(stems, variants=True)
    ent = registry.entities.get(ent_id) if ent_id else None
    if ent is None and span.type == "LOC" and len(inside) > 1 and registry.contexts.heads_place(inside[0]):
        ent = _headed_place(tokens.tokens, i, j, stems[1:], registry)
    if ent is not None and registry.contexts.blocks(tokens.tokens, i, j, ent.type, ent.id):
        return _BLOCKED  # another word, or part of another name, here (القطر الجزائري, أذان المغرب)
    if ent is not None and ent.type == span.type:
        type_, canonical_id, name, confidence = ent.type, ent.id, ent.name_ar, span.confidence
    else:
        type_, canonical_id = span.type, unknown_entity_id(span.type, stems)
        name, confidence = " ".join(surface.split()), span.confidence
    return EntityMention(
        type=type_,
        surface=surface,
        canonical_id=canonical_id,
        canonical_name=name,
        field=field,
        start=start,
        end=span.end,
        confidence=confidence,
    )


def _headed_place(
    tokens: Sequence[Token], i: int, j: int, rest: tuple[str, ...], registry: EntityRegistry
) -> Entity | None:
    """The listed place that tokens (i, j), stems `rest`, name after a head word at i: a tagger trained
    on Wojood, which tags مدينة القيروان as one place, keeps the head in the span, and the span named no
    entity (124 mentions of listed places in the ANT articles)."""
    ent_id = registry.lookup(rest, variants=True)
    ent = registry.entities.get(ent_id) if ent_id else None
    if ent is None or ent.type != "LOC" or registry.contexts.blocks(tokens, i + 1, j, "LOC", ent.id):
        return None
    return ent


# a name word as a later mention must write it: its stem, and whether it has the article (after
# مقتدى الصدر, الصدر is the man but صدر "was issued" is not)
_PartKey = tuple[str, bool]


def _part_key(token: Token) -> _PartKey:
    return token.stem, token.has_article


def _partial_names(
    mentions: Sequence[EntityMention], registry: EntityRegistry
) -> dict[_PartKey, EntityMention]:
    """Single name words of persons mentioned in full, each pointing to (a mention of) one person only."""
    owners: dict[_PartKey, dict[str, EntityMention]] = {}
    common = registry.common_given_names
    for m in mentions:
        if m.type != "PER" or m.canonical_id.startswith("u:"):
            continue  # only persons the registry knows: a tagger's stray span must not claim a name
        words = registry.analyzer.tokens(m.surface)
        if len(words) < 2:
            continue
        for word in words:
            if len(word.stem) >= 3 and not word.stem.isdigit() and word.stem not in common:
                owners.setdefault(_part_key(word), {}).setdefault(m.canonical_id, m)
    return {w: next(iter(refs.values())) for w, refs in owners.items() if len(refs) == 1}


def article_mentions(
    fields: Sequence[tuple[TextField, str]],
    registry: EntityRegistry,
    spans: Mapping[str, Sequence[TypedSpan]] | None = None,
    tokenized: Mapping[TextField, Sequence[Token]] | None = None,
) -> list[EntityMention]:
    """All mentions over the article's fields: the tagger's spans canonicalised (or, without a tagger,
    the registry's names), then partial mentions of persons named in full.

    `tokenized` passes the fields' tokens when the caller has them already.
    """
    per_field: dict[TextField, list[EntityMention]] = {}
    blocked: dict[TextField, list[tuple[int, int]]] = {}  # spans of names that are another name here
    tokens: dict[TextField, Sequence[Token]] = {}
    for field, text in fields:
        tokens[field] = tokenized[field] if tokenized else registry.analyzer.tokens(text)
        blocked[field] = []
        if spans is None:
            per_field[field] = tag_entities(text, field, registry, tokens[field])
            continue
        # the tagger's spans already include the registry's names, with its boundaries
        bounds = _TokenBounds(tokens[field])
        per_field[field] = []
        for sp in spans.get(field, ()):
            canonical = _span_mention(text, field, sp, bounds, registry)
            if isinstance(canonical, EntityMention):
                per_field[field].append(canonical)
            elif canonical == _BLOCKED:
                blocked[field].append((sp.start, sp.end))
    partial = _partial_names([m for ms in per_field.values() for m in ms], registry)
    if not partial:
        return [m for field, _ in fields for m in per_field[field]]
    contexts = registry.contexts
    for field, text in fields:
        found = [_resolve_partial(m, registry, partial) for m in per_field[field]]
        # the words added below are tokens: they never overlap each other
        taken = _Taken([(m.start, m.end) for m in found] + blocked[field])
        field_tokens = tokens[field]
        for k, tok in enumerate(field_tokens):
            ref = partial.get(_part_key(tok))
            if (
                ref is None
                or taken.overlaps(tok.start, tok.end)
                or contexts.blocks(field_tokens, k, k + 1, "PER")
            ):
                continue
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
        per_field[field] = sorted(found, key=lambda m: m.start)
    return [m for field, _ in fields for m in per_field[field]]


def _resolve_partial(
    m: EntityMention, registry: EntityRegistry, partial: Mapping[_PartKey, EntityMention]
) -> EntityMention:
    """A one-word person the registry did not know may be part of a person named in full."""
    if m.type != "PER" or not m.canonical_id.startswith("u:"):
        return m
    words = registry.analyzer.tokens(m.surface)
    ref = partial.get(_part_key(words[0])) if len(words) == 1 else None
    if ref is None:
        return m
    return m.model_copy(
        update={
            "canonical_id": ref.canonical_id,
            "canonical_name": ref.canonical_name,
            "confidence": PARTIAL_CONFIDENCE,
        }
    )
