"""CRF features for Arabic NER over the project's tokens (normalised word, clitic-free stem).

Word-level features depend only on a token's normalised form, so they are computed once per
distinct word and cached, already prefixed for each window position: building a sentence's
features is then list concatenation, not per-token string work. Context features come from the
entity registry (longest-match B/I of registry names, by type) and from the curated word lists in
`config/ner/` (titles, organisation and place triggers, given names, foreign-name endings), and
from the punctuation between tokens, which the tokeniser drops (a comma ends a name).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import read_text
from pipeline.enrich.registry import EntityRegistry
from pipeline.models import EntityType
from pipeline.text.normalise import normalise
from pipeline.text.tokenize import Token, strip_prefix

__all__ = [
    "WINDOW",
    "Featurizer",
    "NerResources",
    "gazetteer_tags",
    "load_resources",
    "name_starts",
    "neighbourhood",
    "read_word_list",
    "separated",
]

WINDOW = (-2, -1, 1, 2)
# a word's own features, its features as seen from each window offset, and its lexicon classes
_WordFeatures = tuple[list[str], dict[int, list[str]], frozenset[str]]
_CACHE_LIMIT = 200_000


def read_word_list(path: Path) -> list[str]:
    """Entries of a `config/ner/` list: whitespace-separated words, `#` comments ignored."""
    words: list[str] = []
    for line in read_text(path).splitlines():
        words.extend(line.split("#", 1)[0].split())
    return words


def _forms(words: Iterable[str], protected: frozenset[str]) -> frozenset[str]:
    """Normalised and clitic-stripped forms of list entries, so الرئيس and رئيس both match."""
    out: set[str] = set()
    for word in words:
        norm = normalise(word)
        out.add(norm)
        out.add(strip_prefix(norm, protected))
    return frozenset(out)


def _name_forms(words: Iterable[str]) -> frozenset[str]:
    """Normalised forms of given names, and without a leading ال: a name's first letter is no clitic
    (وليد is not و + ليد, ألبير is not ال + بير "well", إلهام is not ال + هام "important")."""
    out: set[str] = set()
    for word in words:
        norm = normalise(word)
        out.add(norm)
        if word.startswith("ال"):  # the article is written with a plain alef; أل/إل open a name
            out.add(norm[2:])
    return frozenset(out)


@dataclass(frozen=True)
class NerResources:
    """The curated word lists, normalised, plus registry name words by entity type."""

    titles: frozenset[str]
    org_triggers: frozenset[str]
    loc_triggers: frozenset[str]
    given_names: frozenset[str]
    person_verbs: frozenset[str]
    foreign_endings: tuple[str, ...]
    registry_words: dict[str, frozenset[EntityType]]
    # فان، فون، دي as written (not normalised: فإن "indeed" folds to فان): part of the surname after them
    name_particles: frozenset[str] = frozenset()

    def is_title(self, norm: str, stem: str) -> bool:
        """Whether a word is a title or honorific (class ``T``), as written or as its stem."""
        return stem in self.titles or norm in self.titles


def load_resources(directory: Path, registry: EntityRegistry) -> NerResources:
    """Load the word lists under `directory` (`config/ner/`) and index the registry's name words.

    `name_particles.txt` came later than the others and may be missing from an older config (no
    particles then); the others are required.
    """
    protected = registry.analyzer.protected

    def load(name: str) -> frozenset[str]:
        return _forms(read_word_list(directory / name), protected)

    by_word: dict[str, set[EntityType]] = {}
    for key, ent_id in registry.names.items():
        etype = registry.entities[ent_id].type
        for word in key:
            if len(word) >= 2 and not word.isascii():
                by_word.setdefault(word, set()).add(etype)
    endings = tuple(sorted({normalise(e) for e in read_word_list(directory / "foreign_name_endings.txt")}))
    return NerResources(
        titles=load("person_titles.txt"),
        org_triggers=load("org_triggers.txt"),
        loc_triggers=load("loc_triggers.txt"),
        given_names=_name_forms(read_word_list(directory / "given_names.txt")),
        person_verbs=load("person_verbs.txt"),
        foreign_endings=endings,
        registry_words={w: frozenset(t) for w, t in by_word.items()},
        name_particles=frozenset(
            read_word_list(particles) if (particles := directory / "name_particles.txt").is_file() else ()
        ),
    )


def name_starts(registry: EntityRegistry) -> dict[str, int]:
    """First stem of every registry name → the longest name (in tokens) starting with it."""
    out: dict[str, int] = {}
    for key in registry.names:
        out[key[0]] = max(out.get(key[0], 0), len(key))
    return out


def gazetteer_tags(
    stems: Sequence[str], registry: EntityRegistry, starts: dict[str, int] | None = None
) -> list[str]:
    """BIO tags of the registry's longest name matches over a stem sequence (``O`` elsewhere)."""
    if starts is None:
        starts = name_starts(registry)
    tags = ["O"] * len(stems)
    names = registry.names
    n_tokens = len(stems)
    i = 0  # first token not inside a match yet
    # only stems that start some name can start a match: visit those, not every token
    for k in [k for k, stem in enumerate(stems) if stem in starts]:
        if k < i:
            continue
        for n in range(min(starts[stems[k]], n_tokens - k), 0, -1):
            ent_id = names.get(tuple(stems[k : k + n]))
            if ent_id is None:
                continue
            etype = registry.entities[ent_id].type
            tags[k] = f"B-{etype}"
            for j in range(k + 1, k + n):
                tags[j] = f"I-{etype}"
            i = k + n
            break
    return tags


_LONG_VOWELS = "اوي"
# the three helpers below run for every new word the tagger meets; they use C-level string
# methods and regexes rather than a Python loop per character
_CONSONANT = re.compile(f"[^{_LONG_VOWELS}]")
_VOWEL_MARK = str.maketrans(dict.fromkeys(_LONG_VOWELS, "V"))
_ARABIC_BLOCK = re.compile("[\u0600-\u06ff]+")


def _skeleton(word: str) -> str:
    """Consonant/long-vowel pattern (محمد → CCCC, نيستلروي → CVCCCCVV): foreign names are vowel-rich."""
    return _CONSONANT.sub("C", word[:8]).translate(_VOWEL_MARK)


def _vowel_ratio(word: str) -> str:
    """Share of long-vowel letters (ا و ي), bucketed; transliterations spell every vowel out."""
    if not word:
        return "0"
    vowels = sum(map(word.count, _LONG_VOWELS))
    return str(min(4, int(5 * vowels / len(word))))


def _shape(word: str) -> str:
    """Coarse word shape: digits, Latin, Arabic, or mixed."""
    if word.isdigit():
        return "num"
    # no character is both a letter and a digit, so a word of letters skips the digit scan
    if not word.isalpha() and any(c.isdigit() for c in word):
        return "hasdig"
    if word.isascii():
        return "lat"
    if _ARABIC_BLOCK.fullmatch(word):
        return "ar"
    return "other"


class Featurizer:
    """Turns a sentence of project tokens into crfsuite feature lists, with a per-word cache."""

    def __init__(
        self, resources: NerResources, registry: EntityRegistry, active: frozenset[str] | None = None
    ) -> None:
        """`active`: the attributes a trained model has weights for; others are dropped (tagging speed)."""
        self.res = resources
        self.registry = registry
        self.active = active
        self.use_registry = bool(resources.registry_words)
        self._starts = name_starts(registry)
        self._cache: dict[str, _WordFeatures] = {}
        self._classes: dict[str, frozenset[str]] = {}

    def word_classes(self, norm: str, stem: str) -> list[str]:
        """Lexicon classes of one word: title, triggers, given name, registry types, foreign ending."""
        res = self.res
        classes: list[str] = []
        if res.is_title(norm, stem):
            classes.append("T")
        if stem in res.org_triggers or norm in res.org_triggers:
            classes.append("OT")
        if stem in res.loc_triggers or norm in res.loc_triggers:
            classes.append("LT")
        if norm in res.given_names or stem in res.given_names:
            classes.append("GN")
        if stem in res.person_verbs or norm in res.person_verbs:
            classes.append("PV")
        for etype in sorted(res.registry_words.get(stem, ())):
            classes.append(f"R{etype}")
        if len(stem) >= 4 and norm == stem and stem.endswith(res.foreign_endings):
            classes.append("FE")
        return classes

    def _word(self, norm: str, stem: str) -> _WordFeatures:
        """Features of a word at position 0, and the prefixed subset used at each window offset."""
        hit = self._cache.get(norm)
        if hit is not None:
            return hit
        own, context, classes = self._build(norm, stem)
        active = self.active
        if active is not None:
            own = [f for f in own if f in active]
            context = {off: [f for f in feats if f in active] for off, feats in context.items()}
        entry = (own, context, classes)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[norm] = entry
        return entry

    def _build(self, norm: str, stem: str) -> _WordFeatures:
        """`_word` without the cache and without dropping inactive attributes."""
        prefix = norm[: len(norm) - len(stem)]
        classes = self.word_classes(norm, stem)
        own = [
            "bias",
            f"w={norm}",
            f"s={stem}",
            f"pre={prefix}",
            f"sh={_shape(stem)}",
            f"len={min(len(stem), 9)}",
            f"cv={_skeleton(stem)}",
            f"vr={_vowel_ratio(stem)}",
            f"p1={stem[:1]}",
            f"p2={stem[:2]}",
            f"p3={stem[:3]}",
            f"x1={stem[-1:]}",
            f"x2={stem[-2:]}",
            f"x3={stem[-3:]}",
        ]
        if prefix.endswith(("ال", "لل")):
            own.append("al")
        own.extend(f"c={c}" for c in classes)
        context: dict[int, list[str]] = {}
        for off in WINDOW:
            feats = [f"{off}s={stem}"]
            if off in (-1, 1):
                feats.append(f"{off}w={norm}")
                feats.append(f"{off}x2={stem[-2:]}")
                if prefix.endswith(("ال", "لل")):
                    feats.append(f"{off}al")
            feats.extend(f"{off}c={c}" for c in classes)
            context[off] = feats
        return own, context, frozenset(classes)

    def without_registry(self) -> Featurizer:
        """The same features with every registry-derived one off (training-time dropout)."""
        res = dataclasses.replace(self.res, registry_words={})
        return Featurizer(res, self.registry, self.active)

    def classes(self, token: Token) -> frozenset[str]:
        """Lexicon classes of a token (cached on their own: the decoder does not fill `_cache`)."""
        hit = self._classes.get(token.norm)
        if hit is None:
            hit = frozenset(self.word_classes(token.norm, token.stem))
            if len(self._classes) < _CACHE_LIMIT:
                self._classes[token.norm] = hit
        return hit

    def title_positions(self, tokens: Sequence[Token]) -> list[int]:
        """Indices of the tokens in class ``T`` (a title word): the test `word_classes` makes, done
        with two set lookups per token instead of fetching every token's cached features."""
        is_title = self.res.is_title
        return [i for i, t in enumerate(tokens) if is_title(t.norm, t.stem)]

    def sentence(self, tokens: Sequence[Token]) -> list[list[str]]:
        """Feature lists for every token of one sentence."""
        return self.sentence_and_gazetteer(tokens)[0]

    def sentence_and_gazetteer(self, tokens: Sequence[Token]) -> tuple[list[list[str]], list[str]]:
        """Feature lists for every token of one sentence, and the registry's BIO tags."""
        n = len(tokens)
        words = [self._word(t.norm, t.stem) for t in tokens]
        stems = [t.stem for t in tokens]
        gaz = gazetteer_tags(stems, self.registry, self._starts) if self.use_registry else ["O"] * n
        gaps = separated(tokens)
        active = self.active
        out: list[list[str]] = []
        for i in range(n):
            feats = list(words[i][0])
            for off in WINDOW:
                j = i + off
                if 0 <= j < n:
                    feats.extend(words[j][1][off])
            extra = neighbourhood(i, stems, gaz, gaps)
            feats.extend(extra if active is None else [f for f in extra if f in active])
            out.append(feats)
        return out, gaz

    def new_word_features(self, token: Token) -> tuple[list[str], dict[int, list[str]]]:
        """A token's own features and its features as seen from each window offset, neither cached
        nor filtered by `active`: for a caller that caches what it derives from them and ignores
        unknown attributes anyway (the decoder: a third faster per new word than going through
        `_word`, and no second copy of every word's feature strings kept)."""
        own, context, _ = self._build(token.norm, token.stem)
        return own, context

    def gazetteer(self, tokens: Sequence[Token]) -> list[str]:
        """The registry's BIO tags over a sentence (all ``O`` when registry features are off)."""
        if not self.use_registry:
            return ["O"] * len(tokens)
        tags = gazetteer_tags([t.stem for t in tokens], self.registry, self._starts)
        contexts = self.registry.contexts
        if contexts.ambiguous_forms:
            for i, tag in enumerate(tags):
                # a form mostly another word (بحماس): the tagger decides from the context alone
                if (
                    tag[0] == "B"
                    and (i + 1 == len(tags) or tags[i + 1][0] != "I")
                    and contexts.ambiguous(tokens[i])
                ):
                    tags[i] = "O"
        return tags


def separated(tokens: Sequence[Token]) -> list[bool]:
    """Whether something other than one space (punctuation, a quote, a bracket) comes before each token.

    The tokeniser drops punctuation, so without this the CRF cannot see the comma in
    «محمد برقاوي، جبار درويش» and runs two names into one.
    """
    return [i > 0 and tokens[i].start - tokens[i - 1].end > 1 for i in range(len(tokens))]


def neighbourhood(
    i: int, stems: Sequence[str], gaz: Sequence[str], gaps: Sequence[bool] | None = None
) -> list[str]:
    """Features of token i that depend on its neighbours, so cannot be cached per word.

    `gaps` (from `separated`): punctuation before each token; ``sp-``/``sp+`` mark a token with
    punctuation before/after it.
    """
    n = len(stems)
    extra: list[str] = []
    if i == 0:
        extra.append("BOS")
    if i == n - 1:
        extra.append("EOS")
    if gaps is not None:
        if gaps[i]:
            extra.append("sp-")
        if i + 1 < n and gaps[i + 1]:
            extra.append("sp+")
    g = gaz[i]
    if g != "O":
        extra.append(f"g={g}")
    if i > 0:
        extra.append(f"b-={stems[i - 1]}|{stems[i]}")
        if gaz[i - 1] != "O":
            extra.append(f"-1g={gaz[i - 1]}")
    if i + 1 < n:
        extra.append(f"b+={stems[i]}|{stems[i + 1]}")
        if gaz[i + 1] != "O":
            extra.append(f"1g={gaz[i + 1]}")
    return extra
