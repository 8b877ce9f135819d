"""Real Arabic articles for the search tests: the Vostochny seed article and items from sample feeds.

Text comes verbatim from `data/` (see `data/README.md`); entities and topics are set by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.ids import article_id
from pipeline.models import Article, EntityMention, EntityType, TextField, TopicScore

DATA = Path(__file__).parent / "data"
PROTECTED = ["بوتين", "كيم", "روسيا", "لبنان", "إيران", "ترمب", "ترامب", "أوكرانيا", "أبوظبي"]

PUTIN, KIM, RUSSIA, UKRAINE = "Q7747", "Q56226", "Q159", "Q212"
IRAN, LEBANON, TRUMP = "Q794", "Q822", "Q22686"
NAMES = {
    PUTIN: ("فلاديمير بوتين", "PER"),
    KIM: ("كيم جونغ أون", "PER"),
    RUSSIA: ("روسيا", "LOC"),
    IRAN: ("إيران", "LOC"),
    LEBANON: ("لبنان", "LOC"),
    TRUMP: ("دونالد ترامب", "PER"),
    UKRAINE: ("أوكرانيا", "LOC"),
}
SEED_ID = "seed-vostochny-2023"

# feed item title -> (entities, topics, language); the title text itself is read from data/feed-items.json
_ITEM_ANNOTATIONS: dict[str, tuple[list[tuple[str, str]], list[str], str | None]] = {
    "روسيا تحذر من امتداد حرب إيران إلى بحر قزوين": (
        [(RUSSIA, "روسيا"), (IRAN, "إيران")],
        ["conflict"],
        "ar",
    ),
    "مصدر يكشف مناقشة نقطة وقف الهجمات بين روسيا وأوكرانيا بمحادثات أبوظبي الثلاثية": (
        [(RUSSIA, "روسيا"), (UKRAINE, "وأوكرانيا")],
        ["conflict", "diplomacy"],
        "ar",
    ),
    "غارات إسرائيلية على عدة مناطق في جنوب لبنان": ([(LEBANON, "لبنان")], ["conflict"], "ar"),
    "إيران تؤكد التقدم في مفاوضات جنيف وترمب يدرس الخيارات العسكرية": (
        [(IRAN, "إيران"), (TRUMP, "وترمب")],
        ["diplomacy"],
        "ar",
    ),
    "6 قتلى و29 مصابا في غارات إسرائيلية على مناطق في صور وصيدا جنوب لبنان": (
        [(LEBANON, "لبنان")],
        ["conflict"],
        "ar",
    ),
    "النفط يقفز فوق 106 دولارات بعد خطاب ترمب وتهديده إيران": (
        [(TRUMP, "ترمب"), (IRAN, "إيران")],
        ["economy"],
        "ar",
    ),
    # language left unknown, as a feed without <language> would leave it
    "ترامب يلوح باتفاق وشيك مع إيران | الحرة": ([(TRUMP, "ترامب"), (IRAN, "إيران")], ["diplomacy"], None),
}


def mention(article: Article, field: TextField, surface: str, canonical_id: str) -> EntityMention:
    """An entity mention at the first place `surface` is written in `field`."""
    start = article.text_of(field).index(surface)
    name, etype = NAMES[canonical_id]
    entity_type: EntityType = "PER" if etype == "PER" else "LOC"
    return EntityMention(
        type=entity_type,
        surface=surface,
        canonical_id=canonical_id,
        canonical_name=name,
        field=field,
        start=start,
        end=start + len(surface),
    )


def _seed() -> Article:
    lines = (DATA / "seed-article-ar.txt").read_text(encoding="utf-8").strip().splitlines()
    article = Article(
        id=SEED_ID,
        source="arabicpost",
        url="https://arabicpost.net/seed/vostochny",
        title=lines[2],  # the article's own subhead: كيم وبوتين سيناقشان "كل القضايا"
        summary=lines[0],
        body="\n".join(lines[1:]),
        language="ar",
        published=datetime(2023, 9, 13, 9, 30, tzinfo=UTC),
        topics=[TopicScore(id="diplomacy", score=0.9), TopicScore(id="space", score=0.7)],
    )
    article.entities = [
        mention(article, "summary", "بوتين", PUTIN),
        mention(article, "title", "وبوتين", PUTIN),
        mention(article, "summary", "كيم جونغ أون", KIM),
        mention(article, "body", "روسيا", RUSSIA),
        mention(article, "body", "أوكرانيا", UKRAINE),
    ]
    return article


def _feed_item(raw: dict[str, Any]) -> Article:
    entities, topics, language = _ITEM_ANNOTATIONS[raw["title"]]
    article = Article(
        id=article_id(raw["url"]),
        source=raw["source"],
        url=raw["url"],
        title=raw["title"],
        summary=raw["summary"],
        language=language,
        published=datetime.fromisoformat(raw["published"]),
        topics=[TopicScore(id=t, score=0.8) for t in topics],
    )
    article.entities = [
        mention(article, "title" if surface in article.title else "summary", surface, cid)
        for cid, surface in entities
    ]
    return article


def build_corpus() -> list[Article]:
    """The seed article first, then the feed items in file order."""
    items = json.loads((DATA / "feed-items.json").read_text(encoding="utf-8"))
    return [_seed(), *(_feed_item(raw) for raw in items)]
