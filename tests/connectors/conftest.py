"""Shared fixtures for connector tests: no network, no environment leaks, settings in a temp dir."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import FeedConfig
from pipeline.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
DATA = Path(__file__).resolve().parent / "data"
PUBLIC_IP = "93.184.216.34"


@dataclass(frozen=True)
class FixtureFeed:
    """One row of tests/fixtures/feeds/PROVENANCE.tsv."""

    path: Path
    source: str
    items: int


def fixture_feeds() -> list[FixtureFeed]:
    """Every feed document listed in PROVENANCE.tsv, with its documented entry count."""
    with (FIXTURES / "PROVENANCE.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [FixtureFeed(FIXTURES / r["path"], r["path"].split("/")[0], int(r["items"])) for r in rows]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Proxy, TLS and RASD_* variables must not change what the tests see."""
    import os

    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith("RASD_") or upper in {
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
        }:
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Settings rooted in a temp dir; keyword overrides for any field."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "rasd", "config_dir": tmp_path / "config"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


async def public_resolver(host: str, port: int) -> list[str]:
    """Fake DNS: every name is a public address, so the guard lets MockTransport requests through."""
    return [PUBLIC_IP]


@pytest.fixture
def feed_factory() -> Callable[..., FeedConfig]:
    def make(feed_id: str, url: str | None = None, **extra: Any) -> FeedConfig:
        return FeedConfig(id=feed_id, url=url or f"https://{feed_id}.example.com/rss.xml", **extra)

    return make
