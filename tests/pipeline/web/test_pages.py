"""Server-rendered pages: RTL Arabic by default, English on request, forms that change watches."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from pipeline.alerts.store import AlertStore
from tests.pipeline.api.corpus import Corpus

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
    css = ui.get("/ui/static/rasd.css")
    assert css.status_code == 200 and "Noto Naskh Arabic" in css.text
    assert ui.get("/ui/static/alerts.js").status_code == 200
