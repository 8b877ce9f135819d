"""connectors.replay over the bundled fixture feeds and over bad inputs."""

from __future__ import annotations

from pathlib import Path

from connectors.parse import parse_feed
from connectors.produce import MemoryPublisher
from connectors.replay import replay_paths
from connectors.state import FeedState
from pipeline.config import FeedConfig
from pipeline.errors import PublishError
from pipeline.settings import Settings
from tests.connectors.conftest import DATA, FIXTURES, fixture_feeds


def _unique_ids() -> set[str]:
    ids: set[str] = set()
    for feed in fixture_feeds():
        ids.update(a.id for a in parse_feed(feed.path.read_bytes(), source=feed.source).articles)
    return ids


def test_replay_fixture_directory(settings: Settings) -> None:
    publisher = MemoryPublisher()
    report = replay_paths([FIXTURES], publisher=publisher, settings=settings)
    expected = _unique_ids()
    assert all(f.error is None for f in report.files), [f.error for f in report.files if f.error]
    assert len(report.files) == len(
        fixture_feeds()
    )  # PROVENANCE.tsv lists every feed file, nothing else replayed
    assert report.entries == sum(f.items for f in fixture_feeds())
    assert report.published == len(publisher.articles) == len(expected)
    assert set(publisher.ids) == expected
    assert {a.source for a in publisher.articles} == {f.source for f in fixture_feeds()}
    assert all(a.feed_url and a.feed_url.startswith("file:///") for a in publisher.articles)
    assert all(a.language == "ar" for a in publisher.articles)
    [seed] = [a for a in publisher.articles if a.source == "seed"]
    assert "بوتين" in seed.title and "بوتين" in seed.body

    again = replay_paths([FIXTURES], publisher=publisher, settings=settings)
    assert again.published == 0 and again.entries == report.entries
    assert len(FeedState.for_feed(settings, "aljazeera").seen_ids) == 20


def test_replay_uses_configured_language(settings: Settings) -> None:
    publisher = MemoryPublisher()
    feeds = [FeedConfig(id="seed", url="https://example.invalid/seed/", language="ar-x-test")]
    replay_paths([FIXTURES / "seed"], publisher=publisher, settings=settings, feeds=feeds)
    assert [a.language for a in publisher.articles] == ["ar-x-test"]


def test_bad_files_are_reported_not_fatal(settings: Settings, tmp_path: Path) -> None:
    src = tmp_path / "mixed"
    src.mkdir()
    (src / "a-garbage.xml").write_bytes(b"\x00\x01 not xml")
    (src / "b-page.xml").write_bytes((DATA / "page.html").read_bytes())
    (src / "c-good.atom").write_bytes((DATA / "atom.xml").read_bytes())
    (src / "notes.txt").write_text("ignored in a directory walk", encoding="utf-8")
    loose = tmp_path / "loose.txt"
    loose.write_text("given explicitly", encoding="utf-8")
    publisher = MemoryPublisher()
    report = replay_paths([src, loose, tmp_path / "missing"], publisher=publisher, settings=settings)
    errors = {f.path.name: f.error for f in report.files}
    assert set(errors) == {"a-garbage.xml", "b-page.xml", "c-good.atom", "loose.txt", "missing"}
    assert errors["a-garbage.xml"] and "FeedParseError" in errors["a-garbage.xml"]
    assert errors["b-page.xml"] and "FeedParseError" in errors["b-page.xml"]
    assert errors["c-good.atom"] is None
    assert errors["loose.txt"] and "unsupported" in errors["loose.txt"]
    assert errors["missing"] == "no such file or directory"
    assert report.published == 2 and {a.source for a in publisher.articles} == {"mixed"}
    assert len(report.failed) == 4


def test_jsonl_articles_are_replayed(settings: Settings, tmp_path: Path) -> None:
    articles = parse_feed((FIXTURES / "seed" / "seed-article.xml").read_bytes(), source="seed").articles
    articles += parse_feed((DATA / "bozo.xml").read_bytes(), source="bozo").articles
    path = tmp_path / "dump" / "articles.jsonl"
    path.parent.mkdir()
    lines = [a.to_json() for a in articles] + [b'{"id": "short"}', b"not json", b""]
    path.write_bytes(b"\n".join(lines))
    publisher = MemoryPublisher()
    report = replay_paths([path], publisher=publisher, settings=settings)
    [result] = report.files
    assert result.published == 3 and len(result.warnings) == 2 and result.error is None
    assert publisher.articles == articles  # sources and every field survive the JSON round trip
    assert FeedState.for_feed(settings, "bozo").seen_ids == [a.id for a in articles if a.source == "bozo"]


def test_publish_failure_leaves_ids_unseen(settings: Settings) -> None:
    failing = MemoryPublisher()
    failing.fail_with = PublishError("broker down")
    report = replay_paths([FIXTURES / "seed"], publisher=failing, settings=settings)
    assert report.published == 0 and report.files[0].error == "PublishError: broker down"
    assert FeedState.for_feed(settings, "seed").seen_ids == []
    publisher = MemoryPublisher()
    assert replay_paths([FIXTURES / "seed"], publisher=publisher, settings=settings).published == 1
