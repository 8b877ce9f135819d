"""Fixtures: the sample feeds enriched and indexed once per session; apps over copies of that data dir."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.api import create_api
from tests.pipeline.api.corpus import Corpus, build_corpus

# a loopback server only answers requests whose Host names loopback (DNS rebinding), not "testserver"
LOCAL = "http://127.0.0.1:8000"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("rasd-api"))


@pytest.fixture(scope="module")
def client(corpus: Corpus) -> Iterator[TestClient]:
    """A client for read-only tests (search, articles, entities), sharing the session's data dir."""
    with TestClient(create_api(corpus.settings, web=False), base_url=LOCAL) as c:
        yield c


@pytest.fixture
def fresh(corpus: Corpus, tmp_path: Path) -> Iterator[TestClient]:
    """A client over a private copy of the data dir, for tests that change watches or alerts."""
    shutil.copytree(corpus.settings.data_dir, tmp_path / "data")
    settings = corpus.settings.model_copy(update={"data_dir": tmp_path / "data"})
    with TestClient(create_api(settings, web=False), base_url=LOCAL) as c:
        yield c
