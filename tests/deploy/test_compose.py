"""deploy/docker-compose.yml against the Compose specification (check-jsonschema's vendored copy, so
this runs offline), plus the structure the deployment relies on; deploy/Dockerfile and the connector
script are checked statically (there is no Docker daemon in CI)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
RASD_SERVICES = ("topics", "connector", "worker", "api")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves the `<<: *rasd` merges
    assert isinstance(data, dict)
    return data


def _is_setting(name: str) -> bool:
    return name.startswith("RASD_") and name.removeprefix("RASD_").lower() in Settings.model_fields


def test_matches_the_compose_specification() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_catches_mistakes(tmp_path: Path) -> None:
    """The validation above is not vacuous: a misspelt key and a bad condition fail it."""
    bad = COMPOSE.read_text(encoding="utf-8")
    bad = bad.replace("stop_grace_period:", "stop_grace_perod:").replace(
        "condition: service_completed_successfully", "condition: finished"
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(bad, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "stop_grace_perod" in result.stdout and "finished" in result.stdout


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        if name in RASD_SERVICES:
            assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
            continue
        assert re.fullmatch(r"[\w./-]+:\$\{[A-Z_]+:-\d+\.\d+\.\d+\}", image), f"{name}: {image} is not pinned"


def test_elasticsearch_is_9_with_security_on_by_default(compose: dict[str, Any]) -> None:
    es = compose["services"]["elasticsearch"]
    assert re.search(r":-9\.\d+\.\d+\}$", es["image"])
    env = es["environment"]
    assert env["xpack.security.enabled"] == "${ES_SECURITY:-true}"
    assert env["discovery.type"] == "single-node"
    # the password comes from deploy/.env: required, never a committed value
    assert env["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    assert all(p.startswith("127.0.0.1:") for p in es["ports"])


def test_kafka_runs_kraft_without_zookeeper(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in k for k in env)
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert all(p.startswith("127.0.0.1:") for p in kafka["ports"])


def test_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("kafka", "elasticsearch"):
        assert "test" in services[name]["healthcheck"], name
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert services["topics"]["restart"] == "no"
    assert services["topics"]["command"][:2] == ["topics", "create"]
    for name in ("connector", "worker", "api"):
        assert services[name]["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
    assert services["worker"]["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}


def test_worker_can_be_scaled(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["command"] == ["worker"]
    for blocker in ("container_name", "ports", "hostname"):  # each would clash with --scale worker=N
        assert blocker not in worker


def test_connector_uses_existing_commands(compose: dict[str, Any]) -> None:
    from pipeline.cli.main import parse_args

    connector = compose["services"]["connector"]
    assert "entrypoint" not in connector  # the image's `rasd`
    args = parse_args(connector["command"])  # a real subcommand and flag, not an invented one
    assert (args.command, args.forever) == ("ingest", True)


def test_rasd_env_names_are_real_settings(compose: dict[str, Any]) -> None:
    for name in RASD_SERVICES:
        env = compose["services"][name]["environment"]
        unknown = [k for k in env if not _is_setting(k)]
        assert not unknown, f"{name}: not Rasd settings: {unknown}"
        assert env["RASD_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert compose["services"][name]["volumes"] == ["rasd-data:/data"]


def test_kibana_is_optional(compose: dict[str, Any]) -> None:
    for name in ("kibana", "kibana-setup"):
        assert compose["services"][name]["profiles"] == ["kibana"]
    for name, service in compose["services"].items():
        if not name.startswith("kibana"):
            assert "profiles" not in service, name


def test_api_service(compose: dict[str, Any]) -> None:
    from pipeline.cli.main import _COMMANDS

    api = compose["services"]["api"]
    assert api["command"][0] in _COMMANDS
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}


def test_rasd_uses_elasticsearch_with_the_env_password(compose: dict[str, Any]) -> None:
    env = compose["x-rasd"]["environment"]
    assert env["RASD_SEARCH_BACKEND"] == "${RASD_SEARCH_BACKEND:-elasticsearch}"
    assert env["RASD_ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    assert env["RASD_ELASTICSEARCH_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    # an empty API key would be sent instead of the password: only set it when there is one
    assert "RASD_ELASTICSEARCH_API_KEY" not in env


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, flags=re.MULTILINE)
    assert re.search(r"^USER rasd(:rasd)?$", text, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["rasd"]' in text
    assert "pip install --no-cache-dir ." in text  # the project without extras: no dev dependencies
    assert "[dev]" not in text
    for line in re.findall(r"^COPY (?:--\S+ )*(.+)$", text, flags=re.MULTILINE):
        *sources, _dest = line.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY source {source} is missing"
    assert "COPY config ./config" in text


def test_env_example_has_no_secrets() -> None:
    values = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    assert values["ELASTIC_PASSWORD"] == "" and values["KIBANA_PASSWORD"] == ""
    assert all(_is_setting(k) for k in values if k.startswith("RASD_"))
