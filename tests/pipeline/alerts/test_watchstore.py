"""The run-time watch store on real SQLite files, and a Runtime picking its changes up live."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.alerts.watchstore import WATCHES_FILE, WatchStore, effective_watches
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.models import Watch
from pipeline.runtime import Runtime
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]

PUTIN = Watch(id="putin", name="Putin", owner="demo", entities=["Q7747"])
TRUCE = Watch(id="truce", words=["هدنة"])
CONFIG = [PUTIN, TRUCE]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WatchStore]:
    s = WatchStore(tmp_path / WATCHES_FILE)
    yield s
    s.close()


def test_round_trip_keeps_the_watch_and_arabic(tmp_path: Path, store: WatchStore) -> None:
    watch = Watch(
        id="hormuz",
        name="مضيق هرمز",
        entities=["بوتين"],
        all_of={"words": ["مضيق هرمز"]},
        none_of={"topics": ["sport"]},
        sources=["aljazeera"],
        min_mentions=2,
    )
    store.put(watch)
    assert store.overrides() == {"hormuz": watch}
    reopened = WatchStore(tmp_path / WATCHES_FILE)
    assert reopened.overrides()["hormuz"] == watch
    reopened.close()
    with sqlite3.connect(tmp_path / WATCHES_FILE) as raw:
        state, body, updated = raw.execute("SELECT state, body, updated FROM watches").fetchone()
    assert state == "active" and "مضيق هرمز" in body and updated  # stored as UTF-8, not \\u escapes


def test_pause_and_resume_store_the_effective_watch(store: WatchStore) -> None:
    store.pause("putin", PUTIN)
    paused = store.overrides()["putin"]
    assert paused is not None and paused.paused and paused.any_of == PUTIN.any_of
    store.resume("putin", paused)
    resumed = store.overrides()["putin"]
    assert resumed is not None and not resumed.paused
    with pytest.raises(ValueError, match="truce"):
        store.pause("putin", TRUCE)


def test_effective_watches_layer_changes_over_the_config(store: WatchStore) -> None:
    store.put(Watch(id="zeta", words=["قزوين"]))
    store.put(Watch(id="alpha", topics=["space"]))
    store.pause("putin", PUTIN)
    store.remove("truce")
    got = effective_watches(CONFIG, store.overrides())
    assert [(w.id, origin, w.paused) for w, origin in got] == [
        ("putin", "config", True),
        ("alpha", "runtime", False),
        ("zeta", "runtime", False),
    ]


def test_a_tombstone_hides_a_config_watch_until_it_is_put_again(store: WatchStore) -> None:
    store.remove("truce")
    assert store.overrides() == {"truce": None}
    assert [w.id for w, _ in effective_watches(CONFIG, store.overrides())] == ["putin"]
    store.put(TRUCE)
    assert [w.id for w, _ in effective_watches(CONFIG, store.overrides())] == ["putin", "truce"]


def test_version_moves_on_this_connection_and_on_another(tmp_path: Path) -> None:
    worker = WatchStore(tmp_path / WATCHES_FILE)
    cli = WatchStore(tmp_path / WATCHES_FILE)  # as `rasd watch` would, from another process
    v0 = worker.version()
    assert worker.version() == v0  # nothing written: stable
    cli.put(TRUCE)
    v1 = worker.version()
    assert v1 != v0
    assert worker.version() == v1
    worker.remove("putin")
    v2 = worker.version()
    assert v2 not in (v0, v1)
    with sqlite3.connect(tmp_path / WATCHES_FILE) as raw:  # any writer at all
        raw.execute("UPDATE watches SET updated = 'x'")
    assert worker.version() != v2
    worker.close()
    cli.close()


def test_an_unreadable_row_is_skipped_not_fatal(tmp_path: Path, store: WatchStore) -> None:
    store.put(TRUCE)
    with sqlite3.connect(tmp_path / WATCHES_FILE) as raw:
        raw.execute("INSERT INTO watches VALUES ('odd', 'active', '{\"id\": \"odd\"}', 'now')")
    assert store.overrides() == {"truce": TRUCE}


# -- Runtime ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's config with two watches; registry cut to its persons and no models, for speed."""
    config = tmp_path_factory.mktemp("rasd") / "config"
    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("models"))
    for path in (config / "entities").glob("*.yaml"):
        if path.name != "persons.yaml":
            path.unlink()
    (config / "watchlists.yaml").write_text(
        "watches:\n  - id: putin\n    entities: [Q7747]\n  - id: truce\n    words: [هدنة]\n", encoding="utf-8"
    )
    return config


@pytest.fixture(scope="module")
def enricher(config_dir: Path) -> Enricher:
    return load_enricher(Settings(config_dir=config_dir))


@pytest.fixture
def runtime(
    tmp_path: Path, config_dir: Path, enricher: Enricher, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """A real Runtime on its own data dir; the enricher is built once for the module."""
    monkeypatch.setattr("pipeline.runtime.load_enricher", lambda settings: enricher)
    rt = Runtime.load(Settings(config_dir=config_dir, data_dir=tmp_path / "data"))
    yield rt
    rt.watch_store.close()
    rt.alert_store.close()


def _ids(rt: Runtime) -> list[tuple[str, bool]]:
    return [(cw.watch.id, cw.watch.paused) for cw in rt.watches]


def test_runtime_starts_from_config_and_store(runtime: Runtime) -> None:
    assert _ids(runtime) == [("putin", False), ("truce", False)]
    assert [w.id for w in runtime.config_watches] == ["putin", "truce"]
    assert runtime.refresh_watches() is False  # nothing changed since load


def test_refresh_picks_up_changes_from_another_store(runtime: Runtime) -> None:
    cli = WatchStore(runtime.settings.data_dir / WATCHES_FILE)
    try:
        cli.put(Watch(id="kim", entities=["كيم جونغ أون"]))
        assert runtime.refresh_watches() is True
        assert _ids(runtime) == [("putin", False), ("truce", False), ("kim", False)]
        assert runtime.watches[-1].entity_ids == {"Q56226"}
        assert runtime.refresh_watches() is False

        cli.pause("putin", runtime.config_watches[0])
        assert runtime.refresh_watches() is True
        assert _ids(runtime)[0] == ("putin", True)

        cli.remove("truce")
        cli.remove("kim")
        assert runtime.refresh_watches() is True
        assert _ids(runtime) == [("putin", True)]
    finally:
        cli.close()


def test_a_watch_that_no_longer_compiles_is_logged_and_skipped(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    cli = WatchStore(runtime.settings.data_dir / WATCHES_FILE)
    try:
        # stored when the registry still knew the name; the registry no longer does
        cli.put(Watch(id="gone", entities=["شخص حذف من السجل"]))
        cli.put(Watch(id="fine", topics=["space"]))
        with caplog.at_level(logging.WARNING, logger="rasd.worker"):
            assert runtime.refresh_watches() is True
    finally:
        cli.close()
    assert [cw.watch.id for cw in runtime.watches] == ["putin", "truce", "fine"]
    (record,) = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert "gone" in record.getMessage() and "any_of.entities" in record.getMessage()
