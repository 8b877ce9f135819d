"""The `alerts` topic copied into one process's alert log, for an API whose workers run elsewhere.

Workers record each alert in their own alert log and publish it on the `alerts` topic. Where the API
shares their data dir (`rasd run`, compose) it reads that log. In Kubernetes every pod has its own, so
`GET /alerts`, the live stream and the UI's alert page of an API pod showed nothing: with
`RASD_API_ALERTS_FROM_TOPIC=true` the API reads the topic (every partition, from the start of its
retention, no consumer group) into its own log. `AlertStore.record` is idempotent by alert id and
folds the copies of one story that different workers alerted into one alert, so reading the topic
again after a restart changes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from pipeline import topics
from pipeline.alerts.store import AlertStore
from pipeline.broker import open_reader
from pipeline.models import Alert

__all__ = ["AlertMirror"]

log = logging.getLogger("rasd.alerts.mirror")

_POLL_MS = 1000
_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # waits between attempts while the broker is away


class AlertMirror:
    """A daemon thread that records every alert on the topic in `store`; `stop` ends it."""

    def __init__(
        self,
        bootstrap: str,
        store: AlertStore,
        *,
        topic: str = topics.ALERTS,
        consumer: Callable[[str], Any] = open_reader,
    ) -> None:
        self.bootstrap = bootstrap
        self.store = store
        self.topic = topic
        self._consumer = consumer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rasd-alert-mirror", daemon=True)
        self.recorded = 0  # alerts read from the topic (new, merged or seen before)
        self.unreadable = 0  # records that are no alert this version can read (skipped)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._follow()
                return
            except (KafkaError, OSError) as exc:
                wait = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                failures += 1
                log.warning(
                    "reading %s from %s failed (%s); again in %.0f s", self.topic, self.bootstrap, exc, wait
                )
                self._stop.wait(wait)

    def _follow(self) -> None:
        """Read every partition from its start, then keep reading new alerts until stopped. Partitions
        are looked up again while none exist yet (the workers create the topic)."""
        consumer = self._consumer(self.bootstrap)
        try:
            assigned: set[int] = set()
            while not self._stop.is_set():
                found = consumer.partitions_for_topic(self.topic) or set()
                if found - assigned:
                    assigned = set(found)
                    consumer.assign([TopicPartition(self.topic, p) for p in sorted(assigned)])
                if not assigned:
                    self._stop.wait(_POLL_MS / 1000)
                    continue
                for records in consumer.poll(timeout_ms=_POLL_MS).values():
                    for record in records:
                        self._record(record.value)
        finally:
            consumer.close()

    def _record(self, value: bytes | None) -> None:
        try:
            alert = Alert.model_validate_json(value or b"")
        except ValidationError as exc:
            self.unreadable += 1
            log.warning("skipped a record on %s that is no alert: %s", self.topic, exc.errors()[0]["msg"])
            return
        self.store.record(alert)
        self.recorded += 1
