"""Access control: open on loopback, a key elsewhere, and a key for watch changes when one is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.api import create_api
from pipeline.api.access import AccessPolicy, access_policy, is_loopback, safe_next, verdict
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from tests.pipeline.api.corpus import Corpus

KEY = "s3cret-key"
WATCH = {"id": "gaza-test", "entities": ["غزة"]}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
     ("10.0.0.5", False), ("rasd.example.org", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exposed_without_a_key_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="RASD_API_KEY"):
        access_policy(Settings(), "0.0.0.0")
    assert access_policy(Settings(api_open=True), "0.0.0.0") == AccessPolicy(None, True, False)
    assert access_policy(Settings(api_key=SecretStr(KEY)), "0.0.0.0") == AccessPolicy(KEY, False, False)


@pytest.mark.parametrize(
    ("policy", "method", "key", "status"),
    [
        (AccessPolicy(None, True, True), "POST", None, 200),  # a laptop: everything allowed
        (AccessPolicy(KEY, False, True), "GET", None, 401),  # a key set: reads need it too
        (AccessPolicy(KEY, False, True), "GET", KEY, 200),
        (AccessPolicy(KEY, False, False), "DELETE", "wrong", 401),
        (AccessPolicy(KEY, True, False), "GET", None, 200),  # open reads
        (AccessPolicy(KEY, True, False), "POST", None, 401),  # …but changes need the key
        (AccessPolicy(None, True, False), "POST", KEY, 403),  # open, no key: no changes at all
    ],
)
def test_verdicts(policy: AccessPolicy, method: str, key: str | None, status: int) -> None:
    assert verdict(policy, method, "/watches", key) == status
    assert verdict(policy, "GET", "/healthz", None) == 200


@pytest.mark.parametrize(
    ("url", "safe"),
    [("/ui/entities/Q7747", "/ui/entities/Q7747"), ("https://evil.example/", "/ui/search"),
     ("//evil.example/x", "/ui/search"), ("javascript:alert(1)", "/ui/search")],
)  # fmt: skip
def test_login_only_redirects_within_the_site(url: str, safe: str) -> None:
    assert safe_next(url) == safe


@pytest.fixture
def exposed(corpus: Corpus) -> Iterator[TestClient]:
    settings = corpus.settings.model_copy(update={"api_key": SecretStr(KEY), "api_open": True})
    with TestClient(create_api(settings, host="0.0.0.0")) as c:
        yield c


def test_open_reads_locked_changes_over_http(exposed: TestClient) -> None:
    assert exposed.get("/healthz").status_code == 200
    assert exposed.get("/search", params={"q": "بوتين"}).status_code == 200
    denied = exposed.post("/watches", json=WATCH)
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
    assert exposed.post("/watches", json=WATCH, headers={"X-API-Key": "nope"}).status_code == 401
    assert exposed.post("/watches", json=WATCH, headers={"X-API-Key": KEY}).status_code == 201
    bearer = {"Authorization": f"Bearer {KEY}"}
    assert exposed.delete(f"/watches/{WATCH['id']}", headers=bearer).status_code == 200


def test_web_login_sets_the_cookie_that_unlocks_forms(corpus: Corpus) -> None:
    settings = corpus.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with TestClient(create_api(settings, host="0.0.0.0"), follow_redirects=False) as c:
        page = c.get("/ui/watches")
        assert page.status_code == 303 and page.headers["location"] == "/ui/login?next=/ui/watches"
        assert c.post("/ui/login", data={"key": "wrong", "next": "/ui/watches"}).status_code == 401
        ok = c.post("/ui/login", data={"key": KEY, "next": "/ui/watches"})
        assert ok.status_code == 303 and ok.headers["location"] == "/ui/watches"
        assert "httponly" in ok.headers["set-cookie"].lower()
        assert c.get("/ui/watches").status_code == 200  # the cookie now comes with every request
