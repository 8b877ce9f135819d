"""Backtesting watches over real enriched Arabic articles indexed in a SQLite backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipeline.alerts.backtest import SURGE_UNSUPPORTED, BacktestReport, backtest, backtest_backend
from pipeline.alerts.rules import CompiledWatch, compile_watch
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.models import Article, Watch
from pipeline.search import SqliteBackend
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]
FETCHED = datetime(2026, 3, 5, 6, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=REPO / "config"))


def _at(day: int, hour: int, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# (id, source, title, published, story): written for the test, enriched by the real enricher
_TEXTS: list[tuple[str, str, str, datetime | None, str | None]] = [
    (
        "putin-moscow",
        "rt_arabic",
        "التقى الرئيس الروسي فلاديمير بوتين نظيره الصيني في موسكو",
        _at(1, 8),
        "s-moscow",
    ),
    (
        "putin-moscow-copy",
        "aljazeera",
        "الرئيس فلاديمير بوتين يلتقي نظيره الصيني في موسكو",
        _at(1, 12),
        "s-moscow",
    ),
    (
        "kremlin-summit",
        "aljazeera",
        "قال الكرملين إن لقاءً سيجمع ترامب وبوتين الأسبوع المقبل",
        _at(2, 9),
        None,
    ),
    ("football", "hespress", "فاز فريق الترجي على النجم الساحلي في مباراة الدربي", _at(2, 15), None),
    (
        "gaza-truce",
        "aljazeera",
        "أعلن الوسطاء بدء الهدنة في غزة ووقف إطلاق النار صباح الأحد",
        _at(3, 7),
        None,
    ),
    (
        "truce-holds",
        "alhurra",
        "مسؤول أممي: الهدنة صامدة رغم خروقات متفرقة",
        None,
        None,
    ),  # dated by fetch time
    (
        "putin-india",
        "rt_arabic",
        "بوتين يصل إلى نيودلهي في زيارة رسمية",
        _at(1, 10, month=12, year=2025),
        None,
    ),
]


@pytest.fixture(scope="module")
def articles(enricher: Enricher) -> list[Article]:
    out = []
    for key, source, title, published, story in _TEXTS:
        raw = Article(
            id=f"test-{key}", source=source, title=title, published=published, fetched=FETCHED, language="ar"
        )
        out.append(enricher.enrich(raw).model_copy(update={"story_id": story}))
    return out


@pytest.fixture
async def backend(
    tmp_path: Path, enricher: Enricher, articles: list[Article]
) -> AsyncIterator[SqliteBackend]:
    b = SqliteBackend(tmp_path / "index.sqlite3", enricher.analyzer)
    await b.setup()
    assert (await b.index_many(articles[::-1])).failed == []  # indexing order must not matter
    yield b
    await b.close()


def _compile(enricher: Enricher, watch: Watch) -> CompiledWatch:
    return compile_watch(watch, enricher.registry, enricher.topics.topics)


def _days(report: BacktestReport) -> list[tuple[date, int, int]]:
    return [(d.day, d.articles, d.alerts) for d in report.days]


@pytest.mark.anyio
async def test_entity_watch_counts_articles_stories_and_days(
    enricher: Enricher, backend: SqliteBackend
) -> None:
    cw = _compile(enricher, Watch(id="putin", name="Putin", entities=["بوتين"]))
    report = await backtest_backend(cw, backend, enricher.analyzer)
    assert (report.scanned, report.matched, report.stories) == (7, 4, 3)
    assert _days(report) == [
        (date(2025, 12, 1), 1, 1),
        (date(2026, 3, 1), 2, 1),  # two sources, one story: one alert, as live
        (date(2026, 3, 2), 1, 1),
    ]
    first, second, third = report.examples
    assert first.article_id == "test-putin-india"
    assert second.article_id == "test-putin-moscow"
    assert [a.article_id for a in second.also] == ["test-putin-moscow-copy"]
    assert second.created == _at(1, 8)  # when it would have fired
    ev = second.evidence[0]
    assert (ev.kind, ev.value, ev.surface, ev.field) == ("entity", "Q7747", "فلاديمير بوتين", "title")
    assert third.evidence[0].surface == "بوتين"  # written وبوتين: the clitic is not part of the name
    assert "ترامب وبوتين" in third.evidence[0].snippet


@pytest.mark.anyio
async def test_phrase_watch_and_an_unpublished_article_dated_by_fetch_time(
    enricher: Enricher, backend: SqliteBackend
) -> None:
    cw = _compile(enricher, Watch(id="truce", words=["وقف إطلاق النار", "هدنة"]))
    report = await backtest_backend(cw, backend, enricher.analyzer)
    assert (report.matched, report.stories) == (2, 2)
    assert _days(report) == [(date(2026, 3, 3), 1, 1), (FETCHED.date(), 1, 1)]
    gaza, holds = report.examples
    assert [(e.value, e.surface) for e in gaza.evidence] == [
        ("وقف إطلاق النار", "ووقف إطلاق النار"),  # as written, clitic and all
        ("هدنة", "الهدنة"),
    ]
    assert [(e.kind, e.surface) for e in holds.evidence] == [("word", "الهدنة")]


@pytest.mark.anyio
async def test_since_and_until_bound_the_scan(enricher: Enricher, backend: SqliteBackend) -> None:
    cw = _compile(enricher, Watch(id="putin", entities=["Q7747"]))
    recent = await backtest_backend(cw, backend, enricher.analyzer, since=_at(1, 0, month=1), examples=1)
    assert (recent.scanned, recent.matched, recent.stories) == (6, 3, 2)
    assert [e.article_id for e in recent.examples] == ["test-putin-moscow"]
    assert recent.since == _at(1, 0, month=1)
    window = await backtest_backend(cw, backend, enricher.analyzer, since=_at(1, 10), until=_at(2, 9))
    assert (window.scanned, window.matched, window.stories) == (1, 1, 1)  # until is exclusive
    assert window.examples[0].article_id == "test-putin-moscow-copy"


def test_pure_backtest_with_all_of_none_of_and_a_paused_watch(
    enricher: Enricher, articles: list[Article]
) -> None:
    watch = Watch(
        id="moscow", all_of={"entities": ["Q7747", "موسكو"]}, none_of={"words": ["يلتقي"]}, paused=True
    )
    report = backtest(_compile(enricher, watch), articles, enricher.analyzer)
    assert report.supported and report.scanned == len(articles)
    assert [e.article_id for e in report.examples] == ["test-putin-moscow"]  # paused: tested as if active
    assert {e.value for e in report.examples[0].evidence} == {"Q7747", "Q649"}


def test_surge_watch_is_reported_as_not_supported(enricher: Enricher, articles: list[Article]) -> None:
    cw = _compile(enricher, Watch(id="surge", entities=["Q7747"], surge={"window": "1h"}))
    report = backtest(cw, articles, enricher.analyzer)
    assert not report.supported
    assert report.message == SURGE_UNSUPPORTED
    assert (report.scanned, report.matched, report.examples) == (0, 0, [])
