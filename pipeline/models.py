"""Message schemas shared by the connector, the agents, the search backends and the CLI.

Every message on a Kafka topic is one of these models as UTF-8 JSON (never ASCII-escaped) carrying a
`schema_version`, so consumers can refuse what they do not understand.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "Article",
    "DeadLetter",
    "EntityMention",
    "EntityType",
    "Evidence",
    "TextField",
    "TopicScore",
    "Watch",
    "dumps",
    "utcnow",
]

SCHEMA_VERSION = 1

EntityType = Literal["PER", "ORG", "LOC"]
TextField = Literal["title", "summary", "body"]


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


def dumps(model: BaseModel) -> bytes:
    """Serialise a model as compact UTF-8 JSON; Arabic stays Arabic (ASCII escaping is 2.35x larger)."""
    return json.dumps(model.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()


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
    # enrichment
    entities: list[EntityMention] = Field(default_factory=list)
    topics: list[TopicScore] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    story_id: str | None = Field(default=None, description="cluster of near-duplicate copies of one story")
    duplicate_of: str | None = Field(
        default=None, description="id of the closest earlier copy, when a duplicate"
    )
    enriched_at: AwareDatetime | None = None

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

    kind: Literal["entity", "topic", "word"]
    value: str = Field(description="canonical id, topic id or the watched phrase")
    surface: str = Field(default="", description="the text as written in the article")
    field: TextField | None = None
    snippet: str = ""


class Watch(BaseModel):
    """A standing question: alert when an article mentions any of these entities, topics or words."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = ""
    owner: str = ""
    entities: list[str] = Field(default_factory=list, description="canonical ids or known name variants")
    topics: list[str] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list, description="Arabic words or phrases, matched normalised")
    sources: list[str] = Field(default_factory=list, description="restrict to these feed ids")
    languages: list[str] = Field(default_factory=list, description="restrict to these languages")
    channels: list[str] = Field(default_factory=lambda: ["log", "jsonl"])
    paused: bool = False

    @field_validator("words", "entities", "topics")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v for v in cleaned):
            raise ValueError("blank entries are not allowed")
        return cleaned

    def has_condition(self) -> bool:
        """A watch with no entity, topic or word would fire on nothing; it is rejected at load."""
        return bool(self.entities or self.topics or self.words)


class Alert(_Message):
    """A watch fired for an article; one per (watch, article), whatever the redeliveries."""

    id: str
    watch_id: str
    watch_name: str = ""
    article_id: str
    title: str
    url: str | None = None
    source: str
    published: AwareDatetime | None = None
    evidence: list[Evidence]
    created: AwareDatetime = Field(default_factory=utcnow)

    @staticmethod
    def make_id(watch_id: str, article_id: str) -> str:
        """Deterministic id, so a re-fired alert is recognised as the same alert."""
        return hashlib.blake2b(f"{watch_id}\x00{article_id}".encode(), digest_size=12).hexdigest()


class DeadLetter(_Message):
    """A message a stage could not process, parked with the reason and the original payload."""

    stage: str
    error: str
    error_type: str
    key: str | None = None
    payload: str = Field(description="the original message, decoded as UTF-8 with replacement")
    failed_at: AwareDatetime = Field(default_factory=utcnow)

    @classmethod
    def from_failure(
        cls, *, stage: str, exc: BaseException, key: bytes | str | None, payload: Any
    ) -> DeadLetter:
        """Build a dead letter from whatever the stage received."""
        if isinstance(payload, bytes | bytearray):
            text = bytes(payload).decode("utf-8", errors="replace")
        elif isinstance(payload, BaseModel):
            text = payload.model_dump_json()
        else:
            text = str(payload)
        key_text = key.decode("utf-8", errors="replace") if isinstance(key, bytes) else key
        return cls(
            stage=stage, error=str(exc)[:2000], error_type=type(exc).__name__, key=key_text, payload=text
        )
