"""Gazetteer entity tagging: longest match of registry names over analyzer stems.

A first, measured-later tagger: it finds the entities the registry knows, with the clitics
(و، ب، ل، ال …) stripped from the surface span, and offsets into the original text.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.enrich.registry import EntityRegistry
from pipeline.enrich.variants import skeleton, skeleton_key
from pipeline.models import EntityMention, TextField
from pipeline.text.normalise import normalise
from pipeline.text.tokenize import Token

__all__ = ["tag_entities", "trim_prefix"]


def trim_prefix(text: str, token: Token) -> int:
    """Start offset of the mention in the original text: clitic letters skipped, the article ال kept."""
    prefix = token.prefix
    if prefix.endswith("ال"):
        prefix = prefix[:-2]
    elif prefix.endswith("لل"):
        prefix = ""  # ل + ال with the alef elided: no clean cut in the surface
    drop = len(prefix)
    pos = token.start
    while drop > 0 and pos < token.end:
        drop -= len(normalise(text[pos]))
        pos += 1
    if drop < 0:
        return pos - 1  # a ligature holds the clitic and the name's first letter (ﻷردوغان): keep it
    while pos < token.end and not normalise(text[pos]):
        pos += 1  # diacritics of the dropped clitic
    return pos


def tag_entities(
    text: str, field: TextField, registry: EntityRegistry, tokens: Sequence[Token] | None = None
) -> list[EntityMention]:
    """Every registry name found in `text`, longest match first, non-overlapping.

    Only name lengths that some registry name starting with this word has are tried, so the
    scan costs about one dictionary lookup per word.
    """
    if tokens is None:
        tokens = registry.analyzer.tokens(text)
    stems = [t.stem for t in tokens]
    mentions: list[EntityMention] = []
    i = 0
    while i < len(tokens):
        match = _match_at(stems, i, registry)
        if match is None or (match[0] == 1 and not registry.stands_alone(tokens[i])):
            i += 1  # without a tagger, one word must stand alone: no ambiguous word, written as the name
            continue
        n, ent_id = match
        ent = registry.entities[ent_id]
        if registry.contexts.blocks(tokens, i, i + n, ent.type, ent.id):
            i += n  # another word or name here (حي الرياض, مجلس الأمن القومي)
            continue
        start = trim_prefix(text, tokens[i])
        end = tokens[i + n - 1].end
        mentions.append(
            EntityMention(
                type=ent.type,
                surface=text[start:end],
                canonical_id=ent.id,
                canonical_name=ent.name_ar,
                field=field,
                start=start,
                end=end,
                confidence=0.9 if n > 1 else 0.75,
            )
        )
        i += n
    return mentions


def _match_at(stems: Sequence[str], i: int, registry: EntityRegistry) -> tuple[int, str] | None:
    """(length, entity id) of the longest registry name starting at word i, exact spelling first."""
    exact, variant = registry.candidate_lengths(stems[i])
    if not exact and not variant:
        return None
    left = len(stems) - i
    for n in exact:
        if n <= left:
            ent_id = registry.names.get(tuple(stems[i : i + n]))
            if ent_id is not None:
                return n, ent_id
    # spelling variants only for multi-word names: one word alone is too easily a common word
    if not variant or left < 2 or (skeleton(stems[i]), skeleton(stems[i + 1])) not in registry.variant_pairs:
        return None
    for n in variant:
        if n <= left:
            key = skeleton_key(stems[i : i + n])
            if sum(map(len, key)) >= 5:
                ent_id = registry.variant(stems[i : i + n], key)
                if ent_id is not None:
                    return n, ent_id
    return None
