"""The API when what it depends on is away or odd: no search engine, a damaged index, no broker,
and event data that must survive the SSE framing."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.api import create_api
from pipeline.api.alerts import sse_data
from pipeline.api.health import _read_gauges
from pipeline.errors import SearchError, SearchUnavailable
from pipeline.search.sqlite import SqliteBackend
from tests.pipeline.api.conftest import LOCAL
from tests.pipeline.api.corpus import Corpus


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_the_api_starts_without_elasticsearch_and_reports_503(corpus: Corpus, tmp_path: Path) -> None:
    settings = corpus.settings.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "search_backend": "elasticsearch",
            "elasticsearch_url": f"http://127.0.0.1:{_closed_port()}",
            "elasticsearch_request_timeout_s": 1.0,
        }
    )
    with TestClient(create_api(settings, web=False), base_url=LOCAL) as c:
        health = c.get("/healthz")
        assert health.status_code == 503 and int(health.headers["retry-after"]) >= 1
        assert c.get("/watches").status_code == 200  # what needs no search engine still works


def test_a_failed_setup_is_retried_on_the_next_request(
    corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_setup = SqliteBackend.setup
    failures = [SearchUnavailable("index locked", retry_after=2.0)]

    async def flaky_setup(self: SqliteBackend) -> None:
        if failures:
            raise failures.pop()
        await real_setup(self)

    monkeypatch.setattr(SqliteBackend, "setup", flaky_setup)
    settings = corpus.settings.model_copy(update={"data_dir": tmp_path / "data"})
    with TestClient(create_api(settings, web=False), base_url=LOCAL) as c:  # starts despite the failure
        assert c.get("/healthz").status_code == 200  # set up now


def test_a_backend_error_is_503_not_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: SqliteBackend) -> int:
        raise SearchError("sqlite index failed while counting: database disk image is malformed")

    monkeypatch.setattr(SqliteBackend, "count", broken)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["error"]["code"] == "unavailable"
    assert "malformed" not in health.text and "retry-after" in health.headers


def _kafka_threads() -> int:
    return sum(t.name.startswith("kafka-io") and t.is_alive() for t in threading.enumerate())


def test_a_failed_broker_read_leaves_no_thread_behind() -> None:
    """kafka-python starts its I/O thread before bootstrapping; a refresh with the broker down must
    not leave it (and its socket) running, once per /metrics refresh."""
    before = _kafka_threads()
    with pytest.raises(Exception):  # noqa: B017 - whatever kafka-python raises for "no broker"
        _read_gauges(f"127.0.0.1:{_closed_port()}", "rasd-worker", 0.5)
    assert _kafka_threads() == before


@pytest.mark.parametrize("kind", ["KafkaAdminClient", "KafkaConsumer", "KafkaProducer"])
def test_every_client_made_through_open_client_leaves_no_thread_behind(kind: str) -> None:
    # the worker's broker wait, `rasd dlq` and the connector's producer build their clients the same way
    import kafka

    from pipeline.broker import connect_timeout, open_client

    cls = getattr(kafka, kind)
    before = _kafka_threads()
    with pytest.raises(Exception):  # noqa: B017 - whatever kafka-python raises for "no broker"
        open_client(cls, bootstrap_servers=[f"127.0.0.1:{_closed_port()}"], **connect_timeout(cls, 500))
    assert _kafka_threads() == before


def test_sse_data_keeps_json_line_separators_inside_strings() -> None:
    payload = json.dumps({"watch_name": "إيران\u2028الخليج\u2029\x85"}, ensure_ascii=False)
    data = sse_data(payload)
    assert data.count("data: ") == 1
    assert json.loads(data.removeprefix("data: ")) == json.loads(payload)
    assert sse_data("<li>\r\n<b>x</b>\n</li>\n") == "data: <li>\ndata: <b>x</b>\ndata: </li>"
