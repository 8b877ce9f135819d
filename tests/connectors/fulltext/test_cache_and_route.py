"""The URL cache (bounds, age) and the connector-side routing of short articles."""

from __future__ import annotations

from pathlib import Path

from connectors.fulltext import FullTextRouter, PageCache
from connectors.produce import MemoryPublisher
from pipeline.config import FeedConfig
from pipeline.models import Article
from pipeline.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cache_hit_miss_expiry_and_bound(tmp_path: Path) -> None:
    clock = Clock()
    cache = PageCache(tmp_path / "d" / "c.sqlite3", max_entries=3, ttl_s=60, clock=clock)
    assert cache.get("u1") is None
    cache.put("u1", {"kind": "page", "text": "نص"})
    assert cache.get("u1") == {"kind": "page", "text": "نص"}
    for i in range(2, 6):
        clock.now += 1
        cache.put(f"u{i}", {"i": i})
    assert len(cache) == 3 and cache.get("u1") is None and cache.get("u5") == {"i": 5}
    clock.now += 61
    assert cache.get("u5") is None
    assert (cache.hits, cache.misses) == (2, 3)
    reopened = PageCache(tmp_path / "d" / "c.sqlite3", max_entries=3, ttl_s=3600, clock=clock)
    assert reopened.get("u5") == {"i": 5}  # on disk


def test_disabled_cache_stores_nothing(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "c.sqlite3", max_entries=0, ttl_s=60)
    cache.put("u", {"a": 1})
    assert cache.get("u") is None and len(cache) == 0


def _article(source: str, n: int, summary: str = "قصير", body: str = "") -> Article:
    return Article(
        id=f"{source}-{n:08d}", source=source, url=f"https://{source}.example/{n}", summary=summary, body=body
    )


def test_router_sends_short_articles_to_the_fulltext_topic(tmp_path: Path) -> None:
    feeds = [
        FeedConfig(id="auto", url="https://auto.example/rss"),
        FeedConfig(id="always", url="https://always.example/rss", fulltext="always"),
        FeedConfig(id="never", url="https://never.example/rss", fulltext="never"),
    ]
    raw, page = MemoryPublisher(), MemoryPublisher()
    router = FullTextRouter(
        raw, page, feeds=feeds, settings=Settings(data_dir=tmp_path, fulltext_min_chars=50)
    )
    long = "ن" * 60
    articles = [
        _article("auto", 1),
        _article("auto", 2, body=long),
        _article("always", 3, body=long),
        _article("never", 4),
        _article("unknown", 5),  # not in feeds.yaml: auto
    ]
    assert router.publish(articles) == 5
    assert page.ids == ["auto-00000001", "always-00000003", "unknown-00000005"]
    assert raw.ids == ["auto-00000002", "never-00000004"]
    router.close()
    assert raw.closed and page.closed


def test_router_disabled_sends_everything_raw(tmp_path: Path) -> None:
    raw, page = MemoryPublisher(), MemoryPublisher()
    settings = Settings(data_dir=tmp_path, fulltext_enabled=False)
    router = FullTextRouter(raw, page, feeds=[], settings=settings)
    router.publish([_article("auto", 1)])
    assert raw.ids == ["auto-00000001"] and page.ids == []
