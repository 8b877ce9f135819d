"""`rasd topics create`: create Rasd's Kafka topics from `topic_plan(settings)` (`--dry-run` prints it).

Exit codes: 0 when every topic exists afterwards, 2 when the broker cannot be reached, refuses a
topic, or no broker is configured.
"""

from __future__ import annotations

import argparse
import logging

from pipeline.broker import TopicsReport, provision_topics
from pipeline.cli.common import fail, resolve_bootstrap
from pipeline.errors import BrokerError, ConfigError
from pipeline.settings import Settings
from pipeline.topics import TopicSpec, topic_plan

__all__ = ["add_parser", "format_plan", "format_report", "run_topics"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("topics", help="manage Rasd's Kafka topics")
    actions = p.add_subparsers(dest="topics_command", required=True)
    create = actions.add_parser(
        "create",
        help="create every Rasd topic (partitions, replication, retention from RASD_* settings)",
    )
    create.add_argument("--dry-run", action="store_true", help="print the plan; do not contact Kafka")
    create.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to keep retrying while Kafka is unreachable (default 30)",
    )


def _hours(ms: int | None) -> str:
    if ms is None:
        return "default"
    hours = ms // 3_600_000
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


def format_plan(plan: tuple[TopicSpec, ...]) -> list[str]:
    """One line per topic: name, partitions, replication, retention and the raw configs."""
    width = max(len(s.name) for s in plan)
    lines = [f"{'topic':<{width}}  partitions  replication  retention  configs"]
    for s in plan:
        configs = " ".join(f"{k}={v}" for k, v in sorted(s.configs.items()))
        retention = _hours(s.retention_ms)
        lines.append(f"{s.name:<{width}}  {s.partitions:>10}  {s.replication:>11}  {retention:>9}  {configs}")
    return lines


def format_report(plan: tuple[TopicSpec, ...], report: TopicsReport) -> list[str]:
    """`created`/`exists` per topic, with a note where an existing topic has fewer partitions than planned."""
    width = max(len(s.name) for s in plan)
    lines = []
    for s in plan:
        if s.name in report.created:
            lines.append(
                f"created  {s.name:<{width}}  {s.partitions} partitions, replication {s.replication}, "
                f"retention {_hours(s.retention_ms)}"
            )
            continue
        has = report.partitions.get(s.name)
        note = f"  {has} partition{'' if has == 1 else 's'}" if has is not None else ""
        if has is not None and has < s.partitions:
            note += f" (plan: {s.partitions}; not changed, raise them with kafka-topics.sh --alter)"
        lines.append(f"exists   {s.name:<{width}}{note}")
    return lines


def run_topics(settings: Settings, args: argparse.Namespace) -> int:
    plan = topic_plan(settings)
    if args.dry_run:
        target = settings.kafka_bootstrap or "RASD_KAFKA_BOOTSTRAP (unset)"
        print(f"plan for {target}:")
        print("\n".join(format_plan(plan)))
        return 0
    if settings.log_level != "debug":
        # kafka-python logs every refused connect at ERROR; the one-line error below says it all
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        bootstrap = resolve_bootstrap(settings)
        report = provision_topics(bootstrap, plan, timeout=args.timeout)
    except (BrokerError, ConfigError) as exc:
        return fail(str(exc), code=2)
    print("\n".join(format_report(plan, report)))
    print(f"topics on {bootstrap}: {len(report.created)} created, {len(report.existing)} existing")
    return 0
