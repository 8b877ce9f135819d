"""The shipped `config/` data loads, is consistent, and covers the seed article's actors."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import parse_feed
from pipeline.alerts.rules import compile_watches
from pipeline.config import load_feeds, load_watches
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SEED_FEED = REPO / "tests" / "fixtures" / "feeds" / "seed" / "seed-article.xml"


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=REPO / "config"))


def test_feeds_and_watches_are_valid(enricher: Enricher) -> None:
    feeds = load_feeds(REPO / "config" / "feeds.yaml")
    assert len(feeds) >= 8 and all(str(f.url).startswith("https://") for f in feeds)
    watches = load_watches(REPO / "config" / "watchlists.yaml")
    compiled = compile_watches(watches, enricher.registry, enricher.topics.topics)
    assert len(compiled) == len(watches) > 0


def test_registry_has_no_ambiguous_names(enricher: Enricher) -> None:
    assert len(enricher.registry) >= 500
    assert not enricher.registry.ambiguous


def test_every_listed_ambiguous_word_is_a_one_word_name(enricher: Enricher) -> None:
    """An entry that names no entity (a typo, an entity removed) would silently do nothing."""
    registry = enricher.registry
    assert len(registry.ambiguous_words) >= 10
    assert {w for w in registry.ambiguous_words if (w,) not in registry.names} == set()


@pytest.mark.parametrize(
    ("surface", "type_", "canonical"),
    [
        ("بوتين", "PER", "Q7747"),
        ("كيم جونغ أون", "PER", "Q56226"),
        ("سيرغي شويغو", "PER", "rasd:sergei-shoigu"),
        ("روسيا", "LOC", "Q159"),
        ("كوريا الشمالية", "LOC", "Q423"),
        ("الولايات المتحدة", "LOC", "Q30"),
        ("أوكرانيا", "LOC", "Q212"),
        ("الصين", "LOC", "Q148"),
        ("البيت الأبيض", "ORG", "Q35525"),
        ("فوستوتشني", "LOC", "rasd:vostochny-cosmodrome"),
        ("بيونغ يانغ", "LOC", "Q18808"),
        ("موسكو", "LOC", "Q649"),
    ],
)
def test_seed_article_actors_are_found(enricher: Enricher, surface: str, type_: str, canonical: str) -> None:
    [article] = parse_feed(SEED_FEED.read_bytes(), source="seed").articles
    enriched = enricher.enrich(article)
    found = {(m.type, m.canonical_id) for m in enriched.entities if surface in m.surface}
    assert (type_, canonical) in found, sorted({(m.surface, m.canonical_id) for m in enriched.entities})


def test_seed_article_topics(enricher: Enricher) -> None:
    [article] = parse_feed(SEED_FEED.read_bytes(), source="seed").articles
    topics = {t.id for t in enricher.enrich(article).topics}
    assert {"diplomacy", "military", "space"} <= topics
