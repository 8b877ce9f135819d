"""connectors.state: atomic persistence and bounded seen ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.state import FeedState, forget_published
from pipeline.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_state_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "feeds" / "aljazeera.json"
    state = FeedState.load(path)
    assert state.etag is None and state.seen_ids == []
    state.mark_seen(["b", "a", "ج"])
    state.record_success(
        now=NOW, status=200, next_poll_at=NOW, etag='"e1"', last_modified="Sun, 01 Mar 2026", body_hash="h"
    )
    state.save()
    assert [p.name for p in path.parent.iterdir()] == ["aljazeera.json"]  # no temp file left behind
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["seen_ids"] == ["b", "a", "ج"] and raw["version"] == 1
    again = FeedState.load(path)
    assert (again.etag, again.last_modified, again.body_hash, again.last_status) == (
        '"e1"',
        "Sun, 01 Mar 2026",
        "h",
        200,
    )
    assert again.next_poll_at == NOW and again.last_polled_at == NOW
    assert again.seen_ids == ["b", "a", "ج"] and again.is_seen("ج") and not again.is_seen("z")


def test_failures_count_and_keep_validators(tmp_path: Path) -> None:
    state = FeedState.load(tmp_path / "f.json")
    state.record_success(now=NOW, status=200, next_poll_at=NOW, etag="e", last_modified="lm")
    for _ in range(3):
        state.record_failure(now=NOW, error="NetworkError: down", kind="network", next_poll_at=NOW)
    state.save()
    again = FeedState.load(tmp_path / "f.json")
    assert again.consecutive_failures == 3 and again.last_error_kind == "network"
    assert (again.etag, again.last_modified) == ("e", "lm")
    again.record_success(now=NOW, status=304, next_poll_at=NOW, not_modified=True)
    assert again.consecutive_failures == 0 and again.etag == "e"  # 304 keeps the validators


@pytest.mark.parametrize(
    ("limit", "marked", "expected"),
    [
        (10, [str(i) for i in range(25)], [str(i) for i in range(15, 25)]),
        (10, ["a", "b", "c"], ["a", "b", "c"]),
        (3, ["a", "b", "c", "a", "d"], ["c", "a", "d"]),  # re-marking refreshes "a", so "b" goes first
    ],
)
def test_seen_ids_are_bounded_oldest_first(
    tmp_path: Path, limit: int, marked: list[str], expected: list[str]
) -> None:
    state = FeedState.load(tmp_path / "s.json", max_seen=limit)
    state.mark_seen(marked)
    assert state.seen_ids == expected
    state.save()
    assert FeedState.load(tmp_path / "s.json", max_seen=limit).seen_ids == expected


def test_lower_limit_on_load_trims(tmp_path: Path) -> None:
    state = FeedState.load(tmp_path / "s.json", max_seen=100)
    state.mark_seen(str(i) for i in range(50))
    state.save()
    assert FeedState.load(tmp_path / "s.json", max_seen=10).seen_ids == [str(i) for i in range(40, 50)]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe\x00"])
def test_corrupt_state_is_set_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    state = FeedState.load(path)
    assert state.seen_ids == [] and state.etag is None
    assert (tmp_path / "bad.json.corrupt").read_bytes() == content


def test_for_feed_uses_settings_and_stays_inside_state_dir(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(seen_ids_per_feed=10, fetch_max_entries=5)
    state = FeedState.for_feed(settings, "../../etc/evil")
    assert state.path.parent == settings.state_dir and state.max_seen == 10
    state.save()
    assert state.path.is_file()


def test_not_found_streak_and_gone_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "feeds" / "old.json"
    state = FeedState.load(path)
    for status in (404, 404, 500, 404, 404):
        state.record_failure(now=NOW, error="x", kind="http", next_poll_at=NOW, status=status)
    assert state.consecutive_not_found == 2 and state.consecutive_failures == 5  # a 500 breaks the 404 run
    state.mark_gone("cfg-1")
    state.save()
    again = FeedState.load(path)
    assert again.gone and again.is_gone("cfg-1") and not again.is_gone("cfg-2")
    assert again.consecutive_not_found == 2 and again.next_poll_at is None
    again.revive()
    assert not again.gone and again.consecutive_failures == 0 and again.gone_config is None
    again.record_success(now=NOW, status=200, next_poll_at=NOW)
    assert again.consecutive_not_found == 0


def test_a_fresh_broker_forgets_what_was_published_but_not_the_back_off(tmp_path: Path) -> None:
    """What the old (memory-only) broker received is not on the new one: publish it again."""
    published = FeedState.load(tmp_path / "a.json")
    published.mark_seen(["x", "y"])
    published.record_success(
        now=NOW, status=200, next_poll_at=NOW, etag="e", last_modified="lm", body_hash="h"
    )
    published.save()
    failing = FeedState.load(tmp_path / "b.json")
    failing.record_failure(now=NOW, error="NetworkError: down", kind="network", next_poll_at=NOW, status=None)
    failing.mark_gone("cfg")
    failing.save()
    before = (tmp_path / "b.json").read_bytes()
    assert forget_published(tmp_path) == 1
    again = FeedState.load(tmp_path / "a.json")
    assert again.seen_ids == [] and (again.etag, again.last_modified, again.body_hash) == (None, None, None)
    assert again.last_status == 200 and again.next_poll_at == NOW
    assert (tmp_path / "b.json").read_bytes() == before  # nothing to forget: untouched, still gone
    assert forget_published(tmp_path / "absent") == 0
