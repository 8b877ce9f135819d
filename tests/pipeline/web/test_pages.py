"""Server-rendered pages: RTL Arabic by default, English on request, forms that change watches."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.alerts.store import AlertStore
from pipeline.api import create_api
from pipeline.errors import SearchError
from pipeline.models import Article
from pipeline.search.sqlite import SqliteBackend
from pipeline.web import routes
from pipeline.web.render import article_url, entity_url
from pipeline.web.routes import FORM_LIMIT
from tests.pipeline.api.corpus import Corpus, ingest
from tests.pipeline.web.conftest import LOCAL

EASTERN = re.compile("[٠-٩]")


def test_search_page_is_arabic_rtl_with_marks_and_eastern_digits(ui: TestClient) -> None:
    page = ui.get("/ui/search", params={"q": "إيران"})
    assert page.status_code == 200
    html = page.text
    assert '<html lang="ar" dir="rtl">' in html
    assert "<mark>إيران</mark>" in html or "<mark>لإيران</mark>" in html
    total = re.search(r'<p class="total">([^<]*)</p>', html)
    assert total and EASTERN.search(total.group(1)) and not re.search("[0-9]", total.group(1))
    assert 'id="facet-entities"' in html and "/ui/entities/Q794" in html


def test_search_page_escapes_what_users_type(ui: TestClient) -> None:
    html = ui.get("/ui/search", params={"q": '<script>alert("x")</script> بوتين'}).text
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_bad_input_is_shown_not_a_crash(ui: TestClient) -> None:
    page = ui.get("/ui/search", params={"since": "2026-99-01"})
    assert page.status_code == 400 and 'class="error"' in page.text and "since" in page.text
    eastern = ui.get("/ui/search", params={"since": "٢٠٢٦-٠٤-٠١", "until": "٢٠٢٦-٠٤-٠٢"})
    assert eastern.status_code == 200 and 'class="hit"' in eastern.text


def test_english_is_ltr_and_the_cookie_keeps_it(ui: TestClient) -> None:
    page = ui.get("/ui/search", params={"q": "إيران", "lang": "en"})
    assert '<html lang="en" dir="ltr">' in page.text and "results" in page.text
    assert page.cookies.get("rasd_lang") == "en"
    assert '<html lang="en" dir="ltr">' in ui.get("/ui/watches").text
    assert '<html lang="ar" dir="rtl">' in ui.get("/ui/watches", params={"lang": "ar"}).text


def test_article_page_links_entities_by_type(ui: TestClient, web_corpus: Corpus) -> None:
    seed = next(a for a in web_corpus.articles if a.source == "seed")
    html = ui.get(f"/ui/articles/{seed.id}").text
    assert 'class="ent ent-PER" href="/ui/entities/Q7747"' in html
    assert 'class="ent ent-LOC" href="/ui/entities/Q159"' in html
    assert ui.get("/ui/articles/nope").status_code == 404


def test_entity_page_has_an_svg_timeline_and_one_click_watch(ui: TestClient) -> None:
    html = ui.get("/ui/entities/Q7747").text
    assert '<svg class="timeline"' in html and 'class="bar"' in html and 'id="watch-entity"' in html
    created = ui.post("/ui/entities/Q7747/watch")
    assert created.status_code == 303 and created.headers["location"] == "/ui/watches?created=entity-Q7747"
    assert ui.get("/watches/entity-Q7747").json()["entities"] == [{"id": "Q7747", "name": "فلاديمير بوتين"}]
    assert 'id="watching"' in ui.get("/ui/entities/Q7747").text
    again = ui.post("/ui/entities/Q7747/watch")  # already watched: no second watch
    assert again.headers["location"] == "/ui/watches?created=entity-Q7747"
    assert [w["id"] for w in ui.get("/watches").json()].count("entity-Q7747") == 1
    assert ui.get("/ui/entities/Q0000000").status_code == 404


def test_watch_forms(ui: TestClient) -> None:
    form = {"id": "kim", "name": "كيم", "entities": "كيم جونغ أون، بوتين", "words": "", "topic": "space"}
    created = ui.post("/ui/watches", data=form)
    assert created.status_code == 303
    watch = ui.get("/watches/kim").json()
    assert watch["watch"]["any_of"] == {
        "entities": ["كيم جونغ أون", "بوتين"],
        "topics": ["space"],
        "words": [],
    }
    assert ui.post("/ui/watches/kim/pause").status_code == 303
    assert ui.get("/watches/kim").json()["state"] == "paused"
    assert 'id="watch-kim" class="paused"' in ui.get("/ui/watches").text
    ui.post("/ui/watches/kim/resume")
    assert ui.get("/watches/kim").json()["state"] == "active"
    ui.post("/ui/watches/kim/delete")
    assert ui.get("/watches/kim").status_code == 404

    bad = ui.post("/ui/watches", data={"id": "x", "entities": "شخص لا يعرفه السجل"})
    assert bad.status_code == 400 and "unknown entity" in bad.text
    assert ui.post("/ui/watches/nope/pause").status_code == 404


def test_cross_site_posts_are_refused(ui: TestClient) -> None:
    response = ui.post(
        "/ui/watches", data={"id": "x", "words": "هدنة"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert ui.get("/watches/x").status_code == 404


def test_alerts_page_and_live_fragments(ui: TestClient) -> None:
    html = ui.get("/ui/alerts").text
    assert 'class="alert"' in html and "/ui/static/alerts.js" in html
    store: AlertStore = ui.app.state.services.alerts  # type: ignore[attr-defined]
    second = store.recent(2)[1].id
    with ui.stream("GET", "/ui/alerts/live", params={"after": second}) as response:
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if line == "" and any(x.startswith("event: alert") for x in lines):
                break
    data = [x.removeprefix("data: ") for x in lines if x.startswith("data: ")]
    assert '<li class="alert"' in data[0] and "<script" not in "".join(data)


def test_static_files_and_home(ui: TestClient) -> None:
    assert ui.get("/").headers["location"] == "/ui/search"
    # the address `rasd run`, `rasd api` and the deployment notes print
    assert ui.get("/ui/").headers["location"] == "/ui/search"
    assert ui.get("/ui").headers["location"] == "/ui/search"
    css = ui.get("/ui/static/rasd.css")
    assert css.status_code == 200 and "Noto Naskh Arabic" in css.text
    assert ui.get("/ui/static/alerts.js").status_code == 200


def test_an_oversized_form_is_refused_without_reading_it(ui: TestClient) -> None:
    """The login form is open to everyone: a huge body must end in 413, not in the server's memory."""
    declared = ui.post("/ui/login", content=b"key=" + b"a" * (FORM_LIMIT + 1))
    assert declared.status_code == 413 and "<html" in declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while streaming
        yield b"key="
        for _ in range(100):
            yield b"a" * 4096

    streamed = ui.post("/ui/login", content=chunks())
    assert streamed.status_code == 413
    assert ui.post("/ui/login", data={"key": "k" * 1000}).status_code == 401  # a normal form still works


def test_unknown_entities_offer_no_watch_that_would_fail(ui: TestClient, web_corpus: Corpus) -> None:
    unknown = next(
        m.canonical_id for a in web_corpus.articles for m in a.entities if m.canonical_id.startswith("u:")
    )
    page = ui.get(entity_url(unknown))
    assert page.status_code == 200 and 'id="watch-entity"' not in page.text
    refused = ui.post(entity_url(unknown) + "/watch")
    assert refused.status_code == 400 and "<html" in refused.text and "registry" in refused.text


@pytest.fixture
def odd_ids(web_corpus: Corpus, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """An app whose index also holds an article with an id full of URL syntax (a JSONL producer's)."""
    shutil.copytree(web_corpus.settings.data_dir, tmp_path / "data")
    settings = web_corpus.settings.model_copy(update={"data_dir": tmp_path / "data"})
    odd = "feed/2026/04/item-1?id=77#frag"
    seed = next(a for a in web_corpus.articles if a.source == "seed")
    ingest(settings, web_corpus.enricher, [seed.model_copy(update={"id": odd, "entities": []})])
    with TestClient(create_api(settings), base_url=LOCAL, follow_redirects=False) as c:
        yield c, odd


def test_article_links_quote_ids_and_lead_to_the_article(odd_ids: tuple[TestClient, str]) -> None:
    ui, odd = odd_ids
    html = ui.get("/ui/search", params={"sort": "newest", "q": "بوتين"}).text
    link = article_url(odd)
    assert f'href="{link}"' in html and link == "/ui/articles/feed%2F2026%2F04%2Fitem-1%3Fid%3D77%23frag"
    page = ui.get(link)
    assert page.status_code == 200 and 'class="article"' in page.text
    assert ui.get("/articles/" + link.removeprefix("/ui/articles/")).json()["id"] == odd


def test_only_web_links_become_the_original_article_href(
    ui: TestClient, web_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = next(a for a in web_corpus.articles if a.source == "seed")
    for url, shown in (("javascript:alert(document.cookie)", False), ("https://example.org/a", True)):

        async def stored(svc: object, article_id: str, url: str = url) -> Article:
            return seed.model_copy(update={"url": url})  # as a producer might have stored it

        monkeypatch.setattr(routes, "get_article", stored)
        html = ui.get(f"/ui/articles/{seed.id}").text
        assert (f'href="{url}"' in html) is shown and "javascript:" not in html


def test_search_engine_errors_are_an_html_page(ui: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: SqliteBackend, query: object) -> None:
        raise SearchError("sqlite index failed while searching: database disk image is malformed")

    monkeypatch.setattr(SqliteBackend, "search", broken)
    page = ui.get("/ui/search", params={"q": "هدنة"})
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "malformed" not in page.text


def test_ui_refuses_rebound_host_names_and_cannot_be_framed(ui: TestClient) -> None:
    rebound = ui.post(
        "/ui/watches/truce/delete", headers={"Host": "evil.example", "Origin": "http://evil.example"}
    )
    assert rebound.status_code == 400 and rebound.headers["content-type"].startswith("text/html")
    assert 'id="watch-truce"' in ui.get("/ui/watches").text
    headers = ui.get("/ui/watches").headers
    assert (
        headers["x-frame-options"] == "DENY"
        and "frame-ancestors 'none'" in headers["content-security-policy"]
    )


@pytest.fixture
def open_reads(
    web_corpus: Corpus, tmp_path: Path
) -> Iterator[Callable[..., AbstractContextManager[TestClient]]]:
    shutil.copytree(web_corpus.settings.data_dir, tmp_path / "data")

    @contextmanager
    def make(**update: object) -> Iterator[TestClient]:
        settings = web_corpus.settings.model_copy(
            update={"data_dir": tmp_path / "data", "api_open": True, **update}
        )
        with TestClient(create_api(settings, host="0.0.0.0"), follow_redirects=False) as c:
            yield c

    yield make


def test_open_reads_with_a_key_lead_to_the_login_not_to_json(
    open_reads: Callable[..., AbstractContextManager[TestClient]],
) -> None:
    with open_reads(api_key=SecretStr("k" * 32)) as c:
        page = c.get("/ui/watches").text
        assert 'class="new-watch"' not in page and 'id="login-to-change"' in page and "/ui/login" in page
        post = c.post(
            "/ui/watches",
            data={"id": "gaza", "words": "غزة"},
            headers={"Referer": f"{c.base_url}/ui/watches"},
        )
        assert post.status_code == 303 and post.headers["location"] == "/ui/login?next=/ui/watches"
        assert c.post("/ui/login", data={"key": "k" * 32}).status_code == 303
        assert 'class="new-watch"' in c.get("/ui/watches").text  # signed in: the forms are back


def test_open_reads_without_a_key_hide_the_forms(
    open_reads: Callable[..., AbstractContextManager[TestClient]],
) -> None:
    with open_reads() as c:
        page = c.get("/ui/watches").text
        assert (
            'class="new-watch"' not in page
            and 'id="changes-off"' in page
            and 'action="/ui/watches/' not in page
        )
        assert 'id="watch-entity"' not in c.get("/ui/entities/Q7747").text
        post = c.post("/ui/watches", data={"id": "gaza", "words": "غزة"})
        assert post.status_code == 403 and post.headers["content-type"].startswith("text/html")
