from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.ids import article_id, canonical_url
from pipeline.models import (
    Alert,
    Article,
    DeadLetter,
    EntityMention,
    Evidence,
    Surge,
    TopicScore,
    Watch,
    dumps,
)


def _article() -> Article:
    return Article(
        id=article_id("https://arabic.rt.com/world/1-بوتين/"),
        source="rt_arabic",
        url="https://arabic.rt.com/world/1-بوتين/",
        title="بوتين يستقبل كيم جونغ أون في «فوستوتشني»",
        summary="تعهّد الرئيس الروسي فلاديمير بوتين",
        published=datetime(2023, 9, 13, 8, 0, tzinfo=timezone(timedelta(hours=3))),
        entities=[
            EntityMention(
                type="PER",
                surface="بوتين",
                canonical_id="Q7747",
                canonical_name="فلاديمير بوتين",
                field="title",
                start=0,
                end=5,
            )
        ],
        topics=[TopicScore(id="space", score=0.7)],
        keywords=["بوتين"],
    )


def test_json_round_trip_is_lossless_and_utf8() -> None:
    a = _article()
    raw = a.to_json()
    assert "بوتين".encode() in raw  # not \u escaped
    assert b"\\u" not in raw
    back = Article.model_validate_json(raw)
    assert back == a
    assert back.published is not None and back.published.utcoffset() == timedelta(hours=3)


def test_json_is_compact_utf8_and_the_same_values_as_stdlib_json() -> None:
    # indexes and messages store these bytes: the fast serializer must keep them compact, unescaped
    # and equal in value to the stdlib's (only float exponents are spelled differently: 1e-7)
    a = _article().model_copy(
        update={
            "title": 'سطر\u2028«اقتباس» "x" \\ \t',
            "summary": "🚀",
            "topics": [TopicScore(id="space", score=0.1 + 0.2), TopicScore(id="x", score=1e-7)],
        }
    )
    expected = json.dumps(a.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()
    raw = a.to_json()
    assert json.loads(raw) == json.loads(expected)
    assert len(raw) == len(expected) - 1  # 1e-07 -> 1e-7; everything else byte for byte
    assert "«اقتباس»".encode() in raw and b"\\u" not in raw and b", " not in raw


def test_timestamps_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError):
        Article(id="x" * 32, source="s", published=datetime(2023, 9, 13, 8, 0))
    assert _article().fetched.tzinfo is not None


def test_unknown_future_schema_version_is_refused() -> None:
    data = json.loads(_article().to_json())
    data["schema_version"] = 99
    with pytest.raises(ValidationError, match="schema_version"):
        Article.model_validate(data)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://Example.COM/a/b?utm_source=x&id=3#frag", "https://example.com/a/b?id=3"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("https://arabic.rt.com/world/1-%D8%A8/", "https://arabic.rt.com/world/1-%d8%a8/"),
        ("https://arabic.rt.com/world/1-%D8%A8/", "https://arabic.rt.com/world/1-ب/"),
        ("https://x.com/?b=2&a=1", "https://x.com/?a=1&b=2"),
        (
            "https://www.aljazeera.net/news/2026/2/27/x?traffic_source=rss",
            "https://www.aljazeera.net/news/2026/2/27/x",
        ),
    ],
)
def test_id_is_stable_across_url_spellings(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)
    assert article_id(a) == article_id(b)


def test_id_falls_back_to_guid_scoped_by_source() -> None:
    assert article_id(None, "tag:1", source="a") == article_id("", "tag:1", source="a")
    assert article_id(None, "tag:1", source="a") != article_id(None, "tag:1", source="b")
    assert article_id("https://x.com/1", "tag:1") != article_id(None, "tag:1")
    with pytest.raises(ValueError):
        article_id(None, None)


def test_alert_id_is_deterministic() -> None:
    assert Alert.make_id("w", "a") == Alert.make_id("w", "a") != Alert.make_id("w", "b")
    alert = Alert(
        id=Alert.make_id("w", "a"),
        watch_id="w",
        article_id="a",
        title="t",
        source="s",
        evidence=[Evidence(kind="word", value="هدنة", surface="الهدنة")],
        created=datetime.now(UTC),
    )
    assert Alert.model_validate_json(alert.to_json()) == alert


def test_dead_letter_keeps_undecodable_payload() -> None:
    dl = DeadLetter.from_failure(stage="decode", exc=ValueError("bad"), key=b"k", payload=b"\xff\xfe{")
    assert dl.key == "k" and dl.error_type == "ValueError" and "\ufffd" in dl.payload


def test_a_lone_surrogate_in_an_article_becomes_a_replacement_character() -> None:
    article = Article(id="surrogate-01", source="t", title="خبر\ud800", body="بوتين\udfff روسيا")
    assert article.title == "خبر\ufffd" and article.body == "بوتين\ufffd روسيا"  # one for one: offsets hold
    assert Article.model_validate_json(dumps(article)) == article


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://example.com/a", True),
        ("HTTP://example.com/a", True),
        ("javascript:fetch('/watches/iran',{method:'DELETE'})", False),
        (" data:text/html,<script>x</script>", False),
        ("vbscript:x", False),
        ("/relative/path", False),
    ],
)
def test_only_web_links_are_kept_as_article_urls(url: str, kept: bool) -> None:
    article = Article(id="a" * 32, source="s", url=url)
    assert article.url == (url if kept else None)
    assert Article.model_validate_json(article.to_json()).url == article.url


@pytest.mark.parametrize("watch_id", [".", "..", "..."])
def test_a_watch_id_of_dots_only_is_refused(watch_id: str) -> None:
    with pytest.raises(ValidationError, match="only dots"):
        Watch(id=watch_id, entities=["Q7747"])
    assert Watch(id="v1.2", entities=["Q7747"]).id == "v1.2"


@pytest.mark.parametrize(
    ("surge", "error"),
    [
        ({"factor": float("inf")}, "less than or equal to 1000"),
        ({"factor": 1e400}, "less than or equal to 1000"),
        ({"window": "36500d", "baseline_windows": 1000}, "at most 35"),
        ({"window": "7d", "baseline_windows": 52}, "at most 35"),
    ],
)
def test_a_surge_is_finite_and_its_look_back_bounded(surge: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Surge(**surge)
    assert Surge(window="1d", baseline_windows=30).window_s == 86_400  # 32 days: allowed


def test_a_surge_watch_refuses_conditions_it_would_ignore() -> None:
    for extra in ({"none_of": {"entities": ["Q423"]}}, {"min_mentions": 3}):
        with pytest.raises(ValidationError, match="none_of and min_mentions do not apply"):
            Watch(id="s", entities=["Q7747"], surge=Surge(), **extra)
