"""Topics from weighted Arabic term lexicons (`config/topics.yaml`); multi-label with scores."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from pipeline.config import load_list, unique_ids
from pipeline.models import TopicScore
from pipeline.text.tokenize import Analyzer, phrase_forms

__all__ = ["TopicDef", "TopicLexicon", "load_topics"]

TITLE_WEIGHT = 2.0
# a section the classifier is sure of counts like this many points of lexicon evidence
SECTION_EVIDENCE = 6.0


class TopicDef(BaseModel):
    """One taxonomy entry: labels in both languages and term weights."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # `term:` is a typo

    id: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    label_ar: str
    label_en: str
    terms: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=dict)
    sections: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(
        default_factory=dict, description="classifier section -> weight of its probability as evidence"
    )


@dataclass(frozen=True)
class TopicLexicon:
    """Term stem-sequences → (topic, weight); scoring is a pure function of the token stems."""

    topics: dict[str, TopicDef]
    terms: dict[tuple[str, ...], list[tuple[str, float]]]
    lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)  # first stem -> term lengths
    threshold: float = 3.0
    max_topics: int = 4

    @classmethod
    def build(cls, topics: Sequence[TopicDef], analyzer: Analyzer) -> TopicLexicon:
        """Analyse every term once with the shared analyzer. A term of several words also matches with
        its first word behind a preposition the analyzer leaves on ordinary words, and its second word
        behind ل (لوقف إطلاق النار, وقف لإطلاق النار), as search and watches match phrases; a term
        listed in such a form keeps its own weight. One word behind a preposition is listed where it
        matters (بتهمة): لحربها in «أسلحة لحربها» would make every arms story a conflict."""
        best: dict[tuple[str, ...], dict[str, float]] = {}
        for topic in topics:
            for term, weight in topic.terms.items():
                key = tuple(analyzer.terms(term))
                if key:  # X and الX analyse alike: count the term once, at its highest weight
                    per_topic = best.setdefault(key, {})
                    per_topic[topic.id] = max(per_topic.get(topic.id, 0.0), float(weight))
        derived: dict[tuple[str, ...], dict[str, float]] = {}
        for key, per_topic in best.items():
            if len(key) == 1:
                continue
            for form in phrase_forms(key)[1:]:
                if form not in best:
                    into = derived.setdefault(form, {})
                    for topic_id, weight in per_topic.items():
                        into[topic_id] = max(into.get(topic_id, 0.0), weight)
        table = {key: sorted(per_topic.items()) for key, per_topic in {**derived, **best}.items()}
        lengths: dict[str, set[int]] = {}
        for key in table:
            lengths.setdefault(key[0], set()).add(len(key))
        return cls(
            {t.id: t for t in topics},
            table,
            {first: tuple(sorted(ns, reverse=True)) for first, ns in lengths.items()},
        )

    def raw_scores(self, stems: Sequence[str], weight: float = 1.0) -> dict[str, float]:
        """Sum of term weights per topic over a stem sequence (multiword terms matched first)."""
        scores: dict[str, float] = {}
        lengths = self.lengths
        terms = self.terms
        i = 0
        n_stems = len(stems)
        while i < n_stems:
            step = 1
            for n in lengths.get(stems[i], ()):
                hits = terms.get(tuple(stems[i : i + n])) if i + n <= n_stems else None
                if hits:
                    for topic_id, w in hits:
                        scores[topic_id] = scores.get(topic_id, 0.0) + w * weight
                    step = n
                    break
            i += step
        return scores

    def classify(
        self,
        title_stems: Sequence[str],
        body_stems: Sequence[str],
        sections: Mapping[str, float] | None = None,
    ) -> list[TopicScore]:
        """Topics whose evidence (lexicon terms plus the section classifier's probabilities, weighted
        by each topic's `sections`) passes the threshold, strongest first, squashed into [0, 1)."""
        scores = self.raw_scores(body_stems)
        for topic_id, s in self.raw_scores(title_stems, TITLE_WEIGHT).items():
            scores[topic_id] = scores.get(topic_id, 0.0) + s
        if sections:
            for topic in self.topics.values():
                evidence = sum(sections.get(sec, 0.0) * w for sec, w in topic.sections.items())
                if evidence:
                    scores[topic.id] = scores.get(topic.id, 0.0) + SECTION_EVIDENCE * evidence
        ranked = sorted(((s, t) for t, s in scores.items() if s >= self.threshold), reverse=True)
        return [
            TopicScore(id=t, score=round(1.0 - math.exp(-s / 10.0), 3)) for s, t in ranked[: self.max_topics]
        ]


def load_topics(path: Path) -> list[TopicDef]:
    """The taxonomy from `topics.yaml` (`topics: [...]`); a topic id given twice is an error."""
    return unique_ids(load_list(path, "topics", TopicDef), path, "topics", "topic")
