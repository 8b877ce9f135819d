"""Gazetteer entity tagging: longest match of registry names over analyzer stems.

A first, measured-later tagger: it finds the entities the registry knows, with the clitics
(و، ب، ل، ال …) stripped from the surface span, and offsets into the original text.
"""

from __future__ import annotations

from pipeline.enrich.registry import EntityRegistry
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
    while pos < token.end and not normalise(text[pos]):
        pos += 1  # diacritics of the dropped clitic
    return pos


def tag_entities(text: str, field: TextField, registry: EntityRegistry) -> list[EntityMention]:
    """Every registry name found in `text`, longest match first, non-overlapping."""
    tokens = registry.analyzer.tokens(text)
    stems = [t.stem for t in tokens]
    mentions: list[EntityMention] = []
    i = 0
    longest = registry.max_name_tokens
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            key = tuple(stems[i : i + n])
            # spelling variants only for multi-word names: one word alone is too easily a common word
            ent_id = registry.lookup(key, variants=n > 1 and sum(map(len, key)) >= 6)
            if ent_id is None:
                continue
            ent = registry.entities[ent_id]
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
            break
        else:
            i += 1
    return mentions
