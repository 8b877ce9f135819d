"""The enrichment step as one pure function over an Article, built once from `config/` data."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.enrich.entities import article_mentions
from pipeline.enrich.keywords import extract_keywords, load_stopwords
from pipeline.enrich.language import detect_language
from pipeline.enrich.registry import EntityRegistry, load_registry
from pipeline.enrich.topics import TopicLexicon, load_topics
from pipeline.models import Article, TextField, utcnow
from pipeline.settings import Settings
from pipeline.text.tokenize import Analyzer

__all__ = ["Enricher", "load_enricher"]

_FIELDS: tuple[TextField, ...] = ("title", "summary", "body")


@dataclass(frozen=True)
class Enricher:
    """Normalise → language → entities → topics → keywords, with no I/O."""

    registry: EntityRegistry
    topics: TopicLexicon
    stopwords: frozenset[str]

    @property
    def analyzer(self) -> Analyzer:
        return self.registry.analyzer

    def enrich(self, article: Article) -> Article:
        """A copy of `article` with entities, topics, keywords and language filled in."""
        fields = [(f, article.text_of(f)) for f in _FIELDS if article.text_of(f)]
        tokens = {f: self.analyzer.tokens(text) for f, text in fields}  # tokenised once, used by all
        entities = article_mentions(fields, self.registry, tokenized=tokens)
        stems: dict[TextField, list[str]] = {f: [t.stem for t in tokens.get(f, ())] for f in _FIELDS}
        body_stems = stems["summary"] + stems["body"]
        all_text = " ".join(article.text_of(f) for f in _FIELDS)
        return article.model_copy(
            update={
                "language": detect_language(all_text, article.language),
                "entities": entities,
                "topics": self.topics.classify(stems["title"], body_stems),
                "keywords": extract_keywords(stems["title"], body_stems, self.stopwords),
                "enriched_at": utcnow(),
            }
        )


def load_enricher(settings: Settings) -> Enricher:
    """Build the enricher from the registry, taxonomy and stop words under `settings.config_dir`."""
    registry = load_registry(settings.entities_dir)
    lexicon = TopicLexicon.build(load_topics(settings.topics_file), registry.analyzer)
    stopwords = load_stopwords(settings.config_dir / "stopwords" / "ar.txt", registry.analyzer)
    return Enricher(registry=registry, topics=lexicon, stopwords=stopwords)
