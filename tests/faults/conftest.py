"""Fixtures of the fault-injection suite: one fresh Tansu broker per test, one shared article corpus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.broker import EmbeddedBroker, ensure_topics
from tests.faults.support import Corpus, FeedServer, build_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture()
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A broker of its own per scenario: Tansu keeps everything in memory, so nothing leaks between tests."""
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log_path) as b:
        ensure_topics(b.bootstrap, partitions=2, replication=1)
        yield b


@pytest.fixture()
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()
