"""`rasd alerts`: recent alerts with their evidence, newest first."""

from __future__ import annotations

import argparse
import json
from urllib.parse import unquote

from pipeline.alerts.deliveries import DeliveryLog
from pipeline.alerts.store import AlertStore
from pipeline.settings import Settings

__all__ = ["add_parser", "run_alerts"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="list recent alerts, newest first")
    p.add_argument("--watch", help="only this watch id")
    p.add_argument("--limit", type=_at_least_one, default=20, help="how many alerts (≥ 1; default 20)")
    p.add_argument("--json", action="store_true", help="one JSON alert per line")


def _at_least_one(value: str) -> int:
    """A count of at least 1: SQLite reads a negative LIMIT as no limit at all."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, not {value!r}")
    return n


def _delivery_status(settings: Settings, alert_ids: list[str]) -> dict[str, str]:
    """`channel=ok|failed` per alert, from the delivery log (the latest outcome per channel)."""
    if not settings.deliveries_path.is_file():
        return {}
    log = DeliveryLog(settings.deliveries_path)
    try:
        out = {}
        for alert_id in alert_ids:
            latest = {r.channel: r.status for r in log.for_alert(alert_id)}
            out[alert_id] = " ".join(f"{c}={s}" for c, s in sorted(latest.items()))
        return out
    finally:
        log.close()


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
    deliveries = _delivery_status(settings, [a.id for a in alerts])
    for alert in alerts:
        if args.json:
            print(json.dumps(alert.model_dump(mode="json"), ensure_ascii=False))
            continue
        when = alert.created.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{when}  [{alert.watch_name}]  {alert.title}")
        print(f"    {alert.source} · {unquote(alert.url) if alert.url else alert.article_id}")
        for ev in alert.evidence:
            count = f" ×{ev.count}" if ev.count > 1 else ""
            print(f"    {ev.kind}: {ev.value}{count}  «{ev.surface}»  {ev.snippet}")
        if alert.also:
            print(f"    also in: {', '.join(sorted({a.source for a in alert.also}))}")
        if deliveries.get(alert.id):
            print(f"    delivered: {deliveries[alert.id]}")
    if not alerts:
        print("no alerts yet")
    return 0
