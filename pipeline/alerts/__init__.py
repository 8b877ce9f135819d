"""Alerting: watch rules (pure), surge detection (pure), backtests, the alert log, run-time watches and
delivery channels."""

from pipeline.alerts.backtest import BacktestReport, backtest
from pipeline.alerts.delivery import Deliverer
from pipeline.alerts.rules import CompiledWatch, compile_watch, compile_watches, find_evidence, match_watch
from pipeline.alerts.store import AlertStore
from pipeline.alerts.watchstore import WatchStore, effective_watches

__all__ = [
    "AlertStore",
    "BacktestReport",
    "CompiledWatch",
    "Deliverer",
    "WatchStore",
    "backtest",
    "compile_watch",
    "compile_watches",
    "effective_watches",
    "find_evidence",
    "match_watch",
]
