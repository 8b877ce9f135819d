"""Issue 8 end to end through the real broker: a feed item with a one-line summary is routed to
articles.fulltext, the full-text agent fetches its page from a local server, and the article is indexed
with the page's main text."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors import poll_once
from connectors.fulltext import FullTextRouter
from pipeline.broker import EmbeddedBroker
from pipeline.config import FeedConfig
from pipeline.enrich.registry import load_registry
from pipeline.search import connected
from pipeline.search.base import SearchQuery, SearchResult
from pipeline.settings import Settings
from tests.integration.support import Worker, eventually, make_config, worker_env

pytestmark = pytest.mark.integration

P1 = "قال وزير الخارجية اليوم إن المحادثات بين الطرفين ستستأنف الأسبوع المقبل في الدوحة بعد توقف دام شهرين."
P2 = "وأضاف الوزير في مؤتمر صحفي أن الوفدين اتفقا على جدول أعمال يشمل ملفات الطاقة والمياه والحدود المشتركة."
P3 = "ومن المتوقع أن تشارك في الجولة الجديدة وفود من دول الجوار بصفة مراقب، بحسب مصادر دبلوماسية مطلعة."
DOHA = "Q3861"
PAGE = (
    '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="windows-1256">'
    "<title>استئناف المحادثات</title></head><body><nav><a href='/'>الرئيسية</a></nav>"
    f"<article><h1>استئناف المحادثات</h1><p>{P1}</p><p>{P2}</p><p>{P3}</p></article></body></html>"
).encode("cp1256")


@pytest.fixture()
def news_site() -> Iterator[str]:
    holder: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/feed.xml":
                body, ctype = holder["feed"], "application/rss+xml; charset=utf-8"
            elif self.path == "/news/1":
                body, ctype = PAGE, "text/html"
            elif self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nDisallow: /admin/\n", "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    holder["feed"] = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>موقع محلي</title><link>{base}/</link><description>اختبار</description>
<item><title>استئناف المحادثات الأسبوع المقبل</title><link>{base}/news/1</link><guid>{base}/news/1</guid>
<description>ستستأنف المحادثات الأسبوع المقبل.</description>
<pubDate>Mon, 06 May 2024 09:30:00 +0300</pubDate></item>
</channel></rss>""".encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def test_short_feed_item_is_indexed_with_the_page_text(
    broker: EmbeddedBroker, news_site: str, tmp_path: Path
) -> None:
    config_dir = make_config(tmp_path, "watches: []\n")
    data_dir = tmp_path / "data"
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        data_dir=data_dir,
        config_dir=config_dir,
        fetch_allowed_hosts=["127.0.0.1"],
        topic_partitions=2,
    )
    env = worker_env(
        broker.bootstrap,
        data_dir,
        config_dir,
        RASD_FETCH_ALLOWED_HOSTS='["127.0.0.1"]',
        RASD_FULLTEXT_HOST_DELAY_S="0",
    )
    worker = Worker(env, tmp_path / "worker.log")
    try:
        feed = FeedConfig(id="local", url=f"{news_site}/feed.xml", name="Local news")
        router = FullTextRouter.kafka(broker.bootstrap, feeds=[feed], settings=settings)
        report = asyncio.run(poll_once([feed], settings=settings, publisher=router))
        router.close()
        assert report.published == 1

        analyzer = load_registry(config_dir / "entities").analyzer

        def search(text: str) -> SearchResult:
            async def go() -> SearchResult:
                async with connected(settings, analyzer) as backend:
                    return await backend.search(SearchQuery(text=text))

            return (
                asyncio.run(go()) if (data_dir / "index.sqlite3").exists() else SearchResult(total=0, hits=[])
            )

        # a phrase that only the page has, not the feed's summary
        hits = eventually(lambda: search('"الحدود المشتركة"').hits, timeout=120)
        article = hits[0].article
        assert article.body == f"{P1}\n{P2}\n{P3}"
        assert article.summary == "ستستأنف المحادثات الأسبوع المقبل."
        assert article.fulltext is not None and article.fulltext.status == "extracted"
        assert article.fulltext.final_url == f"{news_site}/news/1"
        # enrichment ran on the full text: the place is named on the page only
        assert [(m.field, m.surface) for m in article.entities if m.canonical_id == DOHA] == [
            ("body", "الدوحة")
        ]
    except BaseException:
        print(worker.log()[-5000:])
        raise
    finally:
        worker.stop()
