"""`rasd alerts`: recent alerts with their evidence, newest first."""

from __future__ import annotations

import argparse
import json
from urllib.parse import unquote

from pipeline.alerts.store import AlertStore
from pipeline.settings import Settings

__all__ = ["add_parser", "run_alerts"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="list recent alerts, newest first")
    p.add_argument("--watch", help="only this watch id")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="one JSON alert per line")


def run_alerts(settings: Settings, args: argparse.Namespace) -> int:
    path = settings.data_dir / "alerts.sqlite3"
    if not path.is_file():
        print("no alerts yet")
        return 0
    store = AlertStore(path)
    try:
        alerts = store.recent(limit=args.limit, watch_id=args.watch)
    finally:
        store.close()
    for alert in alerts:
        if args.json:
            print(json.dumps(alert.model_dump(mode="json"), ensure_ascii=False))
            continue
        when = alert.created.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{when}  [{alert.watch_name}]  {alert.title}")
        print(f"    {alert.source} · {unquote(alert.url) if alert.url else alert.article_id}")
        for ev in alert.evidence:
            print(f"    {ev.kind}: {ev.value}  «{ev.surface}»  {ev.snippet}")
    if not alerts:
        print("no alerts yet")
    return 0
