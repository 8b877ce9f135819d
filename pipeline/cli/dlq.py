"""`rasd dlq list|replay`: what failed and why, and re-injecting it after the cause is fixed."""

from __future__ import annotations

import argparse
import json
from collections import Counter

from pipeline.cli.common import resolve_bootstrap
from pipeline.dead_letters import STAGES, ReplayReport, load_progress, read_letters, replay
from pipeline.settings import Settings

__all__ = ["add_parser", "run_dlq"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="list or replay dead letters (articles.dlq)")
    actions = p.add_subparsers(dest="dlq_command", required=True)
    ls = actions.add_parser("list", help="dead letters with stage, reason and key, newest last")
    ls.add_argument(
        "--stage", action="append", default=[], choices=sorted(STAGES), help="only this stage (repeatable)"
    )
    ls.add_argument("--limit", type=int, default=50, help="show the last N (default 50)")
    ls.add_argument("--json", action="store_true", help="one JSON dead letter per line")
    ls.add_argument("--pending", action="store_true", help="only letters not replayed yet")
    rp = actions.add_parser("replay", help="re-inject dead letters into the topic their stage reads")
    rp.add_argument(
        "--stage", action="append", default=[], choices=sorted(STAGES), help="only this stage (repeatable)"
    )
    rp.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    rp.add_argument("--from-start", action="store_true", help="ignore the saved position")


def run_dlq(settings: Settings, args: argparse.Namespace) -> int:
    bootstrap = resolve_bootstrap(settings)
    offsets_path = settings.data_dir / "dlq-replayed.json"
    if args.dlq_command == "list":
        start = load_progress(offsets_path) if args.pending else None
        letters = [
            x
            for x in read_letters(bootstrap, start)
            if not args.stage or (x.letter and x.letter.stage in args.stage)
        ]
        shown = letters[-args.limit :] if args.limit > 0 else letters
        for item in shown:
            if args.json:
                body = (
                    item.letter.model_dump(mode="json")
                    if item.letter
                    else {"raw": item.raw.decode(errors="replace")}
                )
                print(
                    json.dumps(
                        {"partition": item.partition, "offset": item.offset, **body}, ensure_ascii=False
                    )
                )
            elif item.letter is None:
                print(f"{item.partition}:{item.offset}  (not a dead letter record)")
            else:
                d = item.letter
                when = d.failed_at.strftime("%Y-%m-%d %H:%M:%S")
                where = f"{item.partition}:{item.offset}"
                print(f"{where}  {when}  stage={d.stage}  key={d.key}  {d.error_type}: {d.error[:160]}")
        if not args.json:
            stages = Counter(x.letter.stage if x.letter else "?" for x in letters)
            summary = ", ".join(f"{k}={v}" for k, v in sorted(stages.items())) or "none"
            print(f"{len(letters)} dead letter(s): {summary}")
        return 0
    report = ReplayReport()
    verb = "would replay" if args.dry_run else "replayed"
    try:
        replay(
            bootstrap,
            offsets_path,
            stages=args.stage,
            dry_run=args.dry_run,
            from_start=args.from_start,
            report=report,
        )
    except BaseException:  # a publish error, Ctrl-C: what was sent (and saved as sent) still shown
        _print_report(report, verb, interrupted=True)
        raise
    _print_report(report, verb, interrupted=False)
    return 0


def _print_report(report: ReplayReport, verb: str, *, interrupted: bool) -> None:
    for article_id, topic in report.replayed:
        print(f"{verb} {article_id} → {topic}")
    for partition, offset, why in report.skipped:
        print(f"kept {partition}:{offset}: {why}")
    stopped = "stopped early: " if interrupted else ""
    print(f"{stopped}{verb} {len(report.replayed)}, kept {len(report.skipped)}", flush=True)
