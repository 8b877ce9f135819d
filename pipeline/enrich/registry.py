"""The entity registry: canonical entities and every known name variant, loaded from `config/entities/`.

Names are stored as analyzer stem sequences, so the same normalisation and clitic handling
applies to registry names and to article text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.config import load_list, read_text
from pipeline.enrich.contexts import NameContexts, load_contexts, written_form
from pipeline.enrich.variants import MIN_WORD_VARIANT, skeleton, skeleton_key, word_keys, word_probes
from pipeline.errors import ConfigError
from pipeline.models import EntityType
from pipeline.text.normalise import normalise
from pipeline.text.tokenize import Analyzer, Token

__all__ = ["Entity", "EntityRegistry", "load_registry"]

log = logging.getLogger(__name__)


class Entity(BaseModel):
    """A canonical entity (Wikidata QID id where known, else a `rasd:` slug)."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # `alias_ar:` is a typo, not nothing

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


# a clitic and the article: in an organisation's name such a word is a common noun (للتعاون، والثقافة)
_CLITIC_ARTICLE = ("لل", "وال", "بال", "فال", "كال")


def _protected_words(entities: Iterable[Entity]) -> set[str]:
    """Name words that must never lose a 'prefix' letter (لبنان is not ل + بنان).

    Words of organisation names written with a clitic and the article are left to the ordinary rules:
    protected, للتعاون or والثقافة would stay whole in every text, and a search for التعاون would miss
    them. Names are stemmed by the same analyzer, so their keys still match. (In persons' and places'
    names such words are transliterations: والتز، كالينينغراد.)
    """
    words: set[str] = set()
    for ent in entities:
        for name in ent.names():
            for word in normalise(name).split():
                if len(word) < 3 or word.startswith("ال"):
                    continue
                if ent.type == "ORG" and word.startswith(_CLITIC_ARTICLE):
                    continue
                words.add(word)
    return words


@dataclass
class EntityRegistry:
    """Canonical entities plus a lookup from name stem-sequences to entity ids."""

    entities: dict[str, Entity]
    analyzer: Analyzer
    names: dict[tuple[str, ...], str] = field(default_factory=dict)
    ambiguous: set[tuple[str, ...]] = field(default_factory=set)
    variants: dict[tuple[str, ...], str] = field(default_factory=dict)
    # the `word_keys` of the last words of the names behind each multi-word variant key: a surname
    # must match closely
    variant_tails: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    # the same for the first words of person names: a first name that is itself some person's name word
    # must match exactly (نزار عياد is not نظير عياد)
    variant_heads: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    # every word of every person's name: a surname written exactly as one (حسين) is that name, not a
    # misspelling of another (حسون)
    person_words: frozenset[str] = frozenset()
    # `word_keys` of every one-word name -> its entity (a key of two entities: neither)
    word_variants: dict[str, str] = field(default_factory=dict)
    # spelling-variant keys of two or more entities (Hollande / Holland): they resolve by exact name only
    variant_clashes: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    common_given_names: frozenset[str] = frozenset()
    # one-word names also common words or other people's names (مالية "financial" is Malé's ماليه):
    # they stand for the entity only where the tagger also finds that type there
    ambiguous_words: frozenset[str] = frozenset()
    # written forms and neighbours that keep a match from its entity (`rules/contexts.yaml`)
    contexts: NameContexts = field(default_factory=NameContexts)
    # stems of one-word place names every Arabic form of which has the article (الرياض، الخليل، الهند):
    # written without it, the word is something else (رياض الأطفال, the given names خليل and هند)
    article_only: frozenset[str] = frozenset()
    # stems of one-word Latin names listed only in capitals (IS, US, WHO, CAR): written otherwise
    # they are English words ("the weather is nice")
    capitals_only: frozenset[str] = frozenset()
    # first word -> lengths (longest first) of the names that start with it, exact and variant keys
    name_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    variant_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # the first two words of every multi-word variant key: most words that start a name's key (على
    # for علي …) are followed by no second word of one, and need no full key built
    variant_pairs: frozenset[tuple[str, str]] = frozenset()
    _lengths_memo: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=dict, repr=False
    )
    _keys_by_entity: dict[str, list[tuple[str, ...]]] = field(default_factory=dict, repr=False)
    _in_longer_names: dict[str, set[str]] = field(default_factory=dict, repr=False)  # word -> owners

    @classmethod
    def build(cls, entities: Iterable[Entity], kept: Collection[str] = ()) -> EntityRegistry:
        """Index every name of every entity; a name claimed by two entities resolves to neither.

        `kept`: words the analyzer leaves whole (`root_words.txt`)."""
        by_id: dict[str, Entity] = {}
        for ent in entities:
            if ent.id in by_id:
                raise ConfigError(f"entity id {ent.id!r} is defined twice")
            by_id[ent.id] = ent
        analyzer = Analyzer(_protected_words(by_id.values()), kept)
        reg = cls(entities=by_id, analyzer=analyzer)
        analyzer.name_forms = reg.name_forms  # a search for one spelling finds the others
        for ent in by_id.values():
            for name in dict.fromkeys(form for listed in ent.names() for form in _written_forms(listed)):
                key = tuple(analyzer.terms(name))
                if not key:
                    continue
                owner = reg.names.get(key)
                if owner is not None and owner != ent.id:
                    reg.ambiguous.add(key)
                reg.names.setdefault(key, ent.id)
        for key in reg.ambiguous:
            reg.names.pop(key, None)
        reg.article_only = _article_only(by_id.values(), analyzer)
        reg.capitals_only = _capitals_only(by_id.values(), analyzer)
        reg._index_variants()
        return reg

    def _index_variants(self) -> None:
        """Spelling-variant keys of every name: skeletons of multi-word names, `word_keys` of one-word
        names. A key two entities share resolves to neither; `variant_clashes` lists it."""
        clash: dict[tuple[str, ...], set[str]] = {}
        tails: dict[tuple[str, ...], set[str]] = {}
        heads: dict[tuple[str, ...], set[str]] = {}
        for key, ent_id in self.names.items():
            if len(key) > 1:
                vkey = skeleton_key(key)
                if sum(len(k) for k in vkey) < 3:
                    continue
                if (owner := self.variants.setdefault(vkey, ent_id)) != ent_id:
                    clash.setdefault(vkey, {owner}).add(ent_id)
                tails.setdefault(vkey, set()).update(word_keys(key[-1]))
                heads.setdefault(vkey, set()).update(word_keys(key[0]))
            elif len(key[0]) >= MIN_WORD_VARIANT - 1:
                for form in word_keys(key[0]):
                    if (owner := self.word_variants.setdefault(form, ent_id)) != ent_id:
                        clash.setdefault((form,), {owner}).add(ent_id)
        for vkey in clash:
            if len(vkey) > 1:
                del self.variants[vkey]
            else:
                del self.word_variants[vkey[0]]
        self.variant_clashes = {vkey: frozenset(ids) for vkey, ids in clash.items()}
        self.variant_tails = {vkey: frozenset(keys) for vkey, keys in tails.items() if vkey in self.variants}
        self.variant_heads = {vkey: frozenset(keys) for vkey, keys in heads.items() if vkey in self.variants}
        self.person_words = frozenset(
            word for key, ent_id in self.names.items() if self.entities[ent_id].type == "PER" for word in key
        )
        self.name_lengths = _lengths_by_first(self.names)
        self.variant_lengths = _lengths_by_first(self.variants)
        self.variant_pairs = frozenset((k[0], k[1]) for k in self.variants)

    def candidate_lengths(self, first: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Lengths of the names (exact, then spelling variants) that may start with this word."""
        hit = self._lengths_memo.get(first)
        if hit is None:
            hit = (self.name_lengths.get(first, ()), self.variant_lengths.get(skeleton(first), ()))
            if len(self._lengths_memo) < 300_000:
                self._lengths_memo[first] = hit
        return hit

    def lookup(self, stems: tuple[str, ...], *, variants: bool = False) -> str | None:
        """Entity id for a name given as analyzer stems; optionally through its spelling-variant key."""
        ent_id = self.names.get(stems)
        if ent_id is None and variants and stems:  # a name of punctuation or tatweel has no stems
            if len(stems) > 1:
                return self.variant(stems, skeleton_key(stems))
            if len(stems[0]) < MIN_WORD_VARIANT:
                return None
            found = {self.word_variants.get(probe) for probe in word_probes(stems[0])} - {None}
            ent_id = found.pop() if len(found) == 1 else None
        return ent_id

    def variant(self, stems: Sequence[str], key: tuple[str, ...]) -> str | None:
        """The entity of a multi-word variant key, when the last word is also close to its name's last
        word (one long vowel apart): محمد دياب is not محمد ديبي, though both skeletons are محمد دب.
        For a person, a last word that is itself a word of some person's name must equal the name's
        (consonants folded): أحمد حسين is not أحمد حسون; so must the first word of a two-word name
        (نزار عياد is not نظير عياد). Places and organisations keep their looser match, whose words
        have several current spellings (الديموقراطية، الديمقراطية)."""
        ent_id = self.variants.get(key)
        if ent_id is None:
            return None
        tails = self.variant_tails[key]
        probes = word_probes(stems[-1])
        if self.entities[ent_id].type == "PER":
            # probes[0]: the word itself, folded; a longer name has other words to go by (جون/جان إيف لودريان)
            if (
                len(stems) == 2
                and stems[0] in self.person_words
                and word_probes(stems[0])[0] not in self.variant_heads[key]
            ):
                return None
            if stems[-1] in self.person_words:
                return ent_id if probes[0] in tails else None
        return ent_id if not tails.isdisjoint(probes) else None

    def written_as_name(self, token: Token) -> bool:
        """Whether a word that matches a one-word name is written as that name can be: no future-tense
        س before it (ستالين is not س + تالين, Tallinn), no pronoun after it (جدته "his grandmother"
        is not جدة), and with the article if the place always has it (الرياض, not رياض الأطفال)."""
        if "س" in token.prefix or token.norm != token.prefix + token.stem:
            return False
        if token.stem in self.capitals_only and not _capitalised(token.text):
            return False
        return token.has_article or token.stem not in self.article_only

    def stands_alone(self, token: Token) -> bool:
        """Whether such a word stands for its entity without the tagger's agreement: also not one of
        the `ambiguous_words`, nor a form the contexts call ambiguous or not a name."""
        return (
            token.stem not in self.ambiguous_words
            and not self.contexts.ambiguous(token)
            and written_form(token) not in self.contexts.not_names
            and self.written_as_name(token)
        )

    def name_forms(self, stems: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
        """The other listed names (as stems) of the registry entity that `stems` names, for a search
        that should find every spelling: بوتين → بوطين، بوتن، Putin …; none for a word that is
        ambiguous or a common given name alone, or that names no entity.

        A search matches words, not the registry's longest match, so one-word names that would match
        something else are left out: ambiguous words, Latin words shorter than five letters (un, us,
        is, who, xi, time: the index folds case) and words inside another entity's longer name
        (أمريكا in أمريكا اللاتينية, america in Latin America)."""
        if not stems or (
            len(stems) == 1 and (stems[0] in self.ambiguous_words or stems[0] in self.common_given_names)
        ):
            return ()
        ent_id = self.lookup(stems, variants=True)
        if ent_id is None:
            return ()
        if not self._keys_by_entity:
            for key, owner in self.names.items():
                self._keys_by_entity.setdefault(owner, []).append(key)
        return tuple(
            key
            for key in self._keys_by_entity.get(ent_id, ())
            if key != stems and (len(key) > 1 or self._searchable_alone(key[0], ent_id))
        )

    def _searchable_alone(self, word: str, ent_id: str) -> bool:
        """Whether one word, as a search term, stands for this entity only (see `name_forms`)."""
        if word in self.ambiguous_words or (word.isascii() and len(word) < 5):
            return False
        if not self._in_longer_names:
            for key, owner in self.names.items():
                if len(key) > 1:
                    for w in key:
                        self._in_longer_names.setdefault(w, set()).add(owner)
        return self._in_longer_names.get(word, set()) <= {ent_id}

    def resolve(self, name_or_id: str) -> Entity | None:
        """An entity by id or by any known name variant (Arabic or English, any spelling we know)."""
        if name_or_id in self.entities:
            return self.entities[name_or_id]
        ent_id = self.lookup(tuple(self.analyzer.terms(name_or_id)), variants=True)
        return self.entities.get(ent_id) if ent_id else None

    def __len__(self) -> int:
        return len(self.entities)


_ABD_SPLIT = re.compile(r"(?<!\S)عبد\s+(?=\S)")
_ABD_JOINED = re.compile(r"(?<!\S)عبد(?=ال\S)")


def _written_forms(name: str) -> Iterator[str]:
    """A listed name and the other way news writes its compound: عبد الله and عبدالله are one name,
    and the registry need not list both."""
    yield name
    if _ABD_SPLIT.search(name):
        yield _ABD_SPLIT.sub("عبد", name)
    if _ABD_JOINED.search(name):
        yield _ABD_JOINED.sub("عبد ", name)


def _article_only(entities: Iterable[Entity], analyzer: Analyzer) -> frozenset[str]:
    """Stems of the one-word Arabic place names that are written with the article in every form
    listed. Places only: clubs and people are often written without it (بايرن، بارسا، خميني)."""
    with_article: set[str] = set()
    without: set[str] = set()
    for ent in (e for e in entities if e.type == "LOC"):
        for name in ent.names():
            norm = normalise(name)
            terms = analyzer.terms(norm)
            if len(terms) == 1 and not norm.isascii():
                (with_article if norm.startswith("ال") and norm != terms[0] else without).add(terms[0])
    return frozenset(with_article - without)


def _capitals_only(entities: Iterable[Entity], analyzer: Analyzer) -> frozenset[str]:
    """Stems of the one-word Latin names every listed Latin form of which is in capitals."""
    capitals: set[str] = set()
    other: set[str] = set()
    for ent in entities:
        for name in ent.names():
            terms = analyzer.terms(name)
            if len(terms) == 1 and name.isascii():
                (capitals if name.isupper() else other).add(terms[0])
    return frozenset(capitals - other)


def _capitalised(word: str) -> bool:
    """An acronym as written: in capitals, or from four letters on in title case (Nato, Opec), as
    some English styles write them; "Who" opening a sentence is no WHO."""
    return word.isupper() or (len(word) >= 4 and word.istitle())


def _read_words(path: Path, analyzer: Analyzer) -> frozenset[str]:
    """Analyzer terms of a word list (one entry a line, `#` comments); empty if the file is missing."""
    if not path.is_file():
        return frozenset()
    lines = read_text(path).splitlines()
    return frozenset(w for line in lines for w in analyzer.terms(line.split("#", 1)[0]))


def _read_forms(path: Path) -> frozenset[str]:
    """Normalised words of a word list, not stemmed (one or more a line, `#` comments); empty if the
    file is missing."""
    if not path.is_file():
        return frozenset()
    lines = read_text(path).splitlines()
    return frozenset(normalise(w) for line in lines for w in line.split("#", 1)[0].split())


def _lengths_by_first(keys: Iterable[tuple[str, ...]]) -> dict[str, tuple[int, ...]]:
    lengths: dict[str, set[int]] = {}
    for key in keys:
        lengths.setdefault(key[0], set()).add(len(key))
    return {first: tuple(sorted(ns, reverse=True)) for first, ns in lengths.items()}


def load_registry(directory: Path) -> EntityRegistry:
    """Load every `*.yaml` (or `*.yml`) under `directory` (`entities: [...]`), naming the file and entry
    on error."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: entity registry directory not found")
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    entities: list[Entity] = []
    defined: dict[str, Path] = {}
    for path in paths:
        for i, ent in enumerate(load_list(path, "entities", Entity)):
            if ent.id in defined:  # named here, with both files: the registry only knows the id
                raise ConfigError(
                    f"{path.name}: entities[{i}]: entity id {ent.id!r} is defined twice"
                    f" (first in {defined[ent.id].name})"
                )
            defined[ent.id] = path
            entities.append(ent)
    registry = EntityRegistry.build(entities, _read_forms(directory / "root_words.txt"))
    registry.common_given_names = _read_words(directory / "common_given_names.txt", registry.analyzer)
    registry.ambiguous_words = _read_words(directory / "ambiguous_words.txt", registry.analyzer)
    contexts_file = directory / "rules" / "contexts.yaml"
    registry.contexts = load_contexts(contexts_file, registry.analyzer)
    unknown = sorted(registry.contexts.entity_ids() - set(registry.entities))
    if unknown:  # a trimmed registry is fine; a typo in an id is worth a line in the log
        log.warning("%s: rules for entities the registry does not define, unused: %s", contexts_file, unknown)
    return registry
