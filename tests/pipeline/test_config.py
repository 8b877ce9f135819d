"""Bad configuration gets a clear error that names the file, item and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.config import load_feeds, load_watches
from pipeline.enrich.registry import load_registry
from pipeline.errors import ConfigError


@pytest.mark.parametrize(
    ("loader", "text", "message"),
    [
        (load_feeds, "feeds: [{id: x, url: 'not a url'}]", r"feeds\[0\]: url"),
        (load_feeds, "feeds: [{id: 'Bad Id', url: 'https://a.b/'}]", r"feeds\[0\]: id"),
        (
            load_feeds,
            "feeds: [{id: a, url: 'https://a.b/'}, {id: a, url: 'https://c.d/'}]",
            "duplicate feed id",
        ),
        (load_feeds, "feeds: {id: a}", "expected a mapping with a 'feeds' list"),
        (load_feeds, "feeds: [unclosed", "invalid YAML"),
        (load_watches, "watches: [{id: w}]", "empty condition"),
        (load_watches, "watches: [{id: w, words: [x], colour: red}]", r"watches\[0\]: colour"),
        (load_watches, "watches: [{id: w, words: ['  ']}]", "blank entries"),
    ],
)
def test_config_errors_name_the_problem(tmp_path: Path, loader: object, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        loader(path)  # type: ignore[operator]


def test_missing_files_and_dirs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_feeds(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="entity registry directory not found"):
        load_registry(tmp_path / "entities")


def test_registry_entry_errors_name_the_entry(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text("entities: [{id: Q1, type: XYZ, name_ar: س}]", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"people.yaml: entities\[0\]: type"):
        load_registry(tmp_path)


def test_cli_reports_bad_settings_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RASD_SEARCH_BACKEND", "solr")
    assert main(["alerts"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: invalid settings: RASD_SEARCH_BACKEND") and "Traceback" not in err


def test_cli_without_broker_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RASD_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path))
    assert main(["ingest", "--from-files", str(tmp_path)]) == 1
    assert "no Kafka broker" in capsys.readouterr().err
