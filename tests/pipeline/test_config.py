"""Bad configuration gets a clear error that names the file, item and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.config import load_feeds, load_watches
from pipeline.enrich.registry import load_registry
from pipeline.enrich.topics import load_topics
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
        (
            load_topics,
            "topics: [{id: a, label_ar: أ, label_en: A}, {id: a, label_ar: ب, label_en: B}]",
            "duplicate topic id",
        ),
        (load_topics, "topics: [{id: a, label_ar: أ, label_en: A, term: {حرب: 1}}]", r"topics\[0\]: term"),
        (load_topics, "topics: [{id: a, label_ar: أ, label_en: A, terms: {حرب: .nan}}]", "finite number"),
        (load_feeds, "feeds: [{id: a, url: 'https://a.b/', poll_interval_s: .inf}]", "finite number"),
        (load_feeds, "feeds: [{id: a, url: 'https://a.b/', poll_interval_s: 1e12}]", "less than or equal"),
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


def test_unreadable_config_files_are_named(tmp_path: Path) -> None:
    utf16 = tmp_path / "feeds.yaml"
    utf16.write_text("feeds: []", encoding="utf-16")
    with pytest.raises(ConfigError, match=r"feeds.yaml: not UTF-8 text"):
        load_feeds(utf16)
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match=r"dir.yaml: cannot be read"):
        load_feeds(tmp_path / "dir.yaml")


def test_a_broken_model_or_word_list_is_a_config_error_naming_it(tmp_path: Path) -> None:
    import shutil

    from pipeline.enrich.enricher import load_enricher
    from pipeline.settings import Settings

    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[2] / "config", config)
    (config / "models" / "ner-crf.crfsuite").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=r"ner-crf.crfsuite: not a usable model file"):
        load_enricher(Settings(config_dir=config))
    (config / "models" / "ner-crf.crfsuite").unlink()
    (config / "models" / "topics-ant.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ConfigError, match=r"topics-ant.npz: not a usable model file"):
        load_enricher(Settings(config_dir=config))
    (config / "models" / "topics-ant.npz").unlink()
    (config / "stopwords" / "ar.txt").write_bytes(b"\xe9t\xe9\n")
    with pytest.raises(ConfigError, match=r"ar.txt: not UTF-8 text"):
        load_enricher(Settings(config_dir=config))


def test_registry_files_typos_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("entities: [{id: 'rasd:x', type: PER, name_ar: س}]", encoding="utf-8")
    (tmp_path / "b.yml").write_text("entities: [{id: 'rasd:y', type: PER, name_ar: ص}]", encoding="utf-8")
    assert set(load_registry(tmp_path).entities) == {"rasd:x", "rasd:y"}  # .yml files are read too
    (tmp_path / "c.yaml").write_text("entities: [{id: 'rasd:x', type: LOC, name_ar: ع}]", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"c.yaml: entities\[0\]: entity id 'rasd:x' is defined twice \(first in a.yaml\)"
    ):
        load_registry(tmp_path)
    (tmp_path / "c.yaml").write_text("entities: [{id: 'rasd:z', type: PER, name_ar: ع, alias_ar: [غ]}]")
    with pytest.raises(ConfigError, match=r"c.yaml: entities\[0\]: alias_ar"):
        load_registry(tmp_path)


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


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RASD_POLL_INTERVAL_S", "inf", "RASD_POLL_INTERVAL_S: Input should be a finite number"),
        ("RASD_POLL_INTERVAL_S", "1e12", "RASD_POLL_INTERVAL_S: at most"),
        ("RASD_DELIVERY_TIMEOUT_S", "nan", "RASD_DELIVERY_TIMEOUT_S: Input should be a finite number"),
        ("RASD_FETCH_ALLOWED_HOSTS", "[oops", "RASD_FETCH_ALLOWED_HOSTS: Value error, not a JSON list"),
        # a negative session timeout was accepted: the worker then joined nothing and said nothing
        (
            "RASD_BROKER_SESSION_TIMEOUT_S",
            "-5",
            "RASD_BROKER_SESSION_TIMEOUT_S: Input should be greater than 0",
        ),
        ("RASD_BROKER_HEARTBEAT_INTERVAL_S", "6", "must be below RASD_BROKER_SESSION_TIMEOUT_S (6 ≥ 6)"),
        ("RASD_DELIVERY_BACKOFF_MAX_S", "-1", "RASD_DELIVERY_BACKOFF_MAX_S: Input should be greater than or"),
    ],
)
def test_bad_numbers_and_lists_in_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["alerts"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: invalid settings: ") and message in err and "Traceback" not in err


def test_every_duration_setting_has_a_lower_bound() -> None:
    from pipeline.settings import Settings

    unbounded = [
        name
        for name, field in Settings.model_fields.items()
        if name.endswith("_s") and not any(type(m).__name__ in ("Ge", "Gt") for m in field.metadata)
    ]
    assert unbounded == []


def test_allowed_hosts_are_a_json_list_or_separated_by_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.settings import Settings

    for value in ("a.com, b.com", '["a.com", "b.com"]'):
        monkeypatch.setenv("RASD_FETCH_ALLOWED_HOSTS", value)
        assert Settings().fetch_allowed_hosts == ["a.com", "b.com"]


def test_a_missing_config_dir_is_an_error_not_an_empty_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RASD_CONFIG_DIR", str(tmp_path / "nowhere"))
    assert main(["watch", "list"]) == 1
    assert "RASD_CONFIG_DIR" in capsys.readouterr().err


def test_a_data_dir_that_is_a_file_is_one_line_of_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "file"))
    assert main(["watch", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and str(tmp_path / "file") in err and len(err.strip().splitlines()) == 1


def test_cli_without_broker_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RASD_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path))
    assert main(["ingest", "--from-files", str(tmp_path)]) == 1
    assert "no Kafka broker" in capsys.readouterr().err
