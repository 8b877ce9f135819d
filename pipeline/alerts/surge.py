"""Surge detection: pure functions from per-window article counts to one Alert per surge.

A *subject* is `entity:<canonical id>` or `topic:<topic id>`. Time is cut into tumbling windows of
the watch's size, aligned to the Unix epoch (as Faust's tumbling windows are). A window *surges* when
its count is at least `min_count` and at least `factor` × the mean of the `baseline_windows` windows
before it. A watch fires for the window that starts a surge: the current window surges and the
previous one, judged against its own baseline, did not. The alert id is derived from the watch, the
subject and the window start, so redeliveries and later articles of the same window give the same
id, and a surge that spans several windows fires once. Articles arriving late can make a window
surge after the next one fired; the agent then skips it (`surge_alert_id` of the next window exists).

The counting itself (Faust windowed tables) lives in `pipeline/agents/surge.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from math import floor

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pipeline.alerts.rules import CompiledWatch
from pipeline.models import SCHEMA_VERSION, Alert, Article, Evidence, Surge, Watch, dumps

__all__ = [
    "SurgeCheck",
    "SurgeMention",
    "check",
    "counts_subject",
    "evaluate",
    "event_time",
    "in_scope",
    "is_recent",
    "mentions",
    "route",
    "scope_of",
    "subject_value",
    "subjects_of",
    "surge_alert",
    "surge_alert_id",
    "surge_watches",
    "window_start",
]

ENTITY = "entity:"
TOPIC = "topic:"


class SurgeMention(BaseModel):
    """One article counted for one subject: the value on `rasd.surge.mentions` (UTF-8 JSON).

    Carries the article fields a surge alert shows, so the counting side never needs the article.
    `scopes` are the source/language restrictions (see `scope_of`) under which the article counts.
    """

    model_config = ConfigDict(extra="ignore")

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    subject: str = Field(pattern=r"^(entity|topic):.+")
    label: str = Field(default="", description="the entity's canonical name, or the topic id")
    scopes: list[str] = Field(default_factory=lambda: [""])
    at: AwareDatetime = Field(description="event time; also the Kafka message timestamp")
    article_id: str
    title: str = ""
    url: str | None = None
    source: str
    published: AwareDatetime | None = None
    story_id: str | None = None

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes for Kafka."""
        return dumps(self)


@dataclass(frozen=True)
class SurgeCheck:
    """One window judged against its baseline: the mean of the windows before it."""

    count: int
    baseline: float
    threshold: float
    surging: bool


def subjects_of(article: Article) -> list[str]:
    """The article's distinct subjects: its canonical entities, then its topics.

    One count per article, not per mention: a surge means more *articles* about a subject. A long
    article that names someone twenty times is one article about them, and counting mentions would
    let a single piece (or a feed that repeats a name in every paragraph) look like a surge.
    """
    subjects = [f"{ENTITY}{m.canonical_id}" for m in article.entities]
    subjects.extend(f"{TOPIC}{t.id}" for t in article.topics)
    return list(dict.fromkeys(subjects))


def subject_value(subject: str) -> str:
    """The canonical entity id or topic id of a subject."""
    return subject.split(":", 1)[1]


def _label(article: Article, subject: str) -> str:
    value = subject_value(subject)
    if subject.startswith(ENTITY):
        return next((m.canonical_name for m in article.entities if m.canonical_id == value), value)
    return value


def surge_watches(watches: Iterable[CompiledWatch]) -> list[CompiledWatch]:
    """The active (surge, not paused) watches."""
    return [cw for cw in watches if cw.watch.surge is not None and not cw.watch.paused]


def counts_subject(cw: CompiledWatch, subject: str) -> bool:
    """Whether a surge watch counts this subject: one it names, or any when it names none."""
    if not (cw.entity_ids or cw.topics):
        return True
    value = subject_value(subject)
    if subject.startswith(ENTITY):
        return value in cw.entity_ids
    return subject.startswith(TOPIC) and value in cw.topics


def scope_of(watch: Watch) -> str:
    """The counting scope of a watch: "" for all articles, else its source/language restriction.

    Watches with the same scope share counts; a watch restricted to some sources gets its own.
    """
    parts = []
    if watch.sources:
        parts.append("sources=" + ",".join(sorted(watch.sources)))
    if watch.languages:
        parts.append("languages=" + ",".join(sorted(watch.languages)))
    return ";".join(parts)


def in_scope(watch: Watch, article: Article) -> bool:
    """Whether the article counts for the watch at all (its sources and languages)."""
    if watch.sources and article.source not in watch.sources:
        return False
    return not (watch.languages and article.language not in watch.languages)


def route(article: Article, watches: Iterable[CompiledWatch]) -> dict[str, list[str]]:
    """Subject → the sorted scopes it is counted under, for the subjects some surge watch counts."""
    out: dict[str, set[str]] = {}
    subjects = subjects_of(article)
    for cw in surge_watches(watches):
        if not in_scope(cw.watch, article):
            continue
        for subject in subjects:
            if counts_subject(cw, subject):
                out.setdefault(subject, set()).add(scope_of(cw.watch))
    return {subject: sorted(scopes) for subject, scopes in out.items()}


def mentions(article: Article, routes: dict[str, list[str]], at: datetime) -> list[SurgeMention]:
    """One message per routed subject, carrying the article fields an alert needs."""
    return [
        SurgeMention(
            subject=subject,
            label=_label(article, subject),
            scopes=scopes,
            at=at,
            article_id=article.id,
            title=article.title,
            url=article.url,
            source=article.source,
            published=article.published,
            story_id=article.story_id,
        )
        for subject, scopes in routes.items()
    ]


def event_time(article: Article, now: datetime) -> datetime:
    """When the article counts: published, else fetched; never after it was fetched, nor after now.

    Clamping to `fetched` (not only to `now`) keeps a future-dated article (a feed with a wrong time
    zone) at the same time on every redelivery, so its windows, and alert ids, do not move.
    """
    at = article.published or article.fetched
    return min(at, article.fetched, now)


def window_start(ts: float, size_s: float) -> float:
    """Start (epoch seconds) of the tumbling window of `size_s` seconds that holds `ts`."""
    return floor(ts / size_s) * size_s


def is_recent(start: float, size_s: float, now: float, windows: int = 1) -> bool:
    """Whether the window starting at `start` is the current one or one of the `windows` before it.

    Surge alerts report what is happening now: articles replayed from long ago (sample feeds, a
    backlog) still count, but they do not raise alerts about old windows.
    """
    return start >= window_start(now, size_s) - windows * size_s


def check(count: int, previous_counts: Sequence[int], spec: Surge) -> SurgeCheck:
    """Judge one window: surging when count >= min_count and count >= factor × baseline mean.

    `previous_counts` are the windows before it, newest first; the first `baseline_windows` are the
    baseline and missing ones count as 0. An all-zero baseline leaves `min_count` alone to decide.
    """
    n = spec.baseline_windows
    total = sum(previous_counts[:n])
    baseline = total / n
    threshold = max(float(spec.min_count), spec.factor * baseline)
    # the factor as written, in exact fractions: 1.1 × 50 is 55.00000000000001 in floats, and 55 must surge
    surging = count >= spec.min_count and count * n >= Fraction(str(spec.factor)) * total
    return SurgeCheck(count=count, baseline=baseline, threshold=threshold, surging=surging)


def evaluate(counts: Sequence[int], spec: Surge) -> SurgeCheck | None:
    """The current window's check when it starts a surge, else None.

    `counts` are newest first: the current window, then the `baseline_windows + 1` before it
    (missing ones count as 0). A surge starts when the current window surges and the previous one,
    against its own baseline, did not; so a surge lasting several windows fires once.
    """
    padded = [*counts, *([0] * (spec.baseline_windows + 2 - len(counts)))]
    current = check(padded[0], padded[1:], spec)
    if not current.surging:
        return None
    previous = check(padded[1], padded[2:], spec)
    return None if previous.surging else current


def _window_iso(start: float) -> str:
    return datetime.fromtimestamp(start, UTC).isoformat()


def surge_alert_id(watch_id: str, subject: str, start: float) -> str:
    """The id of the surge alert of this watch and subject for the window at `start`."""
    return Alert.make_id(watch_id, f"surge:{subject}:{_window_iso(start)}")


def surge_alert(watch: Watch, subject: str, start: float, result: SurgeCheck, mention: SurgeMention) -> Alert:
    """The alert for a surge that starts in the window at `start`, shown with the crossing article.

    The id depends on the watch, the subject and the window start only, so every later article of
    the window, and every redelivery, yields the same id (the alert store keeps the first).
    """
    spec = watch.surge or Surge()
    noun = "article" if result.count == 1 else "articles"
    return Alert(
        id=surge_alert_id(watch.id, subject, start),
        watch_id=watch.id,
        watch_name=watch.name or watch.id,
        owner=watch.owner,
        kind="surge",
        article_id=mention.article_id,
        story_id=mention.story_id,
        title=mention.title,
        url=mention.url,
        source=mention.source,
        published=mention.published,
        evidence=[
            Evidence(
                kind="surge",
                value=subject_value(subject),
                surface=f"{result.count} {noun} in {spec.window} (baseline {result.baseline:.1f})",
                snippet=mention.label,
                count=result.count,
            )
        ],
    )
