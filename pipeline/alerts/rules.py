"""Watch matching: pure functions from (compiled watch, enriched article) to an Alert or nothing.

Entities are matched by canonical id (names in a watch are resolved through the registry when
the watch is compiled), topics by id, and words/phrases on analyzer stems, so a watch on بوتين
fires for وبوتين.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.enrich.registry import EntityRegistry
from pipeline.errors import ConfigError
from pipeline.models import Alert, Article, Evidence, TextField, Watch
from pipeline.text.tokenize import Analyzer

__all__ = ["CompiledWatch", "compile_watch", "compile_watches", "match_watch", "snippet"]

_FIELDS: tuple[TextField, ...] = ("title", "summary", "body")
SNIPPET_CHARS = 60


@dataclass(frozen=True)
class CompiledWatch:
    """A watch with entity names resolved to ids and phrases analysed into stem sequences."""

    watch: Watch
    entity_ids: frozenset[str]
    phrases: tuple[tuple[str, tuple[str, ...]], ...]  # (phrase as written, stems)
    topics: frozenset[str]


def compile_watch(watch: Watch, registry: EntityRegistry, known_topics: Iterable[str]) -> CompiledWatch:
    """Resolve and validate a watch; errors name the watch and the field."""
    ids: set[str] = set()
    for name in watch.entities:
        ent = registry.resolve(name)
        if ent is None:
            raise ConfigError(f"watch {watch.id!r}: entities: unknown entity {name!r}")
        ids.add(ent.id)
    topics = frozenset(watch.topics)
    unknown = topics - set(known_topics)
    if unknown:
        raise ConfigError(f"watch {watch.id!r}: topics: unknown topic(s) {sorted(unknown)}")
    phrases = []
    for phrase in watch.words:
        stems = tuple(registry.analyzer.terms(phrase))
        if not stems:
            raise ConfigError(f"watch {watch.id!r}: words: {phrase!r} has no words")
        phrases.append((phrase, stems))
    if not watch.has_condition():
        raise ConfigError(f"watch {watch.id!r}: needs at least one of entities, topics, words")
    return CompiledWatch(watch=watch, entity_ids=frozenset(ids), phrases=tuple(phrases), topics=topics)


def compile_watches(
    watches: Sequence[Watch], registry: EntityRegistry, known_topics: Iterable[str]
) -> list[CompiledWatch]:
    """Compile all watches; ids must be unique."""
    topics = set(known_topics)
    seen: set[str] = set()
    out = []
    for watch in watches:
        if watch.id in seen:
            raise ConfigError(f"watch {watch.id!r}: id defined twice")
        seen.add(watch.id)
        out.append(compile_watch(watch, registry, topics))
    return out


def snippet(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """A short context window around text[start:end], cut at word boundaries where possible."""
    lo = max(0, start - width)
    hi = min(len(text), end + width)
    if lo > 0 and " " in text[lo:start]:
        lo = text.index(" ", lo) + 1
    if hi < len(text) and " " in text[end:hi]:
        hi = text.rindex(" ", end, hi)
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    return prefix + " ".join(text[lo:hi].split()) + suffix


def _phrase_evidence(
    article: Article, phrase: str, stems: tuple[str, ...], analyzer: Analyzer
) -> Evidence | None:
    for field in _FIELDS:
        text = article.text_of(field)
        if not text:
            continue
        tokens = analyzer.tokens(text)
        n = len(stems)
        for i in range(len(tokens) - n + 1):
            if all(tokens[i + k].stem == stems[k] for k in range(n)):
                start, end = tokens[i].start, tokens[i + n - 1].end
                return Evidence(
                    kind="word",
                    value=phrase,
                    surface=text[start:end],
                    field=field,
                    snippet=snippet(text, start, end),
                )
    return None


def match_watch(cw: CompiledWatch, article: Article, analyzer: Analyzer) -> Alert | None:
    """An Alert with evidence when the watch matches the enriched article, else None."""
    w = cw.watch
    if w.paused:
        return None
    if w.sources and article.source not in w.sources:
        return None
    if w.languages and article.language not in w.languages:
        return None
    evidence: list[Evidence] = []
    seen_entities: set[str] = set()
    for m in article.entities:
        if m.canonical_id in cw.entity_ids and m.canonical_id not in seen_entities:
            seen_entities.add(m.canonical_id)
            text = article.text_of(m.field)
            evidence.append(
                Evidence(
                    kind="entity",
                    value=m.canonical_id,
                    surface=m.surface,
                    field=m.field,
                    snippet=snippet(text, m.start, m.end),
                )
            )
    for topic in article.topics:
        if topic.id in cw.topics:
            evidence.append(Evidence(kind="topic", value=topic.id, surface=f"{topic.score:.2f}"))
    for phrase, stems in cw.phrases:
        ev = _phrase_evidence(article, phrase, stems, analyzer)
        if ev is not None:
            evidence.append(ev)
    if not evidence:
        return None
    return Alert(
        id=Alert.make_id(w.id, article.id),
        watch_id=w.id,
        watch_name=w.name or w.id,
        article_id=article.id,
        title=article.title,
        url=article.url,
        source=article.source,
        published=article.published,
        evidence=evidence,
    )
