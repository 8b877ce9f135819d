"""A real indexed corpus for the API, web and browser tests: the bundled sample feeds, enriched.

The feeds in `tests/fixtures/feeds/` are parsed by the connector's parser, enriched by the
project's enricher (registry, NER model, topics), indexed in a SQLite backend under a tmp data
dir and matched against the watches in force, recording alerts as the worker's alert agent does.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.parse import parse_feed
from pipeline.alerts.manage import WatchManager
from pipeline.alerts.rules import compile_watches
from pipeline.alerts.store import AlertStore
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.models import Article
from pipeline.search import SqliteBackend
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]
FEEDS = REPO / "tests" / "fixtures" / "feeds"
FETCHED = datetime(2026, 4, 22, 6, 0, tzinfo=UTC)

WATCHLISTS = """\
watches:
  - id: iran
    name: إيران
    owner: desk
    entities: [Q794]
  - id: truce
    name: الهدنة
    owner: desk
    words: [هدنة]
"""


@dataclass
class Corpus:
    settings: Settings
    enricher: Enricher
    articles: list[Article]


def sample_articles() -> list[Article]:
    """Every item of the bundled sample feeds, as the connector parses them (source = folder name)."""
    out: list[Article] = []
    for path in sorted(FEEDS.rglob("*.xml")):
        parsed = parse_feed(
            path.read_bytes(),
            source=path.parent.name,
            feed_url=path.resolve().as_uri(),
            language="ar",
            fetched=FETCHED,
        )
        out.extend(parsed.articles)
    return out


def make_settings(root: Path) -> Settings:
    """The repo's config (with test watchlists) and a fresh data dir under `root`."""
    config = root / "config"
    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("watchlists.yaml"))
    (config / "watchlists.yaml").write_text(WATCHLISTS, encoding="utf-8")
    return Settings(config_dir=config, data_dir=root / "data", search_backend="sqlite")


def ingest(settings: Settings, enricher: Enricher, articles: list[Article]) -> list[Article]:
    """What a worker does with new articles: enrich, index, match the watches in force, record alerts."""
    enriched = enricher.enrich_many(articles)

    async def index() -> None:
        backend = SqliteBackend(settings.index_path, enricher.analyzer)
        await backend.setup()
        try:
            report = await backend.index_many(enriched)
            assert not report.failed, report.failed
        finally:
            await backend.close()

    asyncio.run(index())
    from pipeline.alerts.rules import match_watch

    with WatchManager(settings) as manager:
        live = [e.watch for e in manager.in_force() if not e.watch.paused]
    compiled = compile_watches(live, enricher.registry, enricher.topics.topics)
    store = AlertStore(settings.data_dir / "alerts.sqlite3")
    try:
        for article in enriched:
            for cw in compiled:
                alert = match_watch(cw, article, enricher.analyzer)
                if alert is not None:
                    store.record(alert, cw.watch.channels)
    finally:
        store.close()
    return enriched


def build_corpus(root: Path) -> Corpus:
    """Settings over a tmp data dir holding the enriched, indexed sample feeds and their alerts."""
    settings = make_settings(root)
    settings.data_dir.mkdir(parents=True)
    enricher = load_enricher(settings)
    articles = ingest(settings, enricher, sample_articles())
    return Corpus(settings, enricher, articles)
