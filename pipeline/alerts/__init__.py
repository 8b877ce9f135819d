"""Alerting: watch rules (pure), the alert log, and delivery channels."""

from pipeline.alerts.rules import CompiledWatch, compile_watch, compile_watches, match_watch
from pipeline.alerts.store import AlertStore

__all__ = ["AlertStore", "CompiledWatch", "compile_watch", "compile_watches", "match_watch"]
