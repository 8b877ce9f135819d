"""Fixtures: the indexed sample feeds (built once) and the full app (API + UI) over a copy of them."""

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
def web_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("rasd-web"))


@pytest.fixture
def ui(web_corpus: Corpus, tmp_path: Path) -> Iterator[TestClient]:
    shutil.copytree(web_corpus.settings.data_dir, tmp_path / "data")
    settings = web_corpus.settings.model_copy(update={"data_dir": tmp_path / "data"})
    with TestClient(create_api(settings), base_url=LOCAL, follow_redirects=False) as c:
        yield c
