"""The public API of `connectors` is what `__all__` says, and every module declares its own."""

from __future__ import annotations

import importlib

import pytest

import connectors
from connectors.produce import MemoryPublisher, Publisher

MODULES = ["encoding", "fetch", "parse", "produce", "replay", "rss", "sanitize", "state"]


def test_package_exports_resolve() -> None:
    assert sorted(connectors.__all__) == connectors.__all__
    for name in connectors.__all__:
        assert getattr(connectors, name) is not None


@pytest.mark.parametrize("module", MODULES)
def test_module_all_resolves(module: str) -> None:
    mod = importlib.import_module(f"connectors.{module}")
    assert mod.__all__
    for name in mod.__all__:
        assert hasattr(mod, name), f"connectors.{module}.{name}"


def test_memory_publisher_is_a_publisher() -> None:
    assert isinstance(MemoryPublisher(), Publisher)
