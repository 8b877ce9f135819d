"""Delivering articles to Kafka; the only module that imports kafka-python.

`publish` is synchronous and returns only once every record is acknowledged by all in-sync replicas
(`acks="all"`), so the caller can mark articles seen afterwards: a crash in between re-publishes, never
loses. Records are keyed by article id (UTF-8), so one article always lands on one partition and
downstream upserts absorb the duplicates.

`Publisher` is the contract the orchestrator and replay depend on; `MemoryPublisher` is a real in-memory
implementation for tests, dry runs and replay previews.

A record larger than the broker accepts (Kafka's default `message.max.bytes` is about 1 MiB) would fail the
whole batch on every poll. `fit_record` (`pipeline.records`, shared with the worker's producers) cuts the
body, then the summary, then the title until the JSON fits in `max_record_bytes` and flags the article
`truncated`; the orchestrator applies it with `settings.max_record_bytes` before publishing, and
`KafkaPublisher` applies it again to whatever it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Protocol, Self, runtime_checkable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from pipeline.broker import open_client
from pipeline.errors import PublishError
from pipeline.models import Article
from pipeline.records import DEFAULT_MAX_RECORD_BYTES, fit_record
from pipeline.topics import ARTICLES_RAW

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "KafkaPublisher",
    "MemoryPublisher",
    "Publisher",
    "crc32c_accelerated",
    "fit_record",
]

logger = logging.getLogger(__name__)

DEFAULT_DELIVERY_TIMEOUT_S: Final = 30.0
_KAFKA_DEFAULT_REQUEST_BYTES: Final = 1024 * 1024


def crc32c_accelerated() -> bool:
    """True when kafka-python checksums record batches with the C `crc32c` package (not pure Python)."""
    try:
        from kafka.record import util
    except ImportError:
        return False
    return getattr(util, "crc32c_c", None) is not None


if not crc32c_accelerated():
    # pure-Python CRC32C costs milliseconds per batch; `pip install crc32c` (a declared dependency) fixes it
    logger.warning("kafka-python is using the slow pure-Python crc32c; install the 'crc32c' package")


def _compression() -> str | None:
    """lz4 when its codec is installed, else no compression (gzip costs more CPU than it saves here)."""
    try:
        from kafka import codec
    except ImportError:
        return None
    return "lz4" if codec.has_lz4() else None


@runtime_checkable
class Publisher(Protocol):
    """Where new articles go: Kafka in production, memory in tests and dry runs."""

    def publish(self, articles: Iterable[Article]) -> int:
        """Deliver all articles or raise `PublishError`; returns how many were delivered."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


class MemoryPublisher:
    """Keeps published articles in a list; `fail_with` makes every publish raise (for failure paths)."""

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.calls = 0
        self.closed = False
        self.fail_with: Exception | None = None

    def publish(self, articles: Iterable[Article]) -> int:
        """Append the articles; raises `fail_with` when set."""
        batch = list(articles)
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.articles.extend(batch)
        return len(batch)

    def close(self) -> None:
        """Mark closed."""
        self.closed = True

    @property
    def ids(self) -> list[str]:
        """Ids in publish order."""
        return [a.id for a in self.articles]


class KafkaPublisher:
    """Synchronous, acknowledged delivery of articles to one topic."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = ARTICLES_RAW,
        *,
        client_id: str = "rasd-connector",
        delivery_timeout_s: float = DEFAULT_DELIVERY_TIMEOUT_S,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.topic = topic
        self.max_record_bytes = max_record_bytes
        self._timeout = delivery_timeout_s
        try:
            self._producer: Any = open_client(
                KafkaProducer,
                bootstrap_servers=[s.strip() for s in bootstrap.split(",") if s.strip()],
                client_id=client_id,
                acks="all",
                linger_ms=5,
                compression_type=_compression(),
                delivery_timeout_ms=int(delivery_timeout_s * 1000),
                request_timeout_ms=max(1000, int(delivery_timeout_s * 1000) - 1000),
                # kafka-python backs off reconnects up to 30 s by default: after a broker outage the
                # connector would sit idle that long (measured in tests/faults)
                reconnect_backoff_max_ms=2000,
                # the producer's own cap must not be the one that refuses a record we sized to fit
                max_request_size=max(_KAFKA_DEFAULT_REQUEST_BYTES, max_record_bytes + 64 * 1024),
            )
        except KafkaError as exc:
            raise PublishError(f"producer: cannot connect to {bootstrap}: {exc}") from exc

    def publish(self, articles: Iterable[Article]) -> int:
        """Send (each record fitted to `max_record_bytes`) and wait for every acknowledgement.

        Raises `PublishError` if any record failed.
        """
        try:
            futures = [
                self._producer.send(
                    self.topic,
                    key=article.id.encode("utf-8"),
                    value=fit_record(article, self.max_record_bytes).to_json(),
                )
                for article in articles
            ]
            if not futures:
                return 0
            self._producer.flush(timeout=self._timeout)
            for future in futures:
                future.get(timeout=self._timeout)
        except KafkaError as exc:
            raise PublishError(f"producer: delivery to {self.topic} failed: {exc}") from exc
        return len(futures)

    def close(self) -> None:
        """Flush pending records and close the connection."""
        try:
            self._producer.close(timeout=self._timeout)
        except KafkaError as exc:
            raise PublishError(f"producer: close failed: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
