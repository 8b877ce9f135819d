"""The web UI in real headless Chromium: Arabic search, entity page, one-click watch, live alerts."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import Article
from tests.browser.conftest import Server
from tests.pipeline.api.corpus import ingest

pytestmark = pytest.mark.browser

EASTERN = set("٠١٢٣٤٥٦٧٨٩")


def _box(page: Any, selector: str) -> dict[str, float]:
    box: dict[str, float] = page.locator(selector).first.bounding_box()
    return box


def test_search_entity_watch_and_live_alert(page: Any, server: Server, shots: Path) -> None:
    # search: type an Arabic query, see highlighted hits and the facet sidebar on the right
    page.goto("/ui/search")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    page.fill("input[name=q]", "بوتين")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("ol.hits li.hit")
    marks = page.locator("li.hit mark").all_inner_texts()
    assert marks and all("بوتين" in m for m in marks)
    total = page.locator("p.total").inner_text()
    assert set(total) & EASTERN and not set(total) & set("0123456789")
    sidebar, results = _box(page, "aside.facets"), _box(page, "section.results")
    assert sidebar["x"] > results["x"] + results["width"] - 1  # RTL: the sidebar is on the right
    assert page.evaluate("document.fonts.check('16px \"Noto Naskh Arabic\"')")
    page.screenshot(path=str(shots / "search-ar.png"), full_page=False)

    # click an entity in a hit: its page, with the server-rendered timeline
    page.locator("li.hit a.ent", has_text="بوتين").first.click()
    page.wait_for_url("**/ui/entities/Q7747")
    assert page.locator("h1").inner_text().strip() == "فلاديمير بوتين"
    assert page.locator("svg.timeline rect.bar").count() >= 1
    assert page.locator("#co-mentions li").count() >= 3
    page.screenshot(path=str(shots / "entity-ar.png"), full_page=True)

    # one click: watch this entity
    page.click("#watch-entity")
    page.wait_for_url("**/ui/watches?created=entity-Q7747")
    row = page.locator("#watch-entity-Q7747")
    assert "Q7747" in row.inner_text() and "نشطة" in row.inner_text()
    page.screenshot(path=str(shots / "watches-ar.png"))

    # the alerts page goes live; an article ingested the way the worker does it shows up
    page.goto("/ui/alerts")
    page.wait_for_selector("#live-status.live")
    title = f"بوتين يستقبل وفدا كوريا شماليا في الكرملين {uuid.uuid4().hex[:6]}"
    article = Article(
        id=f"live-{uuid.uuid4().hex}",
        source="rt_arabic",
        url="https://example.invalid/live",
        title=title,
        summary="استقبل الرئيس الروسي فلاديمير بوتين في الكرملين وفدا من كوريا الشمالية لبحث التعاون.",
        published=datetime.now(UTC),
    )
    # Playwright's sync API keeps an event loop in this thread: ingest from another one, as a worker would
    worker = threading.Thread(target=ingest, args=(server.corpus.settings, server.corpus.enricher, [article]))
    worker.start()
    worker.join(timeout=30)
    item = page.locator("#alerts li.alert", has_text=title)
    item.wait_for(timeout=10_000)
    assert page.locator("#alerts li.alert h3").first.inner_text().strip() == title  # newest first
    assert item.count() == 1  # shown once, however often the stream reconnects
    assert "بوتين" in item.locator("mark").first.inner_text()
    page.screenshot(path=str(shots / "alerts-live-ar.png"))


def test_article_entities_coloured_and_linked(page: Any, server: Server, shots: Path) -> None:
    seed = next(a for a in server.corpus.articles if a.source == "seed")
    page.goto(f"/ui/articles/{seed.id}")
    for kind in ("PER", "LOC"):
        assert page.locator(f"article a.ent-{kind}").count() > 3
    colours = {
        kind: page.locator(f"article a.ent-{kind}").first.evaluate("e => getComputedStyle(e).color")
        for kind in ("PER", "LOC")
    }
    assert colours["PER"] != colours["LOC"]
    # a name written with a clitic is linked as one word, so its letters stay joined
    assert page.locator("article a.ent", has_text="لبوتين").count() >= 1
    page.screenshot(path=str(shots / "article-ar.png"))
    page.locator("article a.ent-PER", has_text="كيم جونغ أون").first.click()
    page.wait_for_url("**/ui/entities/Q56226")


def test_english_toggle_is_ltr_and_remembered(page: Any, shots: Path) -> None:
    page.goto("/ui/search?q=إيران")
    page.click("a.lang-toggle")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.locator("html").get_attribute("lang") == "en"
    sidebar, results = _box(page, "aside.facets"), _box(page, "section.results")
    assert sidebar["x"] + sidebar["width"] <= results["x"] + 1  # LTR: sidebar on the left
    assert page.locator("p.total").inner_text().split()[0].isascii()
    page.screenshot(path=str(shots / "search-en.png"))
    page.goto("/ui/watches")  # the cookie keeps English
    assert page.locator("html").get_attribute("dir") == "ltr"
    page.goto("/ui/watches?lang=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
