"""The enrichment step as one pure function over an Article, built once from `config/` data."""

from __future__ import annotations

import contextlib
import logging
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.enrich.classifier import SectionClassifier
from pipeline.enrich.entities import article_mentions
from pipeline.enrich.keywords import extract_keywords, load_stopwords
from pipeline.enrich.language import detect_language
from pipeline.enrich.ner import NerTagger, Span
from pipeline.enrich.registry import EntityRegistry, load_registry
from pipeline.enrich.topics import TopicLexicon, load_topics
from pipeline.errors import ConfigError
from pipeline.models import Article, EntityMention, TextField, utcnow
from pipeline.settings import Settings
from pipeline.text.tokenize import Analyzer, Token

__all__ = ["Enricher", "load_enricher"]

log = logging.getLogger(__name__)

_FIELDS: tuple[TextField, ...] = ("title", "summary", "body")
# words of one field that enrichment reads (a long article has ~8,000; the connector keeps 200,000
# characters of a body): a huge or hostile text (a body of ﷺ is two words a character) is enriched
# from its first words only, so the tagger's and classifier's memory stays bounded for any article
MAX_ENRICHED_WORDS = 50_000


@dataclass(frozen=True)
class Enricher:
    """Normalise → language → entities → topics → keywords, with no I/O."""

    registry: EntityRegistry
    topics: TopicLexicon
    stopwords: frozenset[str]
    classifier: SectionClassifier | None = None
    ner: NerTagger | None = None

    @property
    def analyzer(self) -> Analyzer:
        return self.registry.analyzer

    def enrich(self, article: Article) -> Article:
        """A copy of `article` with entities, topics, keywords and language filled in."""
        return self.enrich_many([article])[0]

    def enrich_many(self, articles: Sequence[Article]) -> list[Article]:
        """`enrich` for a batch: the same result per article, with the NER decoder run once for all
        (the agents read the stream in batches; one article at a time is several times slower)."""
        fields = [[(f, a.text_of(f)) for f in _FIELDS if a.text_of(f)] for a in articles]
        tokens = [{f: self.analyzer.tokens(text)[:MAX_ENRICHED_WORDS] for f, text in fs} for fs in fields]
        spans = self._spans(fields, tokens)
        out: list[Article] = []
        for k, article in enumerate(articles):
            entities = article_mentions(
                fields[k], self.registry, spans[k] if spans else None, tokenized=tokens[k]
            )
            stems: dict[TextField, list[str]] = {f: [t.stem for t in tokens[k].get(f, ())] for f in _FIELDS}
            body_stems = stems["summary"] + stems["body"]
            all_text = " ".join(article.text_of(f) for f in _FIELDS)
            out.append(
                article.model_copy(
                    update={
                        "language": detect_language(all_text, article.language),
                        "entities": entities,
                        "topics": self.topics.classify(stems["title"], body_stems, self._sections(tokens[k])),
                        "keywords": extract_keywords(stems["title"], body_stems, self.stopwords),
                        "enriched_at": utcnow(),
                    }
                )
            )
        return out

    def _spans(
        self, fields: list[list[tuple[TextField, str]]], tokens: list[dict[TextField, list[Token]]]
    ) -> list[dict[str, list[Span]]] | None:
        """Tagger spans of every field of every article (None without a NER model)."""
        if self.ner is None:
            return None
        flat = self.ner.spans_many([(text, tokens[k][f]) for k, fs in enumerate(fields) for f, text in fs])
        found = iter(flat)
        return [{f: next(found) for f, _ in fs} for fs in fields]

    def _mentions(
        self, fields: list[tuple[TextField, str]], tokens: dict[TextField, list[Token]]
    ) -> list[EntityMention]:
        """Tagger spans (or registry names) canonicalised, plus partial mentions: the entity step."""
        spans = self._spans([fields], [tokens])
        return article_mentions(fields, self.registry, spans[0] if spans else None, tokenized=tokens)

    def extract_entities(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, type) of the entity mentions the pipeline finds in one text (for evaluation)."""
        mentions = self._mentions([("body", text)], {"body": self.analyzer.tokens(text)})
        return [(m.start, m.end, m.type) for m in mentions]

    def _sections(self, tokens: dict[TextField, list[Token]]) -> dict[str, float] | None:
        """Section scores of title and summary + body, from the words the tokenizer normalised."""
        if self.classifier is None:
            return None
        title = [t.norm for t in tokens.get("title", ())]
        body = [t.norm for t in (*tokens.get("summary", ()), *tokens.get("body", ()))]
        return self.classifier.scores_of_words(title, body)


@contextlib.contextmanager
def _model_file(path: Path) -> Iterator[None]:
    """A model file that cannot be read (truncated, another format) is a ConfigError naming it."""
    try:
        yield
    except ConfigError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a usable model file ({type(exc).__name__}: {exc})") from exc


def load_enricher(settings: Settings) -> Enricher:
    """Build the enricher from the registry, taxonomy and stop words under `settings.config_dir`."""
    registry = load_registry(settings.entities_dir)
    lexicon = TopicLexicon.build(load_topics(settings.topics_file), registry.analyzer)
    stopwords = load_stopwords(settings.config_dir / "stopwords" / "ar.txt", registry.analyzer)
    ner_path = settings.config_dir / "models" / "ner-crf.crfsuite"
    with _model_file(ner_path):
        ner = NerTagger.load(ner_path, registry, settings.config_dir / "ner") if ner_path.is_file() else None
    if ner is None:
        log.warning("no NER model at %s: entities from the registry gazetteer only", ner_path)
    classifier_path = settings.config_dir / "models" / "topics-ant.npz"
    with _model_file(classifier_path):
        classifier = SectionClassifier.load(classifier_path) if classifier_path.is_file() else None
    if classifier is None:
        log.warning("no section classifier at %s: topics from the term lexicons only", classifier_path)
    return Enricher(registry=registry, topics=lexicon, stopwords=stopwords, classifier=classifier, ner=ner)
