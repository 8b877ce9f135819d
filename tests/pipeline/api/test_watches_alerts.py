"""Watches (shared with `rasd watch`) and alerts, including the server-sent event stream."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.alerts.manage import WatchManager
from pipeline.alerts.rules import CompiledWatch
from pipeline.alerts.store import AlertStore
from pipeline.alerts.watchstore import StoredWatch
from pipeline.cli.main import main
from pipeline.models import Alert, Evidence, Watch

HORMUZ = {
    "id": "hormuz",
    "name": "مضيق هرمز",
    "owner": "gulf-desk",
    "any_of": {"entities": ["مضيق هرمز"], "words": ["ناقلة نفط"]},
    "none_of": {"words": ["كرة القدم"]},
}


def test_create_list_pause_resume_delete(fresh: TestClient) -> None:
    created = fresh.post("/watches", json=HORMUZ)
    assert created.status_code == 201, created.text
    row = created.json()["watch"]
    assert created.json()["status"] == "added"
    assert (row["state"], row["origin"]) == ("active", "runtime")
    assert row["entities"] == [{"id": "rasd:strait-of-hormuz", "name": "مضيق هرمز"}]
    assert [w["id"] for w in fresh.get("/watches").json()] == ["iran", "truce", "hormuz"]

    again = fresh.post("/watches", json=HORMUZ)
    assert again.status_code == 409 and again.json()["error"]["field"] == "id"
    replaced = fresh.post("/watches?replace=true", json={**HORMUZ, "name": "هرمز"})
    assert replaced.status_code == 200 and replaced.json()["status"] == "replaced"

    assert fresh.post("/watches/hormuz/pause").json()["status"] == "paused"
    assert fresh.post("/watches/hormuz/pause").json()["status"] == "unchanged"
    assert fresh.get("/watches/hormuz").json()["state"] == "paused"
    assert fresh.post("/watches/hormuz/resume").json()["watch"]["state"] == "active"

    assert fresh.delete("/watches/iran").json() == {"status": "removed", "watch": None}  # a config watch
    assert fresh.delete("/watches/hormuz").status_code == 200
    assert [w["id"] for w in fresh.get("/watches").json()] == ["truce"]
    assert fresh.get("/watches/hormuz").status_code == 404
    assert fresh.delete("/watches/hormuz").status_code == 404


def test_a_watch_changed_by_someone_else_meanwhile_is_a_409(
    fresh: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_watch = WatchManager.compile

    def racing(self: WatchManager, watch: Watch) -> CompiledWatch:
        # another user stores the same id while this request compiles its watch
        self.store.write("hormuz", StoredWatch(Watch(id="hormuz", owner="bob", entities=["Q423"]), "active"))
        return compile_watch(self, watch)

    monkeypatch.setattr(WatchManager, "compile", racing)
    lost = fresh.post("/watches", json=HORMUZ)
    assert lost.status_code == 409 and lost.json()["error"]["code"] == "conflict"
    assert fresh.get("/watches/hormuz").json()["owner"] == "bob"


def test_the_cli_sees_what_the_api_stored(fresh: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert fresh.post("/watches", json=HORMUZ).status_code == 201
    settings = fresh.app.state.services.settings  # type: ignore[attr-defined]
    with WatchManager(settings) as manager:
        assert manager.find("hormuz").origin == "runtime"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RASD_CONFIG_DIR", str(settings.config_dir))
        mp.setenv("RASD_DATA_DIR", str(settings.data_dir))
        assert main(["watch", "pause", "hormuz"]) == 0
    assert fresh.get("/watches/hormuz").json()["state"] == "paused"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"id": "x", "entities": ["شخص لا يعرفه السجل"]}, 400, "watch 'x': any_of.entities: unknown entity"),
        ({"id": "x", "topics": ["gardening"]}, 400, "watch 'x': any_of.topics: unknown topic"),
        ({"id": "x", "sources": ["aljazeera"]}, 400, "watch 'x': empty condition"),
        ({"id": "x", "none_of": {"words": ["كرة"]}}, 400, "none_of alone would match every article"),
        ({"id": "bad id!", "words": ["هدنة"]}, 400, "watch 'bad id!': id: String should match pattern"),
        ({"id": "x", "words": ["هدنة"], "colour": "red"}, 400, "colour: Extra inputs are not permitted"),
        ({"id": "x", "words": ["..."]}, 400, "has no words"),
        ({"id": "x", "words": [" ".join(["كلمة"] * 21)]}, 400, "at most 20 words"),
        ({"id": "x", "words": ["ب" * 201]}, 400, "200 characters"),
    ],
)
def test_bad_watches_are_refused_naming_the_field(
    fresh: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    response = fresh.post("/watches", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert [w["id"] for w in fresh.get("/watches").json()] == ["iran", "truce"]


@pytest.mark.parametrize("field", ["name", "owner", "words"])
def test_a_lone_surrogate_is_refused_not_stored(fresh: TestClient, field: str) -> None:
    fields: dict[str, Any] = {"id": "x", "words": ["هدنة"], field: ["LONE"] if field == "words" else "LONE"}
    body = json.dumps(fields, ensure_ascii=False).replace("LONE", "\\ud800")  # JSON for a lone surrogate
    response = fresh.post("/watches", content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "lone surrogate" in response.json()["error"]["message"]
    assert [w["id"] for w in fresh.get("/watches").json()] == ["iran", "truce"]


def test_unknown_watch_and_bad_ids(fresh: TestClient) -> None:
    assert fresh.post("/watches/nope/pause").status_code == 404
    bad = fresh.delete("/watches/bad%20id")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "watch_id"
    assert (
        fresh.post("/watches", content=b"not json", headers={"content-type": "application/json"}).status_code
        == 422
    )


def test_recent_alerts_newest_first(client: TestClient) -> None:
    alerts = client.get("/alerts", params={"limit": 50}).json()
    assert alerts and {a["watch_id"] for a in alerts} <= {"iran", "truce"}
    created = [a["created"] for a in alerts]
    assert created == sorted(created, reverse=True)
    assert all(a["evidence"] and a["evidence"][0]["surface"] for a in alerts)
    only = client.get("/alerts", params={"watch": "truce"}).json()
    assert {a["watch_id"] for a in only} <= {"truce"}
    assert client.get("/alerts", params={"limit": 201}).status_code == 422


def _alert(n: int) -> Alert:
    return Alert(
        id=f"test-alert-{n}",
        watch_id="iran",
        watch_name="إيران",
        article_id=f"article-{n}",
        title=f"خبر عاجل رقم {n} عن إيران",
        source="aljazeera",
        evidence=[Evidence(kind="entity", value="Q794", surface="إيران", snippet="… عن إيران …")],
        created=datetime.now(UTC),
    )


def _events(lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for block in "\n".join(lines).split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if fields.get("event") == "alert":
            out.append({"id": fields["id"], "alert": json.loads(fields["data"])})
    return out


def test_stream_sends_alerts_recorded_while_connected(fresh: TestClient) -> None:
    store: AlertStore = fresh.app.state.services.alerts  # type: ignore[attr-defined]
    timer = threading.Timer(1.0, lambda: store.add(_alert(1), ["log"]))
    timer.start()
    lines: list[str] = []
    with fresh.stream("GET", "/alerts/stream", params={"lifetime": 3}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            lines.append(line)
            if line == "" and _events(lines):  # a blank line ends an event
                break
    timer.join()
    [event] = _events(lines)
    assert event["id"] == "test-alert-1" and event["alert"]["title"] == "خبر عاجل رقم 1 عن إيران"
    assert lines[0] == "retry: 2000"


def test_stream_resumes_after_the_last_event_id(fresh: TestClient) -> None:
    store: AlertStore = fresh.app.state.services.alerts  # type: ignore[attr-defined]
    last_seen = store.recent(1)[0].id
    store.add(_alert(2))
    store.add(_alert(3))
    with fresh.stream(
        "GET", "/alerts/stream", params={"lifetime": 1}, headers={"Last-Event-ID": last_seen}
    ) as response:
        lines = list(response.iter_lines())
    assert [e["id"] for e in _events(lines)] == ["test-alert-2", "test-alert-3"]


def test_an_oversized_json_body_is_refused_while_it_is_read(fresh: TestClient) -> None:
    """FastAPI reads a JSON body whole before any handler runs: the cap must hold before that."""
    from collections.abc import Iterator

    from pipeline.api.limits import BODY_LIMIT

    huge = {**HORMUZ, "any_of": {"words": ["كلمة"] * (BODY_LIMIT // 8)}}
    declared = fresh.post("/watches", json=huge)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"id": "x", "name": "'
        for _ in range(BODY_LIMIT // 4096 + 2):
            yield b"a" * 4096
        yield b'"}'

    streamed = fresh.post("/watches", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "too_large"
    assert fresh.get("/watches/x").status_code == 404
    assert fresh.post("/watches", json=HORMUZ).status_code == 201  # a normal body still goes through
