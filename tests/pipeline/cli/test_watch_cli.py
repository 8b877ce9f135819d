"""`rasd watch` end to end through `main`: real SQLite files, a copy of the repo's config, no broker."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.alerts.watchstore import WATCHES_FILE, WatchStore
from pipeline.cli.main import main
from pipeline.search import SqliteBackend
from pipeline.text import Analyzer
from tests.pipeline.search.search_corpus import SEED_ID, build_corpus

REPO = Path(__file__).resolve().parents[3]
WATCHLISTS = """\
watches:
  - id: putin
    name: Vladimir Putin
    owner: demo
    entities: [Q7747]
  - id: truce
    name: Truce
    owner: desk
    words: [هدنة]
"""


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's config with test watchlists; the registry cut to its persons, to keep loads fast."""
    config = tmp_path_factory.mktemp("rasd") / "config"
    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("models"))
    for path in (config / "entities").glob("*.yaml"):
        if path.name != "persons.yaml":
            path.unlink()
    (config / "watchlists.yaml").write_text(WATCHLISTS, encoding="utf-8")
    return config


@pytest.fixture
def data_dir(tmp_path: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RASD_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RASD_SEARCH_BACKEND", "sqlite")
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["watch", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def stored(data_dir: Path) -> dict[str, Any]:
    store = WatchStore(data_dir / WATCHES_FILE)
    try:
        return {watch_id: row.watch for watch_id, row in store.overrides().items()}
    finally:
        store.close()


def listed(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    return {row["id"]: row for row in json.loads(out)}


# -- add / list / pause / resume / rm ------------------------------------------------------------


def test_add_list_pause_resume_rm(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        *("add", "hormuz", "--name", "مضيق هرمز", "--owner", "me"),
        *("--entity", "بوتين", "--word", "مضيق هرمز", "--none-word", "كرة القدم", "--source", "aljazeera"),
    )
    assert code == 0 and "added watch hormuz" in out

    assert run(capsys, "pause", "putin")[0] == 0  # a config watch: a pause flag over it
    assert run(capsys, "rm", "truce")[0] == 0  # a config watch: tombstoned
    rows = listed(capsys)
    assert list(rows) == ["putin", "hormuz"]
    assert (rows["putin"]["state"], rows["putin"]["origin"]) == ("paused", "config")
    hormuz = rows["hormuz"]
    assert (hormuz["state"], hormuz["origin"], hormuz["owner"], hormuz["name"]) == (
        "active",
        "runtime",
        "me",
        "مضيق هرمز",
    )
    assert hormuz["entities"] == [{"id": "Q7747", "name": "فلاديمير بوتين"}]
    assert hormuz["summary"] == (
        "any_of: Q7747 (فلاديمير بوتين), «مضيق هرمز»; none_of: «كرة القدم»; sources: aljazeera"
    )

    code, out, _ = run(capsys, "resume", "putin")
    assert code == 0 and "resumed" in out
    assert "already active" in run(capsys, "resume", "putin")[1]
    assert run(capsys, "rm", "hormuz")[0] == 0
    code, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATE", "ORIGIN", "OWNER", "NAME", "CONDITION"]
    assert lines[1].split()[:4] == ["putin", "active", "config", "demo"]
    assert lines[1].endswith("any_of: Q7747 (فلاديمير بوتين)")
    assert len(lines) == 2
    assert set(stored(data_dir)) == {"truce", "hormuz"}  # tombstones; resuming putin left no row
    assert stored(data_dir)["truce"] is None


def test_a_word_that_names_an_actor_gets_a_hint_towards_the_entity(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "add", "putin-word", "--word", "بوتين", "--word", "وقف إطلاق النار")
    assert code == 0 and "added watch putin-word" in out
    assert "'بوتين' names فلاديمير بوتين (Q7747)" in err and "--entity Q7747" in err
    assert "وقف إطلاق النار" not in err  # no entity: no hint
    code, _, err = run(capsys, "add", "putin-both", "--word", "بوتين", "--entity", "Q7747")
    assert code == 0 and err == ""  # the entity is watched already


def test_add_from_a_file_and_replace(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "watch.yaml"
    path.write_text(
        "id: kim\nname: كيم\nall_of:\n  entities: [كيم جونغ أون]\nwords: [صاروخ]\nchannels: [log]\n",
        encoding="utf-8",
    )
    assert run(capsys, "add", "--file", str(path))[0] == 0
    kim = stored(data_dir)["kim"]
    assert kim.all_of.entities == ["كيم جونغ أون"] and kim.any_of.words == ["صاروخ"]
    assert kim.channels == ["log"]

    code, _, err = run(capsys, "add", "--file", str(path))
    assert code == 2 and "'kim' already exists (runtime)" in err and "--replace" in err
    code, _, err = run(capsys, "add", "putin", "--topic", "space")
    assert code == 2 and "'putin' already exists (config)" in err
    assert "putin" not in stored(data_dir)

    path.write_text("id: kim\nentities: [Q56226]\n", encoding="utf-8")
    code, out, _ = run(capsys, "add", "--file", str(path), "--replace")
    assert code == 0 and "replaced watch kim" in out
    assert stored(data_dir)["kim"].any_of.entities == ["Q56226"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "x", "--entity", "شخص لا يعرفه السجل"], "watch 'x': any_of.entities: unknown entity"),
        (
            ["add", "x", "--entity", "Q7747", "--none-topic", "gardening"],
            "watch 'x': none_of.topics: unknown topic",
        ),
        (["add", "x", "--source", "aljazeera"], "watch 'x': empty condition"),
        (["add", "x", "--none-word", "كرة"], "watch 'x': none_of alone would match every article"),
        (["add", "bad id!", "--word", "هدنة"], "watch 'bad id!': id: String should match pattern"),
        (["add", "x", "--word", "هدنة", "--surge-window", "1h"], "a surge watch counts entities and topics"),
        (["add"], "give the watch"),
        (["pause", "nope"], "unknown watch 'nope'"),
        (["resume", "nope"], "unknown watch 'nope'"),
        (["rm", "nope"], "unknown watch 'nope'"),
        (["test", "nope"], "unknown watch 'nope'"),
        (["test", "putin", "--since", "last week"], "--since: 'last week' is neither a duration"),
        (["test", "putin", "--since", "99999999d"], "--since: bad duration '99999999d': at most 100 years"),
        (["test", "putin", "--until", "9999-12-31"], "--until: '9999-12-31' is the last date there is"),
        (["add", "x", "--entity", "Q7747", "--surge-window", "99999999999d"], "at most 100 years"),
    ],
)
def test_errors_name_the_field_exit_2_and_store_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("Error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert stored(data_dir) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\nentities: [بوتين\n", "invalid YAML"),
        ("- id: x\n  words: [هدنة]\n", "expected one watch mapping"),
        ("id: x\nwords: [هدنة]\ncolour: red\n", "watch 'x': colour: Extra inputs are not permitted"),
    ],
)
def test_bad_watch_files(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "watch.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "add", "--file", str(path))
    assert code == 2 and message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert stored(data_dir) == {}


# -- test (backtest) ---------------------------------------------------------------------------


@pytest.fixture
def indexed(data_dir: Path) -> Path:
    """The search corpus (real Arabic articles, 2023 and 2026) in the configured SQLite index."""

    async def index() -> None:
        backend = SqliteBackend(data_dir / "index.sqlite3", Analyzer())
        await backend.setup()
        assert (await backend.index_many(build_corpus())).failed == []
        await backend.close()

    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(index())
    return data_dir


def test_backtest_a_configured_watch_as_json(indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", "putin", "--since", "2020-01-01", "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["scanned"], report["matched"], report["stories"]) == (8, 1, 1)
    assert report["days"] == [{"day": "2023-09-13", "articles": 1, "alerts": 1}]
    (example,) = report["examples"]
    assert example["article_id"] == SEED_ID
    assert {(e["kind"], e["value"], e["surface"]) for e in example["evidence"]} == {
        ("entity", "Q7747", "بوتين")
    }
    assert "بوتين" in out  # UTF-8, not \\u escapes
    code, out, _ = run(capsys, "test", "putin", "--since", "2024-01-01", "--json")
    assert json.loads(out)["scanned"] == 7 and json.loads(out)["matched"] == 0


def test_backtest_flags_as_text_with_a_day_table(indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "test",
        "--word",
        "بحر قزوين",
        "--word",
        "أبوظبي",
        "--since",
        "2026-01-01",
        "--until",
        "2026-03-24",
    )
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("watch backtest (backtest), 2026-01-01 00:00 → 2026-03-25 00:00 UTC")
    assert lines[1].startswith("6 article(s) scanned: 2 match, 2 distinct stories")
    assert "2026-03-24         1       1" in lines  # the --until date is included
    assert any(line.strip().startswith("word: بحر قزوين  «بحر قزوين»") for line in lines)
    assert any(line.strip().startswith("word: أبوظبي  «أبوظبي»") for line in lines)


def test_a_backtest_window_with_nothing_in_it_says_how_to_reach_the_index(
    indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default window is the last 30 days: an analyst's older corpus gave "0 article(s) scanned"."""
    code, out, err = run(capsys, "test", "putin", "--since", "2030-01-01")
    assert code == 0 and "0 article(s) scanned" in out
    assert "the index holds 8 article(s) outside this window" in err and "--since" in err
    code, _, err = run(capsys, "test", "putin", "--since", "2020-01-01")
    assert code == 0 and err == ""  # articles scanned: no hint


def test_backtest_of_a_surge_watch_is_refused_clearly(
    indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "test", "--entity", "Q7747", "--surge-window", "1h", "--since", "2020-01-01")
    assert code == 2
    assert "not supported by backtest: surge watches are evaluated over time windows" in out
