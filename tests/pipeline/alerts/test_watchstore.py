"""The run-time watch store on real SQLite files, and a Runtime picking its changes up live."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.alerts.manage import Catalogue, WatchManager
from pipeline.alerts.rules import CompiledWatch
from pipeline.alerts.watchstore import WATCHES_FILE, StoredWatch, WatchConflict, WatchStore, effective_watches
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.enrich.registry import Entity, EntityRegistry
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
    assert store.overrides()["hormuz"].watch == watch
    reopened = WatchStore(tmp_path / WATCHES_FILE)
    assert reopened.overrides()["hormuz"].watch == watch
    reopened.close()
    with sqlite3.connect(tmp_path / WATCHES_FILE) as raw:
        state, body, updated = raw.execute("SELECT state, body, updated FROM watches").fetchone()
    assert state == "active" and "مضيق هرمز" in body and updated  # stored as UTF-8, not \\u escapes


def test_a_stored_watch_must_carry_the_id_it_is_stored_under(store: WatchStore) -> None:
    with pytest.raises(ValueError, match="truce"):
        store.write("putin", StoredWatch(TRUCE, "active"))


def test_effective_watches_layer_changes_over_the_config(store: WatchStore) -> None:
    store.put(Watch(id="zeta", words=["قزوين"]))
    store.put(Watch(id="alpha", topics=["space"]))
    store.write("putin", StoredWatch(None, "paused", of_config=True))
    store.remove("truce")
    got = effective_watches(CONFIG, store.overrides())
    assert [(w.id, origin, w.paused) for w, origin in got] == [
        ("putin", "config", True),
        ("alpha", "runtime", False),
        ("zeta", "runtime", False),
    ]


def test_a_tombstone_hides_a_config_watch_until_it_is_put_again(store: WatchStore) -> None:
    store.remove("truce")
    assert store.overrides()["truce"].state == "removed"
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
        raw.execute(
            "INSERT INTO watches(id, state, body, updated)"
            " VALUES ('odd', 'active', '{\"id\": \"odd\"}', 'now')"
        )
    assert {k: v.watch for k, v in store.overrides().items()} == {"truce": TRUCE}


def test_a_store_from_before_of_config_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / WATCHES_FILE
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TABLE watches"
            " (id TEXT PRIMARY KEY, state TEXT NOT NULL, body TEXT, updated TEXT NOT NULL)"
        )
        raw.execute("INSERT INTO watches VALUES ('truce', 'active', ?, 'then')", (TRUCE.model_dump_json(),))
    store = WatchStore(path)
    try:
        row = store.overrides()["truce"]
        assert (row.watch, row.of_config) == (TRUCE, False)  # as before: a run-time watch
    finally:
        store.close()


# -- WatchManager: pause flags, config edits, concurrent changes ------------------------------------

KIM = EntityRegistry.build(
    [
        Entity(id="Q7747", type="PER", name_ar="فلاديمير بوتين", name_en="Vladimir Putin"),
        Entity(id="Q423", type="LOC", name_ar="كوريا الشمالية", name_en="North Korea"),
    ]
)


def _manager(tmp_path: Path, watchlists: str) -> WatchManager:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "watchlists.yaml").write_text(watchlists, encoding="utf-8")
    settings = Settings(config_dir=config, data_dir=tmp_path / "data")
    return WatchManager(settings, catalogue=Catalogue(KIM, frozenset({"space"})))


def _in_force(manager: WatchManager) -> list[tuple[str, str, bool, list[str]]]:
    return [(e.watch.id, e.origin, e.watch.paused, e.watch.any_of.entities) for e in manager.in_force()]


def test_a_paused_then_resumed_config_watch_follows_later_edits_of_the_file(tmp_path: Path) -> None:
    with _manager(tmp_path, "watches:\n  - id: putin\n    entities: [Q7747]\n") as manager:
        assert manager.set_paused("putin", paused=True)
        assert manager.store.overrides()["putin"].watch is None  # a flag, not a copy of the watch
        # edited while paused: the new definition applies, still paused
        manager.settings.watchlists_file.write_text("watches:\n  - id: putin\n    entities: [Q423]\n")
        assert _in_force(manager) == [("putin", "config", True, ["Q423"])]
        assert manager.set_paused("putin", paused=False)
        assert manager.store.overrides() == {}  # resuming drops the override
        manager.settings.watchlists_file.write_text("watches:\n  - id: putin\n    entities: [Q7747]\n")
        assert _in_force(manager) == [("putin", "config", False, ["Q7747"])]


def test_rows_over_a_config_watch_go_with_it_when_the_file_drops_it(tmp_path: Path) -> None:
    watchlists = "watches:\n  - id: putin\n    entities: [Q7747]\n  - id: kim\n    entities: [Q423]\n"
    with _manager(tmp_path, watchlists) as manager:
        assert manager.add(Watch(id="kim", entities=["Q7747"]), replace=True) == "replaced"
        assert manager.set_paused("kim", paused=True)
        assert manager.set_paused("putin", paused=True)
        manager.settings.watchlists_file.write_text("watches: []\n")
        assert _in_force(manager) == []  # neither comes back as a run-time watch
        manager.add(Watch(id="space", topics=["space"]))  # any change prunes the stale rows
        assert set(manager.store.overrides()) == {"space"}
        manager.settings.watchlists_file.write_text(watchlists)  # back in the file: as written there
        assert _in_force(manager)[:2] == [
            ("putin", "config", False, ["Q7747"]),
            ("kim", "config", False, ["Q423"]),
        ]


def test_two_adds_of_one_id_at_once_store_one_and_refuse_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = _manager(tmp_path, "watches: []\n"), _manager(tmp_path, "watches: []\n")
    compile_for_alice = alice.compile

    def slow_compile(watch: Watch) -> CompiledWatch:  # bob adds the same id while alice compiles
        bob.add(Watch(id="hormuz", owner="bob", entities=["Q423"]))
        return compile_for_alice(watch)

    monkeypatch.setattr(alice, "compile", slow_compile)
    with pytest.raises(WatchConflict, match="hormuz"):
        alice.add(Watch(id="hormuz", owner="alice", words=["مضيق هرمز"]))
    assert [e.watch.owner for e in alice.in_force()] == ["bob"]
    alice.close()
    bob.close()


def test_a_replace_racing_a_pause_is_refused_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = _manager(tmp_path, "watches: []\n"), _manager(tmp_path, "watches: []\n")
    alice.add(Watch(id="hormuz", entities=["Q423"]))
    compile_for_alice = alice.compile

    def slow_compile(watch: Watch) -> CompiledWatch:
        assert bob.set_paused("hormuz", paused=True)
        return compile_for_alice(watch)

    monkeypatch.setattr(alice, "compile", slow_compile)
    with pytest.raises(WatchConflict):
        alice.add(Watch(id="hormuz", entities=["Q7747"]), replace=True)
    assert _in_force(alice) == [("hormuz", "runtime", True, ["Q423"])]
    alice.close()
    bob.close()


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

        cli.write("putin", StoredWatch(None, "paused", of_config=True))
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
