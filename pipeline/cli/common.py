"""Helpers every subcommand shares: settings, logging, broker discovery, printing errors."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.atomic import write_atomically
from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = [
    "broker_file",
    "configure_logging",
    "fail",
    "load_settings",
    "resolve_bootstrap",
    "write_broker_file",
]


def load_settings() -> Settings:
    """Settings from `RASD_*` env vars, with validation errors turned into a ConfigError."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"RASD_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            if e["loc"]
            else e["msg"].removeprefix("Value error, ")  # a check across fields names its own
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
    if not settings.config_dir.is_dir():  # else every config file would read as absent: no feeds, no watches
        raise ConfigError(f"RASD_CONFIG_DIR: {settings.config_dir} is not a directory")
    return settings


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """Appends the stable keys passed with `extra=` (feed_id, url, error …) as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure_logging(level: str) -> None:
    """Plain timestamped logs on stderr; Faust and Kafka clients only from warnings up."""
    numeric = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}[
        level
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=numeric, handlers=[handler])
    for noisy in ("kafka", "aiokafka", "faust", "mode", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def broker_file(settings: Settings) -> Path:
    """Where `rasd run` records the embedded broker's address for other commands."""
    return settings.data_dir / "broker.json"


def write_broker_file(path: Path, record: dict[str, Any]) -> None:
    """Write `broker.json` atomically: other commands read it while `rasd run` starts."""
    write_atomically(path, json.dumps(record).encode("utf-8"))


def _recorded_bootstrap(path: Path) -> str:
    """The bootstrap in a `broker.json`; ConfigError naming the file when it is damaged."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path} is damaged ({exc}): delete it, or restart `rasd run`") from exc
    bootstrap = record.get("bootstrap") if isinstance(record, dict) else None
    if not isinstance(bootstrap, str) or not bootstrap:
        raise ConfigError(f"{path} names no broker: delete it, or restart `rasd run`")
    return bootstrap


def resolve_bootstrap(settings: Settings) -> str:
    """RASD_KAFKA_BOOTSTRAP, else the embedded broker of a running `rasd run`, else a clear error."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    path = broker_file(settings)
    if path.is_file():
        return _recorded_bootstrap(path)
    raise ConfigError(
        "no Kafka broker: set RASD_KAFKA_BOOTSTRAP, or start `rasd run` (embedded broker) first"
    )


def fail(message: str, code: int = 1) -> int:
    """Print `Error: message` on stderr and return the exit code."""
    print(f"Error: {message}", file=sys.stderr)
    return code
