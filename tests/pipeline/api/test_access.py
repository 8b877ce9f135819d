"""Access control: open on loopback, a key elsewhere, and a key for watch changes when one is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.api import create_api
from pipeline.api.access import AccessPolicy, access_policy, host_allowed, is_loopback, safe_next, verdict
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


def test_watch_changes_can_be_switched_off_where_no_worker_would_see_them(corpus: Corpus) -> None:
    """Kubernetes gives every pod its own data dir: a watch added through the API pod reached no
    worker, yet the API answered 201. With RASD_API_WATCH_CHANGES=false it says why it cannot."""
    settings = corpus.settings.model_copy(update={"api_key": SecretStr(KEY), "api_watch_changes": False})
    key = {"X-API-Key": KEY}
    with TestClient(create_api(settings, host="0.0.0.0"), follow_redirects=False) as c:
        assert c.get("/watches", headers=key).status_code == 200  # reads still work
        refused = c.post("/watches", json=WATCH, headers=key)
        assert refused.status_code == 403
        assert "RASD_API_WATCH_CHANGES" in refused.json()["error"]["message"]
        assert c.delete("/watches/iran", headers=key).status_code == 403
        assert c.get(f"/watches/{WATCH['id']}", headers=key).status_code == 404
        c.post("/ui/login", data={"key": KEY, "next": "/ui/watches"})
        page = c.get("/ui/watches")
        assert page.status_code == 200 and 'method="post"' not in page.text.lower()  # no forms shown
    assert access_policy(Settings(api_watch_changes=False), "127.0.0.1").changes is False


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


def test_access_is_decided_on_the_routed_path_not_the_url(corpus: Corpus) -> None:
    """Behind a proxy prefix (root_path) `request.url.path` and the routed path differ: the policy must
    follow routing, or a prefix that looks open (`/ui/static`) unlocks everything behind it."""
    settings = corpus.settings.model_copy(update={"api_key": SecretStr(KEY)})
    app = create_api(settings, host="0.0.0.0")
    with TestClient(app, root_path="/ui/static") as c:
        assert c.get("/ui/static/watches").status_code == 401
        assert c.post("/ui/static/watches", json=WATCH).status_code == 401
    with TestClient(app, root_path="/rasd") as c:
        assert c.get("/rasd/healthz").status_code == 200  # always open, prefix or not


def test_cross_site_changes_are_refused_on_the_api_too(fresh: TestClient) -> None:
    """A simple POST (no body, no preflight) from another site must not pause a watch on a laptop."""
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        refused = fresh.post("/watches/iran/pause", headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_site"
    assert fresh.get("/watches/iran").json()["state"] == "active"
    same = fresh.post("/watches/iran/pause", headers={"Origin": "http://127.0.0.1:8000"})
    assert same.status_code == 200 and fresh.get("/watches/iran").json()["state"] == "paused"


def test_a_loopback_server_answers_only_loopback_host_names(fresh: TestClient) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 makes the browser send its name as Host."""
    rebound = fresh.get("/watches", headers={"Host": "evil.example:8000"})
    assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "bad_host"
    post = fresh.post(
        "/watches/iran/delete", headers={"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
    )
    assert post.status_code == 400 and fresh.get("/watches/iran").status_code == 200
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert fresh.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    ("policy", "host", "allowed"),
    [(AccessPolicy(None, True, True), "a/healthz?", False),
     (AccessPolicy(None, True, True), "rasd.lan", False),
     (AccessPolicy(KEY, False, True), "rasd.lan", True),  # a key guards it: any name may reach it
     (AccessPolicy(KEY, True, False), "rasd.example.org", True)],
)  # fmt: skip
def test_host_names_checked_where_locality_grants_access(
    policy: AccessPolicy, host: str, allowed: bool
) -> None:
    assert host_allowed(policy, host) is allowed


def test_allowed_hosts_name_the_server_wherever_it_listens() -> None:
    # open reads without a key on a public address: no Host could be told from a rebound one before
    settings = Settings(api_open=True, api_allowed_hosts="rasd.example.org, News.Example.org")  # type: ignore[arg-type]
    policy = access_policy(settings, "0.0.0.0")
    assert policy.allowed_hosts == {"rasd.example.org", "news.example.org"}
    assert host_allowed(policy, "rasd.example.org:443") and host_allowed(policy, "NEWS.example.org")
    assert host_allowed(policy, "127.0.0.1:8000")  # a loopback name is no attacker's
    assert not host_allowed(policy, "evil.example") and not host_allowed(policy, "rasd.example.org.evil")
    assert not host_allowed(access_policy(Settings(api_allowed_hosts=["rasd.lan"]), "127.0.0.1"), "evil.lan")  # type: ignore[arg-type]
    assert host_allowed(access_policy(Settings(api_open=True), "0.0.0.0"), "evil.example")  # none given


@pytest.mark.parametrize("key", ["مفتاح-سري-2026", " padded ", "tab\tkey"])
def test_keys_no_client_could_present_are_refused_at_start(key: str) -> None:
    with pytest.raises(ConfigError, match="printable ASCII"):
        access_policy(Settings(api_key=SecretStr(key)), "0.0.0.0")


@pytest.mark.parametrize("key", ["pass word", "a;b,c", 'a"b\\c', "Zm9v+/=="])
def test_printable_keys_work_through_the_login_cookie(corpus: Corpus, key: str) -> None:
    settings = corpus.settings.model_copy(update={"api_key": SecretStr(key)})
    with TestClient(create_api(settings, host="0.0.0.0"), follow_redirects=False) as c:
        assert c.post("/ui/login", data={"key": key, "next": "/ui/watches"}).status_code == 303
        assert c.get("/ui/watches").status_code == 200


def test_pages_cannot_be_framed_or_sniffed(client: TestClient) -> None:
    headers = client.get("/healthz").headers
    assert (
        headers["x-frame-options"] == "DENY"
        and "frame-ancestors 'none'" in headers["content-security-policy"]
    )
    assert headers["x-content-type-options"] == "nosniff"
