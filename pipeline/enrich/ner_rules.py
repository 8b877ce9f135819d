"""Rules that complete the CRF: a title followed by a person's name; an organisation head noun before a place.

الرئيس الروسي فلاديمير بوتين، الشيخ تميم، وزير الدفاع سيرغي شويغو: after a title word (and up to two
qualifiers such as الروسي or الدفاع), a name of two or more words that starts with a known given name,
a registry person word or a transliterated-foreign ending is a person, even when the CRF missed it.

بلدية نابلس، جامعة بيرزيت، جريدة فلسطين، وزارة الخارجية المصرية: an organisation head noun
(`config/ner/org_triggers.txt`) directly before a place makes the whole phrase, with trailing
nisba adjectives, an organisation; training data tag only the place when the head noun is rare.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.enrich.ner_features import Featurizer
from pipeline.text.tokenize import Token

__all__ = ["is_nisba", "org_from_trigger", "particle_starts", "title_persons"]

# a registry person word alone is not enough: علي (after normalisation also على) is one
_NAME_CLASSES = frozenset({"GN", "FE"})
_STOP_CLASSES = frozenset({"T", "OT", "LT", "PV"})
_NOT_AFTER_PARTICLE = frozenset({"GN", "T"})
_MAX_QUALIFIERS = 2
_MAX_NAME = 4


def _adjacent(a: Token, b: Token) -> bool:
    """Only a single space between two tokens: no punctuation, no line break."""
    return b.start - a.end <= 1


def title_persons(
    tokens: Sequence[Token], labels: Sequence[str], gazetteer: Sequence[str], featurizer: Featurizer
) -> list[tuple[int, int]]:
    """Token ranges [i, j) of names that follow a title and that neither the CRF nor the registry tagged."""
    n = len(tokens)
    found: list[tuple[int, int]] = []
    resume = 0  # first token past the last name examined
    for i in featurizer.title_positions(tokens):
        if i < resume:
            continue
        k = i + 1
        skipped = 0
        while (
            k < n
            and skipped < _MAX_QUALIFIERS
            and tokens[k].has_article
            and _adjacent(tokens[k - 1], tokens[k])
        ):
            k += 1
            skipped += 1
        if (
            k >= n
            or labels[k] != "O"
            or gazetteer[k] != "O"
            or not (featurizer.classes(tokens[k]) & _NAME_CLASSES)
        ):
            continue
        j = k + 1
        while (
            j < n
            and j - k < _MAX_NAME
            and labels[j] == "O"
            and gazetteer[j] == "O"
            and _adjacent(tokens[j - 1], tokens[j])
        ):
            cls = featurizer.classes(tokens[j])
            if cls & _STOP_CLASSES or len(tokens[j].stem) < 3:
                break
            if tokens[j].has_article:
                if not tokens[j].stem.endswith(("ي", "يه")):
                    j += 1  # a family name with the article (بشار الأسد) ends the name
                break
            j += 1
        if j - k >= 2:  # a lone word after a title is too often not a name (الرئيس أكبر …)
            found.append((k, j))
        resume = max(j, i + 1)
    return found


def particle_starts(
    tokens: Sequence[Token], spans: Sequence[tuple[int, int, str]], featurizer: Featurizer
) -> list[tuple[int, int]]:
    """(index in `spans`, new first token) for each person span right after a surname particle
    (فان نيستلروي, دي ميستورا) that no other span holds: the tagger often leaves the particle out.

    The particle must be written exactly as listed, and the name must not start with a given name or
    a title: فان is also فإن ("indeed") written without its hamza, as in فان الملك سلمان.
    """
    particles = featurizer.res.name_particles
    taken = {k for i, j, _ in spans for k in range(i, j)}
    return [
        (idx, i - 1)
        for idx, (i, _j, etype) in enumerate(spans)
        if etype == "PER"
        and i > 0
        and i - 1 not in taken
        and tokens[i - 1].text in particles
        and _adjacent(tokens[i - 1], tokens[i])
        and not featurizer.classes(tokens[i]) & _NOT_AFTER_PARTICLE
    ]


def is_nisba(token: Token) -> bool:
    """A relational adjective with the article (الروسي، المصرية): it qualifies, it does not name."""
    return token.has_article and token.stem.endswith(("ي", "يه"))


def org_from_trigger(
    tokens: Sequence[Token], spans: Sequence[tuple[int, int, str]], featurizer: Featurizer
) -> list[tuple[int, int, int]]:
    """(index of the LOC span in `spans`, new first token, new end) for each LOC span that an
    organisation head noun turns into an organisation."""
    taken = {k for i, j, _ in spans for k in range(i, j)}
    out: list[tuple[int, int, int]] = []
    for idx, (i, j, etype) in enumerate(spans):
        if etype != "LOC" or i == 0 or (i - 1) in taken:
            continue
        head = tokens[i - 1]
        if "OT" not in featurizer.classes(head) or not _adjacent(head, tokens[i]):
            continue
        end = j
        while (
            end < len(tokens) and end - j < 2 and end not in taken and _adjacent(tokens[end - 1], tokens[end])
        ):
            if not is_nisba(tokens[end]):
                break
            end += 1
        out.append((idx, i - 1, end))
    return out
