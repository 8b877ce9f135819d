"""Fixtures for the Elasticsearch unit tests: the real entity registry (its names are protected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.registry import EntityRegistry, load_registry

CONFIG = Path(__file__).resolve().parents[4] / "config"


@pytest.fixture(scope="session")
def registry() -> EntityRegistry:
    return load_registry(CONFIG / "entities")
