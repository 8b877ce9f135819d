"""Loading configuration data (`config/*.yaml`) into validated models; bad files raise `ConfigError`.

Configuration is data: feeds, watchlists, topics and entities live in YAML under `config/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from pipeline.errors import ConfigError
from pipeline.models import Watch

__all__ = ["FeedConfig", "load_feeds", "load_list", "load_watches", "read_text", "read_yaml", "unique_ids"]

M = TypeVar("M", bound=BaseModel)


class FeedConfig(BaseModel):
    """One feed from `config/feeds.yaml`; per-feed values override the global settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9_.-]{1,64}$")
    url: HttpUrl
    name: str = ""
    language: str = "ar"
    country: str | None = None
    enabled: bool = True
    poll_interval_s: float | None = Field(default=None, gt=0, le=7 * 86_400)  # finite: date arithmetic
    fulltext: Literal["auto", "always", "never"] = "auto"
    allow_insecure_tls: bool = False


# the libyaml safe loader when PyYAML was built with it (4x faster on the entity registry)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, naming the file and position on error."""
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_LOADER)  # a safe loader: plain data, no object tags
    except yaml.YAMLError as exc:
        # one line: PyYAML's message spans several ("while parsing … in "<unicode string>", line 1")
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"{path}: invalid YAML{at}: {problem}") from exc


def read_text(path: Path) -> str:
    """A configuration text file, naming the file when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:  # a directory, no permission ...
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def load_list(path: Path, key: str, model: type[M]) -> list[M]:
    """Validate every item of the `key:` list in one YAML file; errors name the file, item and field."""
    data = read_yaml(path) or {}
    items = data.get(key, []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{path}: expected a mapping with a {key!r} list")
    out: list[M] = []
    for i, item in enumerate(items):
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            raise ConfigError(f"{path}: {key}[{i}]: {_describe(exc)}") from exc
    return out


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=_Identified)


def unique_ids(items: list[Item], path: Path, key: str, what: str) -> list[Item]:
    """`items` when no id is given twice; else a ConfigError naming the file, entry and id."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            raise ConfigError(f"{path}: {key}[{i}]: duplicate {what} id {item.id!r}")
        seen.add(item.id)
    return items


def load_feeds(path: Path) -> list[FeedConfig]:
    """Feeds from `feeds.yaml` (`feeds: [{id, url, ...}]`); ids must be unique."""
    return unique_ids(load_list(path, "feeds", FeedConfig), path, "feeds", "feed")


def load_watches(path: Path) -> list[Watch]:
    """Watches from `watchlists.yaml` (`watches: [{id, any_of, all_of, none_of, ...}]`); ids unique."""
    return unique_ids(load_list(path, "watches", Watch), path, "watches", "watch")
