"""Watch matching: pure functions from (compiled watch, enriched article) to an Alert or nothing.

Entities are matched by canonical id (names in a watch are resolved through the registry when
the watch is compiled), topics by id, and words/phrases on analyzer stems, so a watch on بوتين
fires for وبوتين. Conditions combine as any_of / all_of / none_of.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pipeline.enrich.registry import EntityRegistry
from pipeline.errors import ConfigError
from pipeline.models import Alert, Article, Condition, Evidence, TextField, Watch
from pipeline.text.spellings import other_forms
from pipeline.text.tokenize import Analyzer, Token, inner_forms, preposition_forms

__all__ = [
    "ArticleTerms",
    "CompiledCondition",
    "CompiledWatch",
    "applies_to",
    "compile_watch",
    "compile_watches",
    "find_evidence",
    "match_watch",
    "match_watches",
    "snippet",
]

_FIELDS: tuple[TextField, ...] = ("title", "summary", "body")
SNIPPET_CHARS = 60


@dataclass(frozen=True)
class CompiledCondition:
    """A condition with entity names resolved to canonical ids and phrases analysed into stems."""

    entity_ids: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    phrases: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (phrase as written, stems)
    # per phrase, the other spellings of the registry name it is (بوتين: بوطين، بوتن، putin) and a
    # word's sound plural and dual (مظاهرة: مظاهرات), as search expands a bare word
    spellings: tuple[tuple[tuple[str, ...], ...], ...] = ()

    def __len__(self) -> int:
        return len(self.entity_ids) + len(self.topics) + len(self.phrases)

    def phrase_forms(self) -> list[tuple[str, tuple[tuple[str, ...], ...]]]:
        """(phrase as written, its stems then its other spellings) for every phrase."""
        others = self.spellings or ((),) * len(self.phrases)
        return [(phrase, (stems, *alts)) for (phrase, stems), alts in zip(self.phrases, others, strict=True)]


@dataclass(frozen=True)
class CompiledWatch:
    """A validated watch, ready to match articles without touching the registry again."""

    watch: Watch
    any_of: CompiledCondition
    all_of: CompiledCondition
    none_of: CompiledCondition

    @property
    def entity_ids(self) -> frozenset[str]:
        """Every entity the watch names positively (surge subjects, API display)."""
        return frozenset(self.any_of.entity_ids + self.all_of.entity_ids)

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self.any_of.topics + self.all_of.topics)


def _compile_condition(
    cond: Condition, part: str, watch_id: str, registry: EntityRegistry, known_topics: set[str]
) -> CompiledCondition:
    ids: list[str] = []
    for name in cond.entities:
        ent = registry.resolve(name)
        if ent is None:
            raise ConfigError(f"watch {watch_id!r}: {part}.entities: unknown entity {name!r}")
        if ent.id not in ids:
            ids.append(ent.id)
    unknown = sorted(set(cond.topics) - known_topics)
    if unknown:
        raise ConfigError(f"watch {watch_id!r}: {part}.topics: unknown topic(s) {unknown}")
    phrases = []
    spellings = []
    for phrase in cond.words:
        stems = tuple(registry.analyzer.terms(phrase))
        if not stems:
            raise ConfigError(f"watch {watch_id!r}: {part}.words: {phrase!r} has no words")
        phrases.append((phrase, stems))
        spellings.append(tuple(other_forms(stems, registry.name_forms)))
    return CompiledCondition(tuple(ids), tuple(cond.topics), tuple(phrases), tuple(spellings))


def compile_watch(watch: Watch, registry: EntityRegistry, known_topics: Iterable[str]) -> CompiledWatch:
    """Resolve and validate a watch; errors name the watch and the field."""
    topics = set(known_topics)
    return CompiledWatch(
        watch=watch,
        any_of=_compile_condition(watch.any_of, "any_of", watch.id, registry, topics),
        all_of=_compile_condition(watch.all_of, "all_of", watch.id, registry, topics),
        none_of=_compile_condition(watch.none_of, "none_of", watch.id, registry, topics),
    )


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


class ArticleTerms:
    """One article's fields, each tokenised once on first use, with the positions of every stem.

    Every phrase of every watch is looked up here: tokenising the article again per phrase made
    matching cost (watches x article length), most of a worker's time with a few phrase watches.
    """

    def __init__(self, article: Article, analyzer: Analyzer) -> None:
        self.article = article
        self._analyzer = analyzer
        self._fields: dict[TextField, tuple[list[Token], dict[str, list[int]]]] = {}
        self._stems: dict[TextField, frozenset[str]] = {}

    def has_stem(self, field: TextField, stem: str) -> bool:
        """Whether the field has this stem, from `Analyzer.terms` (the same stems as its tokens, several
        times faster): most articles contain no watched phrase and are never tokenised here."""
        found = self._stems.get(field)
        if found is None:
            found = self._stems[field] = frozenset(self._analyzer.terms(self.article.text_of(field)))
        return stem in found

    def field(self, field: TextField) -> tuple[list[Token], dict[str, list[int]]]:
        """The field's tokens and stem → token positions."""
        found = self._fields.get(field)
        if found is None:
            tokens = self._analyzer.tokens(self.article.text_of(field))
            positions: dict[str, list[int]] = {}
            for i, token in enumerate(tokens):
                positions.setdefault(token.stem, []).append(i)
            found = self._fields[field] = (tokens, positions)
        return found


_Span = tuple[TextField, int, int]


def _phrase_spans(terms: ArticleTerms, stems: tuple[str, ...]) -> Iterator[_Span]:
    """Where the phrase occurs, field by field, in order: (field, start, end) in the original text."""
    n = len(stems)
    firsts = preposition_forms(stems[0])  # لوقف إطلاق النار for وقف إطلاق النار
    for field in _FIELDS:
        if not terms.article.text_of(field) or not any(terms.has_stem(field, f) for f in firsts):
            continue
        tokens, positions = terms.field(field)
        starts = sorted(i for f in firsts for i in positions.get(f, ()))
        # the second word behind ل too, after the first word as listed (وقف لإطلاق النار): `phrase_forms`
        seconds = inner_forms(stems[1]) if n > 1 else ()
        for i in starts:
            if (
                i + n <= len(tokens)
                and (
                    n == 1
                    or tokens[i + 1].stem == stems[1]
                    or (tokens[i].stem == stems[0] and tokens[i + 1].stem in seconds)
                )
                and all(tokens[i + k].stem == stems[k] for k in range(2, n))
            ):
                yield field, tokens[i].start, tokens[i + n - 1].end


def _forms_spans(terms: ArticleTerms, forms: tuple[tuple[str, ...], ...]) -> list[_Span]:
    """Where any form of a phrase occurs, in text order."""
    return sorted({span for stems in forms for span in _phrase_spans(terms, stems)}, key=_text_order)


def _text_order(span: _Span) -> tuple[int, int, int]:
    return _FIELDS.index(span[0]), span[1], span[2]


def _phrase_evidence(terms: ArticleTerms, phrase: str, forms: tuple[tuple[str, ...], ...]) -> Evidence | None:
    """The first occurrence of the phrase or another spelling of the name it is (as written, with a
    snippet) and how often they occur."""
    spans = _forms_spans(terms, forms)
    if not spans:
        return None
    field, start, end = spans[0]
    text = terms.article.text_of(field)
    return Evidence(
        kind="word",
        value=phrase,
        surface=text[start:end],
        field=field,
        snippet=snippet(text, start, end),
        count=len(spans),
    )


def _mentions(found: Iterable[Evidence], cw: CompiledWatch, terms: ArticleTerms) -> int:
    """Mentions behind the evidence, each place in the text counted once: two watched words of one
    stem (هدنة, الهدنة), or an entity and a word naming it, found at the same place are one mention."""
    forms_of = dict(cw.any_of.phrase_forms() + cw.all_of.phrase_forms())
    spans: list[_Span] = []
    for ev in found:
        if ev.kind == "entity":
            spans += [(m.field, m.start, m.end) for m in terms.article.entities if m.canonical_id == ev.value]
        elif ev.kind == "word":
            spans += _forms_spans(terms, forms_of[ev.value])
    count, reach = 0, None
    for field, start, end in sorted(spans):
        if reach is None or field != reach[0] or start >= reach[1]:
            count += 1
            reach = (field, end)
        else:
            reach = (field, max(end, reach[1]))  # overlapping: the same mention
    return count


def _entity_evidence(article: Article, entity_id: str) -> Evidence | None:
    mentions = [m for m in article.entities if m.canonical_id == entity_id]
    if not mentions:
        return None
    m = mentions[0]
    return Evidence(
        kind="entity",
        value=entity_id,
        surface=m.surface,
        field=m.field,
        snippet=snippet(article.text_of(m.field), m.start, m.end),
        count=len(mentions),
    )


def _evidence(cond: CompiledCondition, terms: ArticleTerms) -> list[Evidence | None]:
    """One entry per item of the condition, in order: its evidence, or None when absent."""
    article = terms.article
    out: list[Evidence | None] = [_entity_evidence(article, e) for e in cond.entity_ids]
    scores = {t.id: t.score for t in article.topics}
    out.extend(
        Evidence(kind="topic", value=t, surface=f"{scores[t]:.2f}") if t in scores else None
        for t in cond.topics
    )
    out.extend(_phrase_evidence(terms, phrase, forms) for phrase, forms in cond.phrase_forms())
    return out


def applies_to(watch: Watch, article: Article) -> bool:
    """Whether the watch considers this article at all (not paused, source and language allowed)."""
    if watch.paused or watch.surge is not None:
        return False
    if watch.sources and article.source not in watch.sources:
        return False
    return not (watch.languages and article.language not in watch.languages)


def find_evidence(
    cw: CompiledWatch, article: Article, analyzer: Analyzer, terms: ArticleTerms | None = None
) -> list[Evidence] | None:
    """The evidence that makes the watch fire for this article, or None when it does not.

    any_of needs one item, all_of every item, none_of none; `min_mentions` counts the mentions of
    the watched entities and words that were found (topics carry no mention count).
    """
    if not applies_to(cw.watch, article):
        return None
    if terms is None or terms.article is not article:
        terms = ArticleTerms(article, analyzer)
    if cw.none_of and any(ev is not None for ev in _evidence(cw.none_of, terms)):
        return None
    found: list[Evidence] = []
    if cw.all_of:
        every = _evidence(cw.all_of, terms)
        if any(ev is None for ev in every):
            return None
        found.extend(ev for ev in every if ev is not None)
    if cw.any_of:
        some = [ev for ev in _evidence(cw.any_of, terms) if ev is not None]
        if not some:
            return None
        found.extend(ev for ev in some if ev not in found)
    counted = [ev.count for ev in found if ev.kind in ("entity", "word")]
    minimum = cw.watch.min_mentions
    if counted and minimum > 1 and (sum(counted) < minimum or _mentions(found, cw, terms) < minimum):
        return None  # (the sum, an upper bound of the mentions, spares the spans most of the time)
    return found or None


def match_watches(
    watches: Iterable[CompiledWatch], article: Article, analyzer: Analyzer
) -> list[tuple[CompiledWatch, Alert]]:
    """Every watch that fires for the article, with its alert; the article is tokenised once."""
    terms = ArticleTerms(article, analyzer)
    fired = ((cw, match_watch(cw, article, analyzer, terms)) for cw in watches)
    return [(cw, alert) for cw, alert in fired if alert is not None]


def match_watch(
    cw: CompiledWatch, article: Article, analyzer: Analyzer, terms: ArticleTerms | None = None
) -> Alert | None:
    """An Alert with evidence when the watch matches the enriched article, else None.

    The alert id is derived from the watch and the article's story, so a copy of an alerted story
    from another source yields the same id (merged as `also`, not fired again).
    """
    evidence = find_evidence(cw, article, analyzer, terms)
    if evidence is None:
        return None
    w = cw.watch
    story = article.story_id or article.id
    return Alert(
        id=Alert.make_id(w.id, story),
        watch_id=w.id,
        watch_name=w.name or w.id,
        owner=w.owner,
        article_id=article.id,
        story_id=story,
        title=article.title,
        url=article.url,
        source=article.source,
        published=article.published,
        evidence=evidence,
    )
