"""The full-text stage against a real local HTTP server: success, robots, 404, redirects, huge and
non-HTML responses, windows-1256, the URL cache and the fallback to the feed's text."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from connectors.fulltext import FullTextFetcher, PageCache
from pipeline.agents.fulltext import fulltext_one
from pipeline.extract import ExtractOptions, extract_page
from pipeline.ids import article_id
from pipeline.models import Article, DeadLetter
from pipeline.runtime import Counters
from pipeline.settings import Settings
from tests.connectors.fulltext.conftest import Route, Site

P1 = "قال وزير الخارجية اليوم إن المحادثات بين الطرفين ستستأنف الأسبوع المقبل في العاصمة بعد توقف دام شهرين."
P2 = "وأضاف الوزير في مؤتمر صحفي أن الوفدين اتفقا على جدول أعمال يشمل ملفات الطاقة والمياه والحدود المشتركة."
P3 = "ومن المتوقع أن تشارك في الجولة الجديدة وفود من دول الجوار بصفة مراقب، بحسب مصادر دبلوماسية مطلعة."
SUMMARY = "ستستأنف المحادثات الأسبوع المقبل."


def page(charset: str = "utf-8", meta: bool = True, paragraphs: tuple[str, ...] = (P1, P2, P3)) -> str:
    head = f'<meta charset="{charset}">' if meta else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head>{head}<title>استئناف المحادثات</title></head>'
        f"<body><nav><a href='/'>الرئيسية</a> <a href='/s'>رياضة</a></nav>"
        f"<article><h1>استئناف المحادثات</h1>{body}</article>"
        f"<footer>جميع الحقوق محفوظة</footer></body></html>"
    )


def html(text: str, charset: str = "utf-8") -> bytes:
    return text.encode(charset)


@pytest.fixture
def make_settings(settings_factory: Callable[..., Settings]) -> Callable[..., Settings]:
    def make(**kw: Any) -> Settings:
        values: dict[str, Any] = {"fetch_allowed_hosts": ["127.0.0.1"], "fulltext_host_delay_s": 0.0}
        values.update(kw)
        return settings_factory(**values)

    return make


def article(url: str, *, summary: str = SUMMARY, body: str = "", title: str = "عنوان من الخلاصة") -> Article:
    return Article(id=article_id(url), source="test", url=url, title=title, summary=summary, body=body)


def run(settings: Settings, *articles: Article, cache: PageCache | None = None) -> list[Article]:
    async def go() -> list[Article]:
        fetcher = FullTextFetcher(settings, cache=cache)
        try:
            return [await fetcher.process(a) for a in articles]
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def test_short_article_gets_the_page_text(site: Site, make_settings: Callable[..., Settings]) -> None:
    site.routes["/robots.txt"] = Route(
        body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    site.routes["/a/1"] = Route(body=html(page()))
    site.routes["/a/2"] = Route(body=html(page()))
    first, second = run(make_settings(), article(site.url("/a/1")), article(site.url("/a/2")))
    assert first.fulltext is not None and first.fulltext.status == "extracted", first.fulltext
    assert first.body == f"{P1}\n{P2}\n{P3}"
    assert first.summary == SUMMARY and first.title == "عنوان من الخلاصة"  # the feed's title is kept
    assert first.fulltext.chars == len(first.body) and first.fulltext.http_status == 200
    assert second.fulltext is not None and second.fulltext.status == "extracted"
    assert site.hits["/robots.txt"] == 1  # cached per origin
    assert all(ua.startswith("Rasd/") and "robots.txt" in ua for ua in site.user_agents)


def test_robots_disallow_blocks_without_fetching(site: Site, make_settings: Callable[..., Settings]) -> None:
    site.routes["/robots.txt"] = Route(
        body=b"User-agent: *\nAllow: /\n\nUser-agent: Rasd\nDisallow: /private/\n", content_type="text/plain"
    )
    site.routes["/private/1"] = Route(body=html(page()))
    (out,) = run(make_settings(), article(site.url("/private/1")))
    assert out.fulltext is not None and out.fulltext.status == "blocked_by_robots"
    assert "disallows /private/1 for rasd" in out.fulltext.reason
    assert site.hits["/private/1"] == 0
    assert out.body == "" and out.summary == SUMMARY


def test_robots_5xx_means_disallow(site: Site, make_settings: Callable[..., Settings]) -> None:
    site.routes["/robots.txt"] = Route(503, b"busy", "text/plain")
    site.routes["/a/1"] = Route(body=html(page()))
    (out,) = run(make_settings(), article(site.url("/a/1")))
    assert out.fulltext is not None and out.fulltext.status == "blocked_by_robots"
    assert "unreachable (HTTP 503)" in out.fulltext.reason
    assert site.hits["/a/1"] == 0


def test_404_fails_keeps_the_feed_text_and_is_cached(
    site: Site, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    cache = PageCache(tmp_path / "c.sqlite3", max_entries=10, ttl_s=60)
    (out,) = run(settings, article(site.url("/gone")), cache=cache)
    assert out.fulltext is not None and out.fulltext.status == "failed"
    assert out.fulltext.reason == "HTTP 404" and out.fulltext.http_status == 404
    assert out.summary == SUMMARY and out.body == ""
    cache = PageCache(tmp_path / "c.sqlite3", max_entries=10, ttl_s=60)
    (again,) = run(settings, article(site.url("/gone")), cache=cache)
    assert again.fulltext is not None and again.fulltext.cached and again.fulltext.status == "failed"
    assert site.hits["/gone"] == 1


def test_cache_hit_skips_the_network(
    site: Site, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    site.routes["/a/1"] = Route(body=html(page()))
    settings = make_settings()
    path = tmp_path / "cache.sqlite3"
    (first,) = run(settings, article(site.url("/a/1#top")), cache=PageCache(path, max_entries=10, ttl_s=60))
    (second,) = run(settings, article(site.url("/a/1")), cache=PageCache(path, max_entries=10, ttl_s=60))
    assert first.fulltext is not None and not first.fulltext.cached
    assert second.fulltext is not None and second.fulltext.cached and second.fulltext.status == "extracted"
    assert second.body == first.body
    assert site.hits["/a/1"] == 1 and site.hits["/robots.txt"] == 1


def test_redirect_to_another_host_is_followed_within_the_guard(
    site: Site, other_site: Site, make_settings: Callable[..., Settings]
) -> None:
    other_site.routes["/story"] = Route(body=html(page()))
    site.routes["/a/1"] = Route(302, b"", None, {"Location": other_site.url("/story", host="localhost")})
    allowed = make_settings(fetch_allowed_hosts=["127.0.0.1", "localhost"])
    (out,) = run(allowed, article(site.url("/a/1")))
    assert out.fulltext is not None and out.fulltext.status == "extracted", out.fulltext
    assert out.fulltext.final_url == other_site.url("/story", host="localhost")
    assert other_site.hits["/robots.txt"] == 1  # the new host's robots.txt was asked too

    (refused,) = run(make_settings(), article(site.url("/a/1")))  # localhost is a private address
    assert refused.fulltext is not None and refused.fulltext.status == "failed"
    assert "FetchRefused" in refused.fulltext.reason and "non-public" in refused.fulltext.reason


def test_redirect_to_a_host_whose_robots_disallow_drops_the_page(
    site: Site, other_site: Site, make_settings: Callable[..., Settings]
) -> None:
    other_site.routes["/robots.txt"] = Route(body=b"User-agent: *\nDisallow: /\n", content_type="text/plain")
    other_site.routes["/story"] = Route(body=html(page()))
    site.routes["/a/1"] = Route(301, b"", None, {"Location": other_site.url("/story", host="localhost")})
    (out,) = run(make_settings(fetch_allowed_hosts=["127.0.0.1", "localhost"]), article(site.url("/a/1")))
    assert out.fulltext is not None and out.fulltext.status == "blocked_by_robots"
    assert out.fulltext.reason.startswith("redirected to localhost")
    assert out.summary == SUMMARY and out.body == ""


def test_huge_page_is_cut_at_the_cap(site: Site, make_settings: Callable[..., Settings]) -> None:
    sent = {"bytes": 0}
    total = 64 * 1024 * 1024

    def endless(handler: BaseHTTPRequestHandler) -> None:
        chunk = ("<p>" + "كلام " * 2000 + "</p>").encode()
        try:
            handler.wfile.write(b"<html><body>")
            while sent["bytes"] < total:
                handler.wfile.write(chunk)
                sent["bytes"] += len(chunk)
        except OSError:
            pass  # the client hung up at its cap

    site.routes["/big"] = Route(stream=endless)
    (out,) = run(make_settings(fulltext_max_page_bytes=256 * 1024), article(site.url("/big")))
    assert out.fulltext is not None and out.fulltext.status == "failed"
    assert out.fulltext.reason.startswith("page too large") and "262144" in out.fulltext.reason
    assert sent["bytes"] < total  # the stream was abandoned, not downloaded
    assert out.summary == SUMMARY


def test_declared_huge_page_is_refused_before_reading(
    site: Site, make_settings: Callable[..., Settings]
) -> None:
    site.routes["/big"] = Route(body=b"<html>" + b" " * (300 * 1024) + b"</html>")
    (out,) = run(make_settings(fulltext_max_page_bytes=256 * 1024), article(site.url("/big")))
    assert out.fulltext is not None and out.fulltext.status == "failed"
    assert "Content-Length" in out.fulltext.reason


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/pdf", b"%PDF-1.4 binary"),
        ("image/jpeg", b"\xff\xd8\xff\xe0"),
        ("application/json", b"{}"),
    ],
)
def test_non_html_is_skipped_with_the_reason(
    site: Site, make_settings: Callable[..., Settings], content_type: str, body: bytes
) -> None:
    site.routes["/file"] = Route(body=body, content_type=content_type)
    (out,) = run(make_settings(), article(site.url("/file")))
    assert out.fulltext is not None and out.fulltext.status == "skipped"
    assert out.fulltext.reason == f"not an HTML page (Content-Type {content_type})"
    assert out.body == ""


@pytest.mark.parametrize(
    ("content_type", "meta"),
    [
        ("text/html; charset=windows-1256", False),  # declared in HTTP
        ("text/html", True),  # declared in <meta> only
        ("text/html; charset=iso-8859-1", False),  # mislabelled as Western
        (None, False),  # no label anywhere: the bytes read as Arabic under windows-1256
    ],
)
def test_windows_1256_page(
    site: Site, make_settings: Callable[..., Settings], content_type: str | None, meta: bool
) -> None:
    site.routes["/cp"] = Route(
        body=page("windows-1256", meta=meta).encode("cp1256"), content_type=content_type
    )
    (out,) = run(make_settings(), article(site.url("/cp")))
    assert out.fulltext is not None and out.fulltext.status == "extracted", out.fulltext
    assert out.body == f"{P1}\n{P2}\n{P3}"
    assert "cp1256" in out.fulltext.reason


def test_extraction_that_yields_less_falls_back(site: Site, make_settings: Callable[..., Settings]) -> None:
    site.routes["/a/1"] = Route(body=html(page()))
    long_body = "\n".join([P1, P2, P3, P1, P2])
    (out,) = run(make_settings(), article(site.url("/a/1"), body=long_body))
    assert out.fulltext is not None and out.fulltext.status == "fallback"
    assert "shorter than the feed" in out.fulltext.reason
    assert out.body == long_body


def test_page_without_main_text_falls_back(site: Site, make_settings: Callable[..., Settings]) -> None:
    site.routes["/empty"] = Route(body=b"<html><body><nav><a href='/'>home</a></nav></body></html>")
    (out,) = run(make_settings(), article(site.url("/empty")))
    assert out.fulltext is not None and out.fulltext.status == "fallback"
    assert out.fulltext.reason == "extraction found no main text"
    assert out.summary == SUMMARY


def test_unreachable_host_fails_with_the_network_reason(make_settings: Callable[..., Settings]) -> None:
    gone = Site()
    url = gone.url("/a/1")
    gone.close()  # nothing listens on that port any more
    (out,) = run(make_settings(), article(url))
    assert out.fulltext is not None and out.fulltext.status == "failed"
    assert out.fulltext.reason.startswith("robots.txt unreachable (NetworkError")


def test_no_url_and_disabled_are_skipped(make_settings: Callable[..., Settings]) -> None:
    bare = Article(id="x" * 16, source="test", summary=SUMMARY)
    (out,) = run(make_settings(), bare)
    assert out.fulltext is not None and (out.fulltext.status, out.fulltext.reason) == (
        "skipped",
        "article has no URL",
    )
    (off,) = run(make_settings(fulltext_enabled=False), article("http://127.0.0.1:9/a"))
    assert off.fulltext is not None and off.fulltext.status == "skipped"


class FakeTopic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, *, key: bytes | None, value: bytes) -> None:
        self.sent.append((key, value))


class FakeTopics:
    def __init__(self) -> None:
        self.raw, self.dlq = FakeTopic(), FakeTopic()


class FakeRuntime:
    def __init__(self, settings: Settings) -> None:
        self.counters = Counters()
        self.settings = settings


class Exploding:
    async def process(self, article: Article) -> Article:
        raise RuntimeError("boom")


def test_agent_forwards_to_raw_and_dead_letters_bad_messages(
    site: Site, make_settings: Callable[..., Settings]
) -> None:
    site.routes["/a/1"] = Route(body=html(page()))
    source = article(site.url("/a/1"))
    topics, runtime = FakeTopics(), FakeRuntime(make_settings())

    async def go() -> None:
        fetcher = FullTextFetcher(make_settings())
        try:
            await fulltext_one(source.id.encode(), source.to_json(), topics, runtime, fetcher)  # type: ignore[arg-type]
            await fulltext_one(b"bad", b"\xff not json", topics, runtime, fetcher)  # type: ignore[arg-type]
            await fulltext_one(source.id.encode(), source.to_json(), topics, runtime, Exploding())  # type: ignore[arg-type]
        finally:
            await fetcher.aclose()

    asyncio.run(go())
    [(key, value)] = topics.raw.sent
    forwarded = Article.model_validate_json(value)
    assert key == source.id.encode() and forwarded.body.startswith(P1)
    assert forwarded.fulltext is not None and forwarded.fulltext.status == "extracted"
    letters = [DeadLetter.model_validate_json(v) for _, v in topics.dlq.sent]
    assert [(d.stage, d.key) for d in letters] == [("fulltext-decode", "bad"), ("fulltext", source.id)]
    assert "boom" in letters[1].error


def test_a_lossy_decode_is_reported(site: Site, make_settings: Callable[..., Settings]) -> None:
    site.routes["/lossy"] = Route(body=html(page()).replace("الوزير".encode(), b"\xff\xfe"))
    (out,) = run(make_settings(), article(site.url("/lossy")))
    assert out.fulltext is not None and out.fulltext.status == "extracted"
    assert out.fulltext.reason == "decoded as utf-8 (lossy decode)"
    assert "\ufffd" in out.body


def test_a_page_cut_before_extraction_is_reported(site: Site, make_settings: Callable[..., Settings]) -> None:
    junk = "".join(f"<p>خبر {i}</p>" for i in range(100))
    site.routes["/long"] = Route(body=html(page().replace("</article>", f"</article>{junk}")))

    async def go() -> Article:
        fetcher = FullTextFetcher(
            make_settings(),
            extractor=lambda text, url: extract_page(text, url=url, options=ExtractOptions(max_tags=40)),
        )
        try:
            return await fetcher.process(article(site.url("/long")))
        finally:
            await fetcher.aclose()

    out = asyncio.run(go())
    assert out.fulltext is not None and out.fulltext.status == "extracted"
    assert out.fulltext.reason == "decoded as utf-8; page cut at the extraction bound"
    assert out.body == f"{P1}\n{P2}\n{P3}"
