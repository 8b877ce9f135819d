"""Hybrid named-entity recogniser: CRF over project tokens + registry gazetteer + title rules.

`NerTagger.spans(text)` takes a whole article field, splits it into sentences, tags each with the
CRF (`config/models/ner-crf.crfsuite`, trained by `pipeline.enrich.ner_train`), overlays the
registry's longest matches (a registry match at least as long as the CRF span wins: the registry
is curated, the CRF is statistical), and adds persons found by the title rule. Spans are character
offsets into the original text, start after any attached clitic (و، ب، ل …) but keep the article
ال when it is part of the name, and carry a confidence (CRF marginals for CRF spans).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from operator import attrgetter
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pycrfsuite  # type: ignore[import-untyped]

from pipeline.enrich.contexts import CLITIC_LETTERS
from pipeline.enrich.crf_decode import CrfDecoder
from pipeline.enrich.gazetteer import trim_prefix
from pipeline.enrich.ner_features import Featurizer, NerResources, load_resources
from pipeline.enrich.ner_rules import org_from_trigger, particle_starts, title_persons
from pipeline.enrich.registry import EntityRegistry
from pipeline.eval.conll import spans_of
from pipeline.models import EntityType
from pipeline.text.normalise import normalise
from pipeline.text.tokenize import Analyzer, Token, stem, strip_prefix

__all__ = ["DEFAULT_MODEL", "NerTagger", "Span", "ner_analyzer", "split_sentences"]

DEFAULT_MODEL = Path("config/models/ner-crf.crfsuite")
_BREAK_RE = re.compile(r"[.!?؟\n؛;:]")
# a CRF span whose mean marginal is below this yields to an overlapping registry match
_UNSURE = 0.7
# lexicon classes (see `Featurizer.word_classes`) that make a word plausibly part of a name
_NAME_EVIDENCE = frozenset({"GN", "FE", "RPER", "RORG", "RLOC", "OT", "LT", "T"})
# a given name, or a word of a registry person's name (خليفة of خليفة حفتر is no given-name list entry)
_GIVEN = frozenset({"GN", "RPER"})
_MAX_QUALIFIERS = 2  # words between a title and the name it introduces (رئيس الجمهورية …)
_MAX_SENTENCE = 150  # very long "sentences" (lists, tables) are cut so one bad split stays local


@dataclass(frozen=True)
class Span:
    """An entity mention: [start, end) in the original text, its type, confidence and source."""

    start: int
    end: int
    type: EntityType
    confidence: float
    source: str  # "crf", "gazetteer" or "rule"


@dataclass(frozen=True)
class _TokSpan:
    """A mention over token indices [i, j) of one sentence."""

    i: int
    j: int
    type: EntityType
    confidence: float
    source: str


def ner_analyzer(registry: EntityRegistry, resources: NerResources) -> Analyzer:
    """The registry's analyzer, also keeping given names whole (وليد is not و + ليد); used for training
    too. Given names are kept, not protected: a protected name pulls clitics off other words, and a
    short one would make a name of a common word (بيان → ب + يان, بدأنا → ب + دانا)."""
    extra = {w for w in resources.given_names if len(w) >= 3 and not w.startswith("ال")}
    return Analyzer(registry.analyzer.protected, kept=registry.analyzer.kept | extra)


def _article_stems(registry: EntityRegistry) -> frozenset[str]:
    """Stems of registry name words that are written with the article (العراق، البيت الأبيض)."""
    protected = registry.analyzer.protected
    out: set[str] = set()
    for ent in registry.entities.values():
        for name in ent.names():
            for word in normalise(name).split():
                if word.startswith("ال"):
                    out.add(strip_prefix(word, protected))
    return frozenset(out)


def split_sentences(text: str, tokens: Sequence[Token]) -> list[list[Token]]:
    """Group tokens into sentences at final punctuation and line breaks between them.

    A sentence ends before a token when a break lies between the previous token's start and its
    own; the breaks before each token are counted for all tokens at once (`np.searchsorted`).
    """
    if not tokens:
        return []
    breaks = np.array([m.start() for m in _BREAK_RE.finditer(text)], dtype=np.int64)
    starts = np.fromiter(map(attrgetter("start"), tokens), dtype=np.int64, count=len(tokens))
    passed = np.searchsorted(breaks, starts, side="left")  # breaks before each token
    bounds = [0, *(np.flatnonzero(passed[1:] > passed[:-1]) + 1).tolist(), len(tokens)]
    return [
        list(tokens[i : min(i + _MAX_SENTENCE, end)])
        for first, end in pairwise(bounds)
        for i in range(first, end, _MAX_SENTENCE)
    ]


def _bio_spans(labels: Sequence[str]) -> list[tuple[int, int, EntityType]]:
    """(first, last + 1, type) of every entity in a BIO label sequence, in order."""
    if labels.count("O") == len(labels):
        return []  # the usual case for registry tags: no set to build and sort
    return [(i, j, cast(EntityType, t)) for i, j, t in sorted(spans_of(labels))]


def _merge(
    crf: list[_TokSpan],
    gaz: list[_TokSpan],
    rules: list[_TokSpan],
    loose: Callable[[int], bool],
    qualifier: Callable[[int, int], bool],
) -> list[_TokSpan]:
    """Registry matches beat overlapping CRF spans that are shorter or unsure; rules only fill gaps.

    A CRF span of the same type that swallows a registry match plus words outside any registry
    match is also cut back to the match when those words are `loose` (no lexicon evidence of a
    name: دعم بيونغ يانغ → بيونغ يانغ, كيم سيناقشان → كيم). A CRF span of another type that adds
    only a title's qualifiers [i, j) before a registry person (`qualifier`) yields to the person:
    رئيس [الجمهورية الباجي قائد السبسي] is no place.
    """
    chosen = list(crf)
    for g in gaz:
        overlapping = [c for c in chosen if c.i < g.j and g.i < c.j]
        one = overlapping[0] if len(overlapping) == 1 else None
        if (
            all((g.j - g.i) >= (c.j - c.i) or c.confidence < _UNSURE for c in overlapping)
            or (
                one is not None
                and one.type == g.type
                and one.i <= g.i
                and g.j <= one.j
                and all(loose(k) for k in range(one.i, one.j) if not g.i <= k < g.j)
            )
            or (
                one is not None
                and g.type == "PER"
                and g.j - g.i > 1
                and one.type != "PER"
                and one.i < g.i
                and one.j == g.j
                and qualifier(one.i, g.i)
            )
        ):
            chosen = [c for c in chosen if c not in overlapping]
            chosen.append(g)
    for r in rules:
        if not any(c.i < r.j and r.i < c.j for c in chosen):
            chosen.append(r)
    return sorted(chosen, key=lambda s: s.i)


class NerTagger:
    """The hybrid recogniser, loaded once and shared; `spans` is pure given the loaded model."""

    def __init__(self, tagger: pycrfsuite.Tagger, registry: EntityRegistry, resources: NerResources) -> None:
        self.registry = registry
        self.resources = resources
        self.analyzer = ner_analyzer(registry, resources)
        self._restemmed: dict[str, tuple[str, str]] = {}
        # only attributes with a weight reach crfsuite: the rest cost lookups and change nothing
        active = frozenset(attr for attr, _label in tagger.info().state_features)
        self.featurizer = Featurizer(resources, registry, active)
        self.decoder = CrfDecoder(tagger, self.featurizer)
        self._label_index = {label: k for k, label in enumerate(self.decoder.labels)}
        self._article_stems = _article_stems(registry)

    def _article_mismatch(self, token: Token) -> bool:
        """A one-word registry match written with ال although the name never takes it (الحماة ≠ حماة)."""
        return token.has_article and token.stem not in self._article_stems

    def _given_name(self, token: Token) -> bool:
        """A title word that is also a given name and written without the article opens the name:
        خليفة الشيباني is Khalifa al-Shaibani, not a caliph called الشيباني."""
        return not token.has_article and bool(self.featurizer.classes(token) & _GIVEN)

    def _same_entity(self, tokens: Sequence[Token], i: int, k: int, j: int) -> bool:
        """Whether tokens [k, j) name the registry entity that [i, j) names."""
        full = self.registry.lookup(tuple(t.stem for t in tokens[i:j]))
        return full is None or self.registry.lookup(tuple(t.stem for t in tokens[k:j])) == full

    def _stands_alone(self, token: Token) -> bool:
        """Whether a one-word registry match is a mention without the CRF's agreement (which, if it
        tags the word, still has its span canonicalised): see `EntityRegistry.stands_alone`."""
        return not self._article_mismatch(token) and self.registry.stands_alone(token)

    @classmethod
    def load(
        cls, model_path: Path, registry: EntityRegistry, resources_dir: Path = Path("config/ner")
    ) -> NerTagger:
        """Open the CRF model and the word lists."""
        tagger = pycrfsuite.Tagger()
        tagger.open(str(model_path))
        return cls(tagger, registry, load_resources(resources_dir, registry))

    def _sentence(
        self, tokens: list[Token], gaz_tags: list[str], labels: list[str], marginals: npt.NDArray[np.float64]
    ) -> list[_TokSpan]:
        """Hybrid mentions of one sentence (CRF already decoded), over token indices."""
        crf: list[_TokSpan] = []
        label_index = self._label_index
        for i, j, etype in _bio_spans(labels):
            conf = sum(float(marginals[k, label_index[labels[k]]]) for k in range(i, j)) / (j - i)
            crf.append(_TokSpan(i, j, etype, round(float(conf), 3), "crf"))
        contexts = self.registry.contexts
        gaz = [
            _TokSpan(i, j, etype, 0.9 if j - i > 1 else 0.8, "gazetteer")
            for i, j, etype in _bio_spans(gaz_tags)
            if (j - i > 1 or self._stands_alone(tokens[i]))
            and not contexts.blocks(
                tokens, i, j, etype, self.registry.names.get(tuple(t.stem for t in tokens[i:j]))
            )
        ]
        rules = [
            _TokSpan(i, j, "PER", 0.6, "rule")
            for i, j in title_persons(tokens, labels, gaz_tags, self.featurizer)
        ]
        classes = self.featurizer.classes

        def loose(k: int) -> bool:
            return gaz_tags[k] != "O" or not (classes(tokens[k]) & _NAME_EVIDENCE)

        titles = self.resources.titles

        def qualifier(i: int, j: int) -> bool:
            """Tokens [i, j) qualify a title just before them (رئيس الجمهورية، لرئيس الجمهورية)."""
            before = tokens[i - 1] if i > 0 else None
            return (
                before is not None
                and j - i <= _MAX_QUALIFIERS
                and (
                    "T" in classes(before)
                    or (before.norm[:1] in CLITIC_LETTERS and before.norm[1:] in titles)
                )
                and all(tokens[k].has_article for k in range(i, j))
            )

        merged = _merge(crf, gaz, rules, loose, qualifier)
        triples = [(m.i, m.j, m.type) for m in merged]
        for idx, i, j in org_from_trigger(tokens, triples, self.featurizer):
            merged[idx] = _TokSpan(i, j, "ORG", merged[idx].confidence, "rule")
        for idx, i in particle_starts(tokens, [(m.i, m.j, m.type) for m in merged], self.featurizer):
            merged[idx] = dataclasses.replace(merged[idx], i=i)
        return merged

    def tokens(self, text: str, tokens: Sequence[Token] | None = None) -> list[Token]:
        """The tagger's tokens of `text`; given another analyzer's tokens of the same text, only their
        stems are recomputed (word boundaries and normalised forms do not depend on the lexicon)."""
        if tokens is None:
            return self.analyzer.tokens(text)
        memo = self._restemmed
        # every token of every text comes through here: known words in one C-level pass of lookups
        hits: list[tuple[str, str] | None] = list(map(memo.get, [t.norm for t in tokens]))
        if None in hits:
            for k, hit in enumerate(hits):
                if hit is None:
                    norm = tokens[k].norm
                    hit = hits[k] = stem(norm, self.analyzer.protected, self.analyzer.kept)
                    if len(memo) < 300_000:
                        memo[norm] = hit
        filled = cast("list[tuple[str, str]]", hits)  # no None is left
        return [
            t if t.stem == h[1] and t.prefix == h[0] else t._replace(stem=h[1], prefix=h[0])
            for t, h in zip(tokens, filled, strict=True)
        ]

    def spans(self, text: str, tokens: Sequence[Token] | None = None) -> list[Span]:
        """Entity mentions of a whole text (an article field), sorted and non-overlapping.

        Pass the text's tokens when the caller has them, to save tokenising it again.
        """
        return self.spans_many([(text, tokens)])[0]

    def spans_many(self, texts: Sequence[tuple[str, Sequence[Token] | None]]) -> list[list[Span]]:
        """`spans` for several texts; their sentences are decoded in one batch, which is much faster
        than one text at a time (the decoder's cost is per position of the longest sentence)."""
        per_text = [split_sentences(text, self.tokens(text, tokens)) for text, tokens in texts]
        sentences = [sentence for group in per_text for sentence in group]
        gazetteer = [self.featurizer.gazetteer(sentence) for sentence in sentences]
        decoded = iter(zip(sentences, gazetteer, self.decoder.tag(sentences, gazetteer), strict=True))
        titles = self.resources.titles
        out: list[list[Span]] = []
        for (text, _), group in zip(texts, per_text, strict=True):
            found: list[Span] = []
            for _ in group:
                sentence, gaz_tags, (labels, marginals) = next(decoded)
                for s in self._sentence(sentence, gaz_tags, labels, marginals):
                    i = s.i
                    while (
                        s.type == "PER"
                        and s.j - i > 1
                        and (sentence[i].stem in titles or sentence[i].norm in titles)
                        and not self._given_name(sentence[i])
                    ):
                        i += 1  # الدكتور حجازي: the person is حجازي; the title stays out of the name
                    if i > s.i and s.source == "gazetteer" and not self._same_entity(sentence, s.i, i, s.j):
                        i = s.i  # الملك سلمان is a registry name; سلمان alone is anyone called سلمان
                    start = trim_prefix(text, sentence[i])
                    end = sentence[s.j - 1].end
                    if start < end:
                        found.append(Span(start, end, s.type, s.confidence, s.source))
            out.append(found)
        return out

    def extract(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, type) triples: the `extract` callable `pipeline.eval.ner.evaluate_ner` takes."""
        return [(s.start, s.end, s.type) for s in self.spans(text)]
