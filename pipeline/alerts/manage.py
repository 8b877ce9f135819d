"""Watch management shared by `rasd watch` and the HTTP API: validate, compile, store, list, pause, remove.

Every watch is validated and compiled against the entity registry and topics (as the worker
compiles it) before it is stored, so nothing a worker cannot run is ever written. Mistakes raise
`ConfigError` with one message naming the watch and the field (`watch 'x': any_of.entities: unknown
entity 'فلان'`); callers print it (CLI, exit 2) or return it as a 4xx (API).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from pipeline.alerts.rules import CompiledWatch, compile_watch
from pipeline.alerts.watchstore import WATCHES_FILE, Origin, StoredWatch, WatchStore, effective_watches
from pipeline.alerts.watchstore import WatchState as StoredState
from pipeline.config import load_watches
from pipeline.enrich.registry import EntityRegistry, load_registry
from pipeline.enrich.topics import load_topics
from pipeline.errors import ConfigError
from pipeline.models import Condition, Watch
from pipeline.settings import Settings

__all__ = [
    "Catalogue",
    "WatchEntry",
    "WatchManager",
    "describe_errors",
    "entity_label",
    "summarize",
    "validate_watch",
]

WatchState = Literal["active", "paused"]


@dataclass(frozen=True)
class Catalogue:
    """What watches compile against: the entity registry and the topic ids (as the worker loads them)."""

    registry: EntityRegistry
    topics: frozenset[str]

    @classmethod
    def load(cls, settings: Settings) -> Catalogue:
        """Registry and topics from `settings.config_dir`."""
        return cls(
            load_registry(settings.entities_dir), frozenset(t.id for t in load_topics(settings.topics_file))
        )

    def compile(self, watch: Watch) -> CompiledWatch:
        """Compile a watch; `ConfigError` naming the field when it cannot work."""
        return compile_watch(watch, self.registry, self.topics)


@dataclass(frozen=True)
class WatchEntry:
    """A watch in force and where it comes from (the config file, or added at run time)."""

    watch: Watch
    origin: Origin

    @property
    def state(self) -> WatchState:
        return "paused" if self.watch.paused else "active"


def describe_errors(exc: ValidationError, watch_id: object) -> str:
    """One line naming the watch and every invalid field."""
    problems = []
    for e in exc.errors():
        msg = str(e["msg"]).removeprefix("Value error, ")
        loc = ".".join(str(p) for p in e["loc"])
        problems.append(f"{loc}: {msg}" if loc else msg)
    return f"watch {watch_id!r}: " + "; ".join(problems)


def validate_watch(data: Mapping[str, Any], where: str = "") -> Watch:
    """A `Watch` from a mapping (YAML, JSON or flags); `ConfigError` naming the field otherwise.

    `where` prefixes the message (a file name, say).
    """
    try:
        return Watch.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(where + describe_errors(exc, data.get("id"))) from exc


def entity_label(name: str, registry: EntityRegistry) -> tuple[str, str]:
    """(canonical id, Arabic name) of a watched entity, or (name, "unknown")."""
    ent = registry.resolve(name)
    return (ent.id, ent.name_ar) if ent is not None else (name, "unknown")


def _condition_text(cond: Condition, registry: EntityRegistry) -> str:
    items = [f"{eid} ({name})" for eid, name in (entity_label(e, registry) for e in cond.entities)]
    items += [f"topic {t}" for t in cond.topics]
    items += [f"«{w}»" for w in cond.words]
    return ", ".join(items)


def summarize(watch: Watch, registry: EntityRegistry) -> str:
    """One line: the conditions (entities with their canonical names), filters and surge."""
    parts = []
    for label, cond in (("any_of", watch.any_of), ("all_of", watch.all_of), ("none_of", watch.none_of)):
        if not cond.is_empty():
            parts.append(f"{label}: {_condition_text(cond, registry)}")
    if watch.sources:
        parts.append("sources: " + ", ".join(watch.sources))
    if watch.languages:
        parts.append("languages: " + ", ".join(watch.languages))
    if watch.min_mentions > 1:
        parts.append(f"min_mentions: {watch.min_mentions}")
    if s := watch.surge:
        parts.append(
            f"surge: ≥{s.min_count} and ×{s.factor:g} per {s.window} (baseline {s.baseline_windows})"
        )
    return "; ".join(parts)


class WatchManager:
    """The watches in force (config file + run-time store) and the changes users make to them.

    The catalogue (registry, topics) is loaded on first need unless given, so commands that only
    list or pause never pay for it twice; a long-lived API process passes its own.
    """

    def __init__(
        self, settings: Settings, store: WatchStore | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.settings = settings
        self._owns_store = store is None
        self.store = store if store is not None else WatchStore(settings.data_dir / WATCHES_FILE)
        self._catalogue = catalogue

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = Catalogue.load(self.settings)
        return self._catalogue

    def close(self) -> None:
        """Close the store when this manager opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> WatchManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def config_watches(self) -> list[Watch]:
        """The watches of `config/watchlists.yaml` (none when there is no such file)."""
        path = self.settings.watchlists_file
        return load_watches(path) if path.is_file() else []

    def in_force(self) -> list[WatchEntry]:
        """Config watches (as overridden) first, then run-time additions by id."""
        return self._read()[0]

    def _read(self) -> tuple[list[WatchEntry], dict[str, StoredWatch], list[Watch]]:
        """The watches in force, and the store rows and config watches they were made of."""
        config, rows = self.config_watches(), self.store.overrides()
        return [WatchEntry(w, origin) for w, origin in effective_watches(config, rows)], rows, config

    def find(self, watch_id: str) -> WatchEntry:
        """The watch in force with this id; `ConfigError` when there is none."""
        return _find(self.in_force(), watch_id)

    def compile(self, watch: Watch) -> CompiledWatch:
        """Compile against the catalogue; `ConfigError` naming the field when it cannot work."""
        return self.catalogue.compile(watch)

    def _write(
        self, watch_id: str, change: StoredWatch | None, rows: dict[str, StoredWatch], config: list[Watch]
    ) -> None:
        """Store a change only if the row is still as read (`WatchConflict` otherwise); prune rows
        over config watches the file no longer has."""
        row = rows.get(watch_id)
        expect = row.revision if row is not None else None
        self.store.write(watch_id, change, expect=expect, config_ids={w.id for w in config})

    def add(self, watch: Watch, *, replace: bool = False) -> Literal["added", "replaced"]:
        """Compile, then store a watch; an existing id needs `replace` (a config watch is overridden).

        `WatchConflict` when someone else changed or added this id while it compiled.
        """
        entries, rows, config = self._read()
        existing = {e.watch.id: e.origin for e in entries}
        if watch.id in existing and not replace:
            raise ConfigError(
                f"watch {watch.id!r} already exists ({existing[watch.id]}): use --replace to replace it"
            )
        self.compile(watch)  # nothing is stored unless the worker could compile it
        state: StoredState = "paused" if watch.paused else "active"
        of_config = existing.get(watch.id) == "config"
        self._write(watch.id, StoredWatch(watch, state, of_config), rows, config)
        return "replaced" if watch.id in existing else "added"

    def set_paused(self, watch_id: str, *, paused: bool) -> bool:
        """Pause or resume a watch; False when it already was in that state.

        A config watch gets a bare state flag (dropped again when it returns to the file's state), so
        later edits of the config file still apply; a replaced or run-time watch is stored whole.
        """
        entries, rows, config = self._read()
        entry = _find(entries, watch_id)
        if entry.watch.paused == paused:
            return False
        state: StoredState = "paused" if paused else "active"
        changed = entry.watch.model_copy(update={"paused": paused})
        change: StoredWatch | None
        if entry.origin == "runtime":
            change = StoredWatch(changed, state)
        elif changed == (base := next(w for w in config if w.id == watch_id)):
            change = None  # back to the config file's own definition and state: no override left
        elif changed == base.model_copy(update={"paused": paused}):
            change = StoredWatch(None, state, of_config=True)  # the file's definition, this state
        else:
            change = StoredWatch(changed, state, of_config=True)  # a replacement (`add --replace`)
        self._write(watch_id, change, rows, config)
        return True

    def remove(self, watch_id: str) -> None:
        """Remove a watch in force; a config watch stays removed (tombstone) while the file has it."""
        entries, rows, config = self._read()
        entry = _find(entries, watch_id)
        self._write(watch_id, StoredWatch(None, "removed", entry.origin == "config"), rows, config)

    def describe(self, entry: WatchEntry) -> dict[str, Any]:
        """The JSON row `rasd watch list --json` and `GET /watches` give for one watch."""
        registry = self.catalogue.registry
        w = entry.watch
        return {
            "id": w.id,
            "name": w.name,
            "owner": w.owner,
            "state": entry.state,
            "origin": entry.origin,
            "summary": summarize(w, registry),
            "entities": [
                dict(zip(("id", "name"), entity_label(e, registry), strict=True))
                for cond in (w.any_of, w.all_of, w.none_of)
                for e in cond.entities
            ],
            "watch": w.model_dump(mode="json"),
        }


def _find(entries: list[WatchEntry], watch_id: str) -> WatchEntry:
    for entry in entries:
        if entry.watch.id == watch_id:
            return entry
    raise ConfigError(f"unknown watch {watch_id!r} (see `rasd watch list`)")
