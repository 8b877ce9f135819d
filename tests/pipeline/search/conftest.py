"""Fixtures for the search tests; the corpus itself is built in `search_corpus`."""

from __future__ import annotations

import pytest

from pipeline.models import Article
from pipeline.text import Analyzer
from tests.pipeline.search.search_corpus import PROTECTED, build_corpus


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer(PROTECTED)


@pytest.fixture
def corpus() -> list[Article]:
    return build_corpus()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
