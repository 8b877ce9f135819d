"""What only a real cluster can show: upserts across rollover, percolation. Needs RASD_ELASTICSEARCH_URL.

The behaviour shared with SQLite is in `tests/pipeline/search/test_contract.py` (its Elasticsearch
branch runs with the same variable).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from pipeline.alerts.rules import compile_watch, match_watch
from pipeline.enrich.registry import EntityRegistry
from pipeline.models import Article, Watch
from pipeline.search.elasticsearch import ElasticsearchBackend, IndexNames, IndexOptions, client_from_settings
from pipeline.settings import Settings

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not os.environ.get("RASD_ELASTICSEARCH_URL"),
        reason="live Elasticsearch tests need RASD_ELASTICSEARCH_URL",
    ),
]


@pytest.fixture
async def live(registry: EntityRegistry) -> AsyncIterator[ElasticsearchBackend]:
    backend = ElasticsearchBackend(
        client_from_settings(Settings()),
        registry.analyzer,
        names=IndexNames(f"rasd-test-{uuid.uuid4().hex[:12]}"),
        index_options=IndexOptions(replicas=0),
        refresh=True,
    )
    await backend.setup()
    try:
        yield backend
    finally:
        await backend.drop()
        await backend.close()


async def test_setup_twice_and_the_arabic_analyzer_protects_names(live: ElasticsearchBackend) -> None:
    await live.setup()
    client = live._client
    tokens = await client.indices.analyze(
        index=live.names.alias, analyzer="rasd_arabic", text="وبوتين لبوتين بوتين وإيران"
    )
    assert [t["token"] for t in tokens.body["tokens"]] == ["بوتين", "بوتين", "بوتين", "ايران"]


async def test_an_update_after_rollover_replaces_the_old_copy(
    live: ElasticsearchBackend, corpus: list[Article]
) -> None:
    await live.index_many(corpus[:2])
    await live._client.indices.rollover(alias=live.names.alias)
    changed = corpus[0].model_copy(update={"title": "عنوان جديد"})
    report = await live.index_many([changed, corpus[2]])
    assert report.failed == []
    await live.refresh()
    assert await live.count() == 3
    assert await live.get(changed.id) == changed
    assert await live.delete([changed.id]) == 1
    assert await live.get(changed.id) is None


async def test_percolation_finds_what_match_watch_finds(
    live: ElasticsearchBackend, registry: EntityRegistry, corpus: list[Article]
) -> None:
    topics = {"conflict", "diplomacy", "economy", "space"}
    watches = [
        compile_watch(Watch.model_validate(spec), registry, topics)
        for spec in (
            {"id": "putin", "entities": ["بوتين"]},
            {"id": "iran-not-trump", "any_of": {"entities": ["إيران"]}, "none_of": {"entities": ["ترامب"]}},
            {"id": "kim", "words": ["كيم جونغ أون"]},
        )
    ]
    assert await live.sync_watches(watches) == 3
    pairs = set(await live.percolate(corpus, batch_size=3))
    expected = {
        (a.id, cw.watch.id)
        for a in corpus
        for cw in watches
        if match_watch(cw, a, registry.analyzer) is not None
    }
    assert pairs == expected
