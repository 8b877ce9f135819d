"""`rasd watch`: add, list, pause, resume and remove watches at run time, and backtest them.

Changes go to the watch store in the data dir; running workers pick them up at their next batch.
The logic lives in `pipeline.alerts.manage` (shared with the HTTP API); this module parses flags and
prints. Every watch is validated and compiled against the entity registry and topics before it is
stored. Mistakes in what the user typed (unknown entity, empty condition, bad YAML, unknown or
duplicate id) print one line naming the field and exit with code 2, storing nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pipeline.alerts.backtest import BacktestReport, backtest_backend
from pipeline.alerts.manage import WatchManager, summarize, validate_watch
from pipeline.cli.common import fail
from pipeline.config import read_yaml
from pipeline.enrich.registry import EntityRegistry
from pipeline.errors import ConfigError
from pipeline.models import Watch, parse_duration
from pipeline.search import connected
from pipeline.settings import Settings

__all__ = ["add_parser", "run_watch", "summarize"]

USAGE_ERROR = 2
_TEST_ID = "backtest"
# (flag, condition, field): --entity → any_of.entities, --none-word → none_of.words …
_CONDITION_FLAGS = [
    (f"--{prefix}{kind}", part, field)
    for prefix, part in (("", "any_of"), ("all-", "all_of"), ("none-", "none_of"))
    for kind, field in (("entity", "entities"), ("topic", "topics"), ("word", "words"))
]
# argparse dest → Watch field
_OTHER_FLAGS = {
    "name": "name",
    "owner": "owner",
    "source": "sources",
    "language": "languages",
    "min_mentions": "min_mentions",
    "channel": "channels",
}
_SURGE_FLAGS = {
    "surge_window": "window",
    "surge_factor": "factor",
    "surge_min": "min_count",
    "surge_baseline": "baseline_windows",
}


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _definition_args(p: argparse.ArgumentParser) -> None:
    """The flags that define a watch (shared by `add` and `test`)."""
    p.add_argument("--file", type=Path, help="a YAML file holding one watch mapping")
    p.add_argument("--name", help="display name")
    p.add_argument("--owner", help="who the watch belongs to")
    cond = p.add_argument_group("conditions (repeatable; entity = canonical id or any known name)")
    for flag, part, field in _CONDITION_FLAGS:
        cond.add_argument(
            flag, action="append", default=[], metavar=flag.split("-")[-1].upper(), help=f"{part}.{field}"
        )
    p.add_argument("--source", action="append", default=[], help="only articles of this feed id (repeatable)")
    p.add_argument("--language", action="append", default=[], help="only articles in this language")
    p.add_argument("--min-mentions", type=int, help="mentions of the watched entities/words in one article")
    p.add_argument("--channel", action="append", default=[], help="delivery channel (repeatable)")
    surge = p.add_argument_group("surge (fire on a rise in mentions instead of single articles)")
    surge.add_argument("--surge-window", metavar="DURATION", help="window size, e.g. 1h")
    surge.add_argument("--surge-factor", type=float, help="times the baseline mean")
    surge.add_argument("--surge-min", type=int, help="least mentions in a window")
    surge.add_argument("--surge-baseline", type=int, help="windows in the baseline")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("watch", help="manage watches at run time (no restart) and backtest them")
    ws = p.add_subparsers(dest="watch_command", required=True, metavar="{add,list,pause,resume,rm,test}")

    add = ws.add_parser("add", help="validate, compile and store a watch; workers pick it up")
    add.add_argument("id", nargs="?", help="watch id (letters, digits, _ . -)")
    _definition_args(add)
    add.add_argument("--replace", action="store_true", help="replace (or override) a watch with this id")

    listing = ws.add_parser("list", help="watches in force: state, origin and conditions")
    listing.add_argument("--json", action="store_true", help="print a JSON array")

    for name, text in (
        ("pause", "stop a watch firing (kept, can be resumed)"),
        ("resume", "let a paused watch fire again"),
        ("rm", "remove a watch (a config-file watch stays removed)"),
    ):
        ws.add_parser(name, help=text).add_argument("id")

    test = ws.add_parser("test", help="backtest a watch over the indexed history")
    test.add_argument("id", nargs="?", help="a watch in force, or the id for a watch given by flags")
    _definition_args(test)
    test.add_argument("--since", default="30d", help="duration back from now (30d, 12h) or ISO date [30d]")
    test.add_argument("--until", help="duration back from now or ISO date/time; a date includes that day")
    test.add_argument("--examples", type=int, default=10, help="example alerts to show [10]")
    test.add_argument("--json", action="store_true", help="print the report as JSON")


def run_watch(settings: Settings, args: argparse.Namespace) -> int:
    try:
        command = _SUBCOMMANDS[args.watch_command]
        return command(settings, args)
    except ConfigError as exc:
        return fail(" ".join(str(exc).split()), USAGE_ERROR)


# -- shared --------------------------------------------------------------------------------


def _manager(settings: Settings) -> WatchManager:
    return WatchManager(settings)


def _flag_data(args: argparse.Namespace) -> dict[str, Any]:
    """The watch fields the flags give (empty when none was given)."""
    data: dict[str, Any] = {}
    for flag, part, field in _CONDITION_FLAGS:
        if values := getattr(args, _dest(flag)):
            data.setdefault(part, {})[field] = values
    for dest, name in _OTHER_FLAGS.items():
        value = getattr(args, dest)
        if value not in (None, []):
            data[name] = value
    surge = {
        field: getattr(args, dest) for dest, field in _SURGE_FLAGS.items() if getattr(args, dest) is not None
    }
    if surge:
        data["surge"] = surge
    return data


def _watch_from_args(args: argparse.Namespace, default_id: str | None) -> Watch | None:
    """The watch the flags or `--file` define, validated; None when neither was given."""
    flags = _flag_data(args)
    where = ""
    if args.file is not None:
        if flags:
            raise ConfigError("give either --file or watch flags, not both")
        data = read_yaml(args.file)
        where = f"{args.file}: "
        if not isinstance(data, dict) or "watches" in data:
            raise ConfigError(f"{where}expected one watch mapping (id, entities/any_of, …), not a list")
        if args.id is not None and data.setdefault("id", args.id) != args.id:
            raise ConfigError(f"{where}the file is watch {data['id']!r}, not {args.id!r}")
    elif flags:
        data = {"id": args.id or default_id, **flags}
    else:
        return None
    return validate_watch(data, where)


# -- add / pause / resume / rm -------------------------------------------------------------


def _add(settings: Settings, args: argparse.Namespace) -> int:
    watch = _watch_from_args(args, default_id=None)
    if watch is None:
        raise ConfigError("give the watch: --file watch.yaml, or an id with --entity/--topic/--word …")
    with _manager(settings) as manager:
        verb = manager.add(watch, replace=args.replace)
        for hint in _name_hints(watch, manager.catalogue.registry):
            print(hint, file=sys.stderr)
    state = " (paused)" if watch.paused else ""
    print(f"{verb} watch {watch.id}{state}; running workers pick it up at their next batch")
    return 0


def _name_hints(watch: Watch, registry: EntityRegistry) -> list[str]:
    """A word that names a registry entity matches its listed spellings; an analyst who means the actor
    wants the entity, which every mention the tagger resolves goes to (unlisted spellings, partial names)."""
    hints = []
    for word in dict.fromkeys([*watch.words, *watch.any_of.words, *watch.all_of.words]):
        ent = registry.resolve(word)
        if ent is not None and ent.id not in {
            *watch.entities,
            *watch.any_of.entities,
            *watch.all_of.entities,
        }:
            hints.append(
                f"note: {word!r} names {ent.name_ar} ({ent.id}); as a word it matches the spellings the "
                f"registry lists, --entity {ent.id} also every mention the tagger resolves to it"
            )
    return hints


def _pause(settings: Settings, args: argparse.Namespace) -> int:
    return _set_paused(settings, args.id, paused=True)


def _resume(settings: Settings, args: argparse.Namespace) -> int:
    return _set_paused(settings, args.id, paused=False)


def _set_paused(settings: Settings, watch_id: str, *, paused: bool) -> int:
    with _manager(settings) as manager:
        changed = manager.set_paused(watch_id, paused=paused)
    if not changed:
        print(f"watch {watch_id} is already {'paused' if paused else 'active'}")
        return 0
    print(f"watch {watch_id} {'paused' if paused else 'resumed'}")
    return 0


def _rm(settings: Settings, args: argparse.Namespace) -> int:
    with _manager(settings) as manager:
        manager.remove(args.id)
    print(f"removed watch {args.id}")
    return 0


# -- list ----------------------------------------------------------------------------------


def _list(settings: Settings, args: argparse.Namespace) -> int:
    with _manager(settings) as manager:
        rows = [manager.describe(entry) for entry in manager.in_force()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no watches")
        return 0
    columns = ("id", "state", "origin", "owner", "name")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns) + "  CONDITION")
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns) + f"  {r['summary']}")
    return 0


# -- test ----------------------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def parse_moment(text: str, label: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """`30d`/`12h` back from now, or an ISO date/time (UTC unless it says otherwise).

    With `end_of_day`, a bare date means the end of that day, so `--until 2026-03-24` includes it.
    """
    try:
        return now - parse_duration(text)
    except ValueError as exc:
        unit = text.strip()[-1:]
        if unit and unit in "smhd" and text.strip()[:-1].strip().isdigit():  # a duration, out of bounds
            raise ConfigError(f"{label}: {exc}") from exc
    except OverflowError as exc:  # 100 years back from a date near year 1
        raise ConfigError(f"{label}: {text!r} reaches before the first date there is") from exc
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(f"{label}: {text!r} is neither a duration (30d, 12h) nor an ISO date") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if end_of_day and _DATE_ONLY.match(text):
        if value.date() == date.max:
            raise ConfigError(f"{label}: {text!r} is the last date there is; leave it out to scan to the end")
        value += timedelta(days=1)
    return value


def _test(settings: Settings, args: argparse.Namespace) -> int:
    if args.examples < 0:
        raise ConfigError("--examples: must be 0 or more")
    watch = _watch_from_args(args, default_id=_TEST_ID)
    if watch is None:
        if args.id is None:
            raise ConfigError(
                "give a watch id, --file watch.yaml, or watch flags (--entity/--topic/--word …)"
            )
        with _manager(settings) as manager:
            watch = manager.find(args.id).watch
    now = datetime.now(UTC)
    since = parse_moment(args.since, "--since", now) if args.since else None
    until = parse_moment(args.until, "--until", now, end_of_day=True) if args.until else None
    if since and until and since >= until:
        raise ConfigError(f"--since ({since:%Y-%m-%d %H:%M}) must be before --until ({until:%Y-%m-%d %H:%M})")
    with _manager(settings) as manager:
        cw = manager.compile(watch)
        registry = manager.catalogue.registry

    async def go() -> tuple[BacktestReport, int]:
        async with connected(settings, registry.analyzer, writer=False) as backend:
            report = await backtest_backend(
                cw, backend, registry.analyzer, since=since, until=until, examples=args.examples
            )
            return report, (await backend.count() if report.supported and not report.scanned else 0)

    report, indexed = asyncio.run(go())
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print("\n".join(format_report(report)))
        if indexed:  # nothing in the window, though the index holds articles: say how to reach them
            print(
                f"the index holds {indexed} article(s) outside this window; widen it with --since "
                "(e.g. --since 2000-01-01)",
                file=sys.stderr,
            )
    return 0 if report.supported else USAGE_ERROR


def format_report(report: BacktestReport) -> Sequence[str]:
    """Totals, the per-day table and the example alerts with their evidence, as text lines."""
    span = " → ".join(f"{t:%Y-%m-%d %H:%M}" if t else "…" for t in (report.since, report.until))
    lines = [f"watch {report.watch_id} ({report.watch_name}), {span} UTC"]
    if not report.supported:
        return [*lines, report.message]
    lines.append(
        f"{report.scanned} article(s) scanned: {report.matched} match, "
        f"{report.stories} distinct stor{'y' if report.stories == 1 else 'ies'} (alerts it would have fired)"
    )
    if report.days:
        lines += ["", "day         articles  alerts"]
        lines += [f"{d.day.isoformat()}  {d.articles:8d}  {d.alerts:6d}" for d in report.days]
    if report.examples:
        lines += ["", f"first {len(report.examples)} alert(s):"]
    for n, alert in enumerate(report.examples, 1):
        lines.append(f"{n}. {alert.created:%Y-%m-%d %H:%M}  {alert.source}  {alert.title}")
        lines.append(f"   {unquote(alert.url) if alert.url else alert.article_id}")
        for ev in alert.evidence:
            lines.append(f"   {ev.kind}: {ev.value}  «{ev.surface}»  {ev.snippet}".rstrip())
        if alert.also:
            lines.append("   also: " + ", ".join(a.source for a in alert.also))
    return lines


_SUBCOMMANDS = {
    "add": _add,
    "list": _list,
    "pause": _pause,
    "resume": _resume,
    "rm": _rm,
    "test": _test,
}
