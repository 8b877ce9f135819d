"""Message schemas shared by the connector, the agents, the search backends and the CLI.

Every message on a Kafka topic is one of these models as UTF-8 JSON (never ASCII-escaped) carrying a
`schema_version`, so consumers can refuse what they do not understand.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "AlsoReported",
    "Article",
    "Condition",
    "DeadLetter",
    "EntityMention",
    "EntityType",
    "Evidence",
    "FullTextOutcome",
    "FullTextStatus",
    "Surge",
    "TextField",
    "TopicScore",
    "Watch",
    "dumps",
    "parse_duration",
    "utcnow",
]

SCHEMA_VERSION = 1

EntityType = Literal["PER", "ORG", "LOC"]
TextField = Literal["title", "summary", "body"]
FullTextStatus = Literal["extracted", "fallback", "blocked_by_robots", "failed", "skipped"]


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


def dumps(model: BaseModel) -> bytes:
    """Serialise a model as compact UTF-8 JSON; Arabic stays Arabic (ASCII escaping is 2.35x larger).

    pydantic's own serializer writes the bytes directly, 4.4x faster than ``json.dumps`` of
    ``model_dump(mode="json")`` (the indexer pays it once per article) and byte-identical to it on
    1,000 enriched articles; only float exponents are spelled differently (``1e-7``, not ``1e-07``).
    """
    return model.__pydantic_serializer__.to_json(model)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False)

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION or value < 1:
            raise ValueError(f"unsupported schema_version {value} (this build reads <= {SCHEMA_VERSION})")
        return value

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes for Kafka and files."""
        return dumps(self)


class EntityMention(BaseModel):
    """One entity mention; offsets index the original (display) text of `field`, never a normalised form."""

    type: EntityType
    surface: str
    canonical_id: str
    canonical_name: str
    field: TextField
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class TopicScore(BaseModel):
    """A topic from `config/topics.yaml` with a score in [0, 1]."""

    id: str
    score: float = Field(ge=0.0, le=1.0)


class FullTextOutcome(BaseModel):
    """What the full-text stage did for one article (`connectors/fulltext/`).

    `extracted`: the page's main text is the body now; `fallback`: the page was fetched but its
    extraction failed or yielded less than the feed, which is kept; `blocked_by_robots`: robots.txt
    forbids (or, unreachable, does not yet allow) the fetch; `failed`: the fetch failed; `skipped`: not
    attempted or not an HTML page. `reason` says why in words; `chars` is the extracted text's length.
    """

    status: FullTextStatus
    reason: str = ""
    chars: int = Field(default=0, ge=0)
    final_url: str | None = None
    http_status: int | None = None
    author: str | None = None
    cached: bool = False


_SURROGATE = re.compile("[\ud800-\udfff]")


class Article(_Message):
    """A news article as it travels the pipeline: raw from the connector, then enriched."""

    id: str = Field(min_length=8)
    source: str = Field(min_length=1, description="feed id from config/feeds.yaml")
    feed_url: str | None = None
    url: str | None = None
    guid: str | None = None
    title: str = ""
    summary: str = ""
    body: str = ""
    language: str | None = None
    published: AwareDatetime | None = None
    fetched: AwareDatetime = Field(default_factory=utcnow)
    truncated: bool = Field(
        default=False, description="title, summary or body was cut to a size limit (parse cap, record size)"
    )
    # enrichment
    entities: list[EntityMention] = Field(default_factory=list)
    topics: list[TopicScore] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    story_id: str | None = Field(default=None, description="cluster of near-duplicate copies of one story")
    duplicate_of: str | None = Field(
        default=None, description="id of the closest earlier copy, when a duplicate"
    )
    enriched_at: AwareDatetime | None = None
    fulltext: FullTextOutcome | None = Field(default=None, description="outcome of the full-text stage")

    @field_validator("source", "feed_url", "url", "guid", "title", "summary", "body", "language")
    @classmethod
    def _no_lone_surrogates(cls, value: str | None) -> str | None:
        """A lone surrogate (from a Python caller; JSON and the connector never give one) becomes
        U+FFFD, one character for one, so the article can be written as UTF-8 and offsets hold."""
        if value is not None and _SURROGATE.search(value):
            return _SURROGATE.sub("\ufffd", value)
        return value

    @field_validator("url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        """Only an http(s) link is kept: the UI and alerts make it a link, and a `javascript:` or
        `data:` one (a replayed file, another producer) would run there. The feed parser keeps only
        http(s) links already."""
        if value is None:
            return None
        scheme, colon, _ = value.strip().partition(":")
        return value if colon and scheme.lower() in ("http", "https") else None

    def text_of(self, field: TextField) -> str:
        """The original text of one field."""
        value: str = getattr(self, field)
        return value

    def content_hash(self) -> str:
        """Hash of the displayed text, to tell a changed article from a redelivered one."""
        payload = "\x1f".join((self.title, self.summary, self.body)).encode()
        return hashlib.blake2b(payload, digest_size=16).hexdigest()


class Evidence(BaseModel):
    """Why a watch fired: what matched, as written in the article, with context."""

    kind: Literal["entity", "topic", "word", "surge"]
    value: str = Field(description="canonical id, topic id, the watched phrase or the surging subject")
    surface: str = Field(default="", description="the text as written in the article")
    field: TextField | None = None
    snippet: str = ""
    count: int = Field(default=1, ge=0, description="mentions in the article (or in the window, for a surge)")


def _valid_text(value: Any) -> Any:
    """Refuse lone surrogates (JSON "\\ud800" decodes to one): they cannot be stored as UTF-8."""
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(t, str) and _SURROGATE.search(t) for t in texts):
        raise ValueError("text must be valid Unicode (a lone surrogate is not)")
    return value


MAX_PHRASE_WORDS = 20
MAX_ITEM_CHARS = 200


class Condition(BaseModel):
    """A set of entities (canonical ids or known names), topic ids and Arabic words/phrases."""

    model_config = ConfigDict(extra="forbid")

    entities: list[str] = Field(default_factory=list, description="canonical ids or known name variants")
    topics: list[str] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list, description="Arabic words or phrases, matched normalised")

    @field_validator("words", "entities", "topics")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in _valid_text(value)]
        if any(not v for v in cleaned):
            raise ValueError("blank entries are not allowed")
        # bounds: a phrase is compared word by word wherever its first word occurs in an article
        if any(len(v) > MAX_ITEM_CHARS or len(v.split()) > MAX_PHRASE_WORDS for v in cleaned):
            raise ValueError(f"entries are at most {MAX_PHRASE_WORDS} words and {MAX_ITEM_CHARS} characters")
        return list(dict.fromkeys(cleaned))

    def is_empty(self) -> bool:
        return not (self.entities or self.topics or self.words)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DURATION_S = 100 * 366 * 86400


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `1h`, `30d` → timedelta; anything else is a ValueError naming the value."""
    m = _DURATION.match(text)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"bad duration {text!r}: use a positive number with s, m, h or d (e.g. 1h, 30d)")
    seconds = int(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds > _MAX_DURATION_S:  # timedelta and date arithmetic overflow long before digits run out
        raise ValueError(f"bad duration {text!r}: at most 100 years")
    return timedelta(seconds=seconds)


MAX_SURGE_LOOKBACK_DAYS = 35


class Surge(BaseModel):
    """Fire when a subject's mentions in the current window exceed its recent baseline.

    Subjects are the watch's `any_of` entities and topics (all entities and topics when it has none).
    A surge: count >= min_count and count >= factor × mean of the previous `baseline_windows`
    windows. It fires once per surge; the subject must fall back below the threshold for a whole
    window before it can fire again.
    """

    model_config = ConfigDict(extra="forbid")

    window: str = Field(default="1h", description="window size: 15m, 1h, 1d …")
    baseline_windows: int = Field(default=6, ge=1, le=1000)
    factor: float = Field(default=3.0, ge=1.0, le=1000.0)
    min_count: int = Field(default=5, ge=1)

    @field_validator("window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        if parse_duration(value) < timedelta(minutes=1):
            raise ValueError("window must be at least 1m")
        return value.strip()

    @model_validator(mode="after")
    def _bounded_memory(self) -> Surge:
        """Each counted mention is remembered for window × (baseline_windows + 2), to count it once:
        a longer look-back is memory that grows with every article for that long."""
        days = self.window_s * (self.baseline_windows + 2) / 86_400
        if days > MAX_SURGE_LOOKBACK_DAYS:
            raise ValueError(
                f"window × (baseline_windows + 2) is {days:g} days; at most {MAX_SURGE_LOOKBACK_DAYS} "
                "(e.g. 1d with 30 baseline windows, or 1h with 800)"
            )
        return self

    @property
    def window_s(self) -> float:
        return parse_duration(self.window).total_seconds()


class Watch(BaseModel):
    """A standing question over enriched articles.

    `any_of`: at least one item must be found; `all_of`: every item must be found; `none_of`: no
    item may be found. The top-level `entities`/`topics`/`words` are shorthand for `any_of`.
    `sources`/`languages` restrict the articles considered; `min_mentions` asks for that many
    mentions of the watched entities/words in one article. A watch with `surge` fires on a rise in
    mentions over time instead of on single articles.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="letters, digits, _ . -; not only dots")
    name: str = ""
    owner: str = ""
    entities: list[str] = Field(default_factory=list, description="shorthand for any_of.entities")
    topics: list[str] = Field(default_factory=list, description="shorthand for any_of.topics")
    words: list[str] = Field(default_factory=list, description="shorthand for any_of.words")
    any_of: Condition = Field(default_factory=Condition)
    all_of: Condition = Field(default_factory=Condition)
    none_of: Condition = Field(default_factory=Condition)
    sources: list[str] = Field(default_factory=list, description="restrict to these feed ids")
    languages: list[str] = Field(default_factory=list, description="restrict to these languages")
    min_mentions: int = Field(default=1, ge=1, le=1000)
    surge: Surge | None = None
    channels: list[str] = Field(default_factory=lambda: ["log", "jsonl"])
    paused: bool = False

    _unicode = field_validator(
        "name", "owner", "entities", "topics", "words", "sources", "languages", "channels"
    )(_valid_text)

    @field_validator("id")
    @classmethod
    def _not_a_path_step(cls, value: str) -> str:
        """`.` and `..` would be normalised away in the watch's URLs (/watches/..)."""
        if not value.strip("."):
            raise ValueError("a watch id cannot be only dots")
        return value

    @model_validator(mode="after")
    def _fold_shorthand(self) -> Watch:
        """Merge the shorthand lists into `any_of`, so matching has one place to look."""
        if self.entities or self.topics or self.words:
            merged = Condition(
                entities=[*self.any_of.entities, *self.entities],
                topics=[*self.any_of.topics, *self.topics],
                words=[*self.any_of.words, *self.words],
            )
            object.__setattr__(self, "any_of", merged)
            for name in ("entities", "topics", "words"):
                object.__setattr__(self, name, [])
        if self.surge is None and self.any_of.is_empty() and self.all_of.is_empty():
            if self.none_of.is_empty():
                raise ValueError("empty condition: give any_of, all_of (or entities/topics/words) or surge")
            raise ValueError("none_of alone would match every article: add any_of or all_of")
        if self.surge is not None and (self.any_of.words or not self.all_of.is_empty()):
            raise ValueError("a surge watch counts entities and topics: use any_of.entities/topics only")
        if self.surge is not None and (not self.none_of.is_empty() or self.min_mentions != 1):
            raise ValueError("a surge watch counts mentions over time: none_of and min_mentions do not apply")
        return self

    def has_condition(self) -> bool:
        """Validation guarantees a condition; kept for callers that check before compiling."""
        return bool(self.surge) or not (self.any_of.is_empty() and self.all_of.is_empty())


class AlsoReported(BaseModel):
    """Another copy of the alerted story (syndicated or rewritten by another source)."""

    article_id: str
    source: str
    url: str | None = None
    title: str = ""


class Alert(_Message):
    """A watch fired for a story; one per (watch, story), whatever the redeliveries and copies."""

    id: str
    watch_id: str
    watch_name: str = ""
    owner: str = ""
    kind: Literal["article", "surge"] = "article"
    article_id: str
    story_id: str | None = None
    title: str
    url: str | None = None
    source: str
    published: AwareDatetime | None = None
    evidence: list[Evidence]
    also: list[AlsoReported] = Field(default_factory=list, description="other sources with the story")
    created: AwareDatetime = Field(default_factory=utcnow)

    @staticmethod
    def make_id(watch_id: str, subject_id: str) -> str:
        """Deterministic id from the watch and the story (or surge episode) it fired for."""
        return hashlib.blake2b(f"{watch_id}\x00{subject_id}".encode(), digest_size=12).hexdigest()


class DeadLetter(_Message):
    """A message a stage could not process, parked with the reason and the original payload."""

    stage: str
    error: str
    error_type: str
    key: str | None = None
    payload: str = Field(description="the original message, decoded as UTF-8 with replacement")
    payload_truncated: bool = Field(
        default=False, description="the payload was cut so the letter fits in a record: it cannot be replayed"
    )
    failed_at: AwareDatetime = Field(default_factory=utcnow)

    @classmethod
    def from_failure(
        cls, *, stage: str, exc: BaseException, key: bytes | str | None, payload: Any
    ) -> DeadLetter:
        """Build a dead letter from whatever the stage received (lone surrogates become U+FFFD, so
        it can be written as UTF-8); `pipeline.records.fit_letter` fits it to a record."""
        if isinstance(payload, bytes | bytearray):
            text = bytes(payload).decode("utf-8", errors="replace")
        elif isinstance(payload, BaseModel):
            text = payload.model_dump_json()
        else:
            text = str(payload)
        key_text = key.decode("utf-8", errors="replace") if isinstance(key, bytes) else key
        return cls(
            stage=stage,
            error=_SURROGATE.sub("\ufffd", str(exc)[:2000]),
            error_type=type(exc).__name__,
            key=None if key_text is None else _SURROGATE.sub("\ufffd", key_text)[:1000],
            payload=_SURROGATE.sub("\ufffd", text),
        )
