"""connectors.parse on the real fixture feeds and on synthetic edge cases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors import parse as parse_module
from connectors.parse import (
    MAX_ATTRIBUTES,
    MAX_BODY_CHARS,
    MAX_ELEMENTS,
    MAX_TITLE_CHARS,
    parse_feed,
    strip_doctype,
)
from connectors.sanitize import MAX_HTML_CHARS
from pipeline.errors import FeedParseError
from pipeline.ids import article_id
from tests.connectors.conftest import DATA, FIXTURES, FixtureFeed, fixture_feeds

ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")
FETCHED = datetime(2026, 6, 1, tzinfo=UTC)  # after the newest real fixture item
SEED = FIXTURES / "seed" / "seed-article.xml"
LINK = "<title>a</title><link>https://e.com/1</link>"
# shared/ sits beside the checkout (../shared from the project root), in CI too
SEED_TEXT = Path(__file__).resolve().parents[3] / "shared" / "samples" / "seed-article-ar.txt"


def _rss(items: str) -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>".encode()


@pytest.mark.parametrize("feed", fixture_feeds(), ids=lambda f: f.path.name)
def test_real_fixture_feeds(feed: FixtureFeed) -> None:
    parsed = parse_feed(
        feed.path.read_bytes(),
        source=feed.source,
        feed_url=feed.path.as_uri(),
        language="ar",
        fetched=FETCHED,
    )
    assert len(parsed.articles) == feed.items == parsed.entries
    assert not parsed.bozo and parsed.skipped == 0 and parsed.version.startswith(("rss", "atom"))
    ids = [a.id for a in parsed.articles]
    assert len(set(ids)) == len(ids)
    for article in parsed.articles:
        assert ARABIC_LETTER.search(article.title), article.title
        assert (
            "\n" not in article.title and "  " not in article.title and article.title == article.title.strip()
        )
        assert "<" not in article.summary or ARABIC_LETTER.search(article.summary)
        assert article.published is not None and article.published.utcoffset() == timedelta(0)
        assert article.published <= FETCHED
        assert article.url is not None and article.url.startswith(("https://", "http://"))
        assert article.id == article_id(article.url, article.guid, source=feed.source)
        assert (article.source, article.language, article.fetched) == (feed.source, "ar", FETCHED)
    # stable: a second parse (later, from another URL) gives the same ids
    again = parse_feed(feed.path.read_bytes(), source=feed.source, feed_url="https://elsewhere.example/rss")
    assert [a.id for a in again.articles] == ids


def test_seed_article_carries_the_real_text() -> None:
    if not SEED_TEXT.is_file():
        pytest.skip(f"{SEED_TEXT} not present (shared/ is not checked out beside the repo)")
    parsed = parse_feed(SEED.read_bytes(), source="seed", fetched=FETCHED)
    [article] = parsed.articles
    paragraphs = [line.strip() for line in SEED_TEXT.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert "بوتين" in article.title
    assert article.summary == paragraphs[0]
    assert article.body == "\n".join(paragraphs)
    assert article.url == "https://example.invalid/seed/putin-kim-vostochny-2023-09-13"
    assert article.published == datetime(2023, 9, 13, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        (DATA / "page.html").read_bytes(),
        b"",
        b"   \n",
        b'{"items": [{"title": "json, not a feed"}]}',
        b"\x00\x01\x02\xff\xfe garbage",
        b"/etc/passwd",  # a body that looks like a path must never be opened
        b"https://example.com/rss.xml",  # nor one that looks like a URL be fetched
    ],
    ids=["html-page", "empty", "blank", "json", "binary", "path", "url"],
)
def test_non_feeds_raise(body: bytes) -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed(body, source="x", feed_url="https://x.example/feed")
    assert info.value.url == "https://x.example/feed"


def test_windows_1256_declared_utf8_fixture() -> None:
    parsed = parse_feed((DATA / "cp1256-declared-utf8.xml").read_bytes(), source="t", charset="utf-8")
    assert parsed.encoding == "cp1256" and not parsed.lossy
    assert [a.title for a in parsed.articles] == [
        "وزير الخارجية يلتقي نظيره المغربي في الرباط",
        "ارتفاع أسعار النفط في الأسواق العالمية",
    ]


def test_atom_fixture() -> None:
    parsed = parse_feed((DATA / "atom.xml").read_bytes(), source="atomtest", language="ar", fetched=FETCHED)
    assert parsed.version == "atom10"
    assert parsed.entries == 3 and parsed.skipped == 1 and len(parsed.articles) == 2
    first, second = parsed.articles
    assert first.title == "قمة عربية في القاهرة"  # HTML stripped, whitespace collapsed
    assert first.url == "https://example.invalid/atom/news/summit"  # resolved against xml:base
    assert first.guid == "urn:rasd:test:atom:1"
    assert first.published == datetime(2026, 3, 1, 6, 30, tzinfo=UTC)  # +03:00 normalised to UTC
    assert first.body == "انطلقت أعمال القمة العربية اليوم في القاهرة.\nويشارك فيها قادة الدول الأعضاء."
    assert "alert" not in first.body
    # no link: the id falls back to the GUID scoped to the source; a 2099 date is dropped
    assert second.url is None and second.id == article_id(None, "urn:rasd:test:atom:2", source="atomtest")
    assert second.published is None
    assert any("implausible date" in w for w in parsed.warnings)


def test_bozo_feed_with_entries_is_accepted_with_a_warning() -> None:
    parsed = parse_feed((DATA / "bozo.xml").read_bytes(), source="b")
    assert parsed.bozo is True
    assert [a.title for a in parsed.articles] == ["تقرير عن الاقتصاد & المال", "تقرير ثان"]
    assert parsed.articles[1].guid == "bozo-2" and parsed.articles[1].url is None
    assert any(w.startswith("malformed feed accepted") for w in parsed.warnings)


@pytest.mark.parametrize(
    ("item", "field", "expected"),
    [
        ("<title>  عنوان \n\t مع   مسافات </title><link>https://e.com/1</link>", "title", "عنوان مع مسافات"),
        ("<title>a</title><link>javascript:alert(1)</link><guid>g1</guid>", "url", None),
        ("<title>a</title><link>ftp://e.com/x</link><guid>g1</guid>", "url", None),
        ("<title>a</title><link>https://e.com/x</link>", "guid", None),  # no <guid>: none invented
        ("<title>a</title><guid isPermaLink='true'>https://e.com/g</guid>", "url", "https://e.com/g"),
        (
            "<title>a</title><link>https://e.com/1</link><description>&lt;p&gt;x&lt;/p&gt;&lt;p&gt;y&lt;/p&gt;"
            "&lt;script&gt;z()&lt;/script&gt;</description>",
            "summary",
            "x\ny",
        ),
        (f"{LINK}<pubDate>Mon, 01 Jun 2026 23:00:00 +0000</pubDate>", "published",
         datetime(2026, 6, 1, 23, 0, tzinfo=UTC)),  # within a day ahead: kept
        (f"{LINK}<pubDate>Tue, 02 Jun 2026 00:00:01 +0000</pubDate>", "published",
         None),  # more than a day ahead of fetch: dropped
        ("<title>a</title><link>https://e.com/1</link><pubDate>not a date</pubDate>", "published", None),
        ("<title>a</title><link>https://e.com/1</link>", "published", None),
        # a second HTML round for double-escaped markup, even with "<" inside an attribute value
        ('<title>News &amp;lt;img src=x alt="&amp;lt;" onerror=alert(1)&amp;gt; headline</title>'
         "<link>https://e.com/1</link>", "title", "News headline"),
        ('<title>t</title><link>https://e.com/1</link><description>&amp;lt;script x="&amp;lt;"&amp;gt;'
         "alert(1)&amp;lt;/script&amp;gt; body</description>", "summary", "body"),
        ("<title>1 &lt; 2 and a&lt;3</title><link>https://e.com/1</link>", "title", "1 < 2 and a<3"),
    ],
)  # fmt: skip
def test_entry_mapping(item: str, field: str, expected: object) -> None:
    [article] = parse_feed(_rss(f"<item>{item}</item>"), source="s", fetched=FETCHED).articles
    assert getattr(article, field) == expected


def test_entries_without_link_or_guid_are_skipped_and_counted() -> None:
    parsed = parse_feed(
        _rss("<item><title>a</title></item><item><title>b</title><guid>g</guid></item>"), source="s"
    )
    assert parsed.skipped == 1 and [a.title for a in parsed.articles] == ["b"]


def test_duplicate_entries_keep_the_first() -> None:
    items = "<item><title>first</title><link>https://e.com/1?utm_source=x</link></item>"
    items += "<item><title>second</title><link>https://E.com/1</link></item>"
    parsed = parse_feed(_rss(items), source="s")
    assert [a.title for a in parsed.articles] == ["first"]


def test_long_fields_are_capped() -> None:
    title = "ع" * (MAX_TITLE_CHARS * 3)
    body = "<p>" + "كلمة " * (MAX_BODY_CHARS // 2) + "</p>"
    item = (
        f"<item><title>{title}</title><link>https://e.com/1</link><description>short</description>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
    )
    doc = _rss(item).replace(
        b'<rss version="2.0">',
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
    )
    [article] = parse_feed(doc, source="s").articles
    assert len(article.title) == MAX_TITLE_CHARS
    assert len(article.body) <= MAX_BODY_CHARS and article.body.startswith("كلمة")


def test_body_only_when_longer_than_summary() -> None:
    ns = b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
    item = (
        "<item><title>a</title><link>https://e.com/1</link><description>ملخص طويل نسبيا</description>"
        "<content:encoded><![CDATA[<p>قصير</p>]]></content:encoded></item>"
    )
    [article] = parse_feed(_rss(item).replace(b'<rss version="2.0">', ns), source="s").articles
    assert (article.summary, article.body) == ("ملخص طويل نسبيا", "")


@pytest.mark.parametrize(
    ("text", "expected", "cut"),
    [
        ("<?xml?>\n<!DOCTYPE rss [<!ENTITY a \"b\">]><rss/>", "<?xml?>\n<rss/>", True),
        ('<!-- c --><!DOCTYPE rss [<!ENTITY a "]>"><!-- it\'s ]> -->]><rss/>', "<!-- c --><rss/>", True),
        ('<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "http://x/rss.dtd"><rss/>', "<rss/>", True),
        ('<!doctype rss SYSTEM \'x>y\'><rss/>', "<rss/>", True),
        ('<!DOCTYPE rss [<!ENTITY a "b">', "", True),  # never closed: nothing usable follows
        ("<?xml?><!DOCTYPE rss [<!-- ]><rss/>", "<?xml?>", True),  # unclosed comment: the rest is cut
        ("<!DOCTYPE rss [<!-- a --> \"]>\" ]><rss/>", "<rss/>", True),
        ("<!DOCTYPE rss ['it]><rss/>", "<rss/>", True),  # an unmatched quote is an ordinary character
        ("<rss><!DOCTYPE x></rss>", "<rss><!DOCTYPE x></rss>", False),  # not in the prolog: not a DTD
        ("<rss/>", "<rss/>", False),
    ],
)  # fmt: skip
def test_strip_doctype(text: str, expected: str, cut: bool) -> None:
    assert strip_doctype(text) == (expected, cut)


def test_only_the_first_entries_are_parsed() -> None:
    items = "".join(f"<item><title>{n}</title><link>https://e.com/{n}</link></item>" for n in range(30))
    parsed = parse_feed(_rss(items), source="s", max_entries=10)
    assert [a.title for a in parsed.articles] == [str(n) for n in range(10)]
    assert parsed.dropped == 20 and not parsed.bozo  # the closing tail is kept: still well-formed


def test_doctype_of_unclosed_comments_is_cut_in_one_pass() -> None:
    # 200 kB: each unclosed "<!--" used to be rescanned to the end of the document (minutes)
    body = '<?xml version="1.0"?><!DOCTYPE rss [' + "<!--" * 50_000 + ']><rss version="2.0"><channel>'
    body += "<title>t</title><item><title>a</title><link>https://e.com/1</link></item></channel></rss>"
    assert strip_doctype(body) == ('<?xml version="1.0"?>', True)
    with pytest.raises(FeedParseError):
        parse_feed(body.encode(), source="s")


def test_marked_sections_the_html_parser_rejects_keep_the_entry() -> None:
    items = "<item><title>good</title><link>https://e.com/1</link></item>"
    items += "<item><title>bad</title><link>https://e.com/2</link>"
    items += "<description><![CDATA[<p>x <![ endif ]> y</p> a <![]> b]]></description></item>"
    parsed = parse_feed(_rss(items), source="s")
    assert [a.title for a in parsed.articles] == ["good", "bad"]
    assert parsed.articles[1].summary == "x y\na b"


def test_html_beyond_the_parse_bound_is_cut_and_flagged() -> None:
    markup = "<i></i>" + " " * MAX_HTML_CHARS  # no text inside the bound, some after it
    item = f"<item><title>t</title><link>https://e.com/1</link><description><![CDATA[{markup}<b>tail</b>]]>"
    [article] = parse_feed(_rss(item + "</description></item>"), source="s").articles
    assert (article.summary, article.truncated) == ("", True)


@pytest.mark.parametrize("link", ["https://example.com:99999/b", "http://[::1/b", "http://example.com:8o/b"])
def test_an_invalid_link_loses_only_its_own_url(link: str) -> None:
    items = "<item><title>good</title><link>https://e.com/1</link></item>"
    items += f"<item><title>no guid</title><link>{link}</link></item>"
    items += f"<item><title>guid</title><link>{link}</link><guid isPermaLink='false'>g3</guid></item>"
    parsed = parse_feed(_rss(items), source="s")
    assert [(a.title, a.url, a.guid) for a in parsed.articles] == [
        ("good", "https://e.com/1", None),
        ("guid", None, "g3"),
    ]
    assert parsed.skipped == 1


@pytest.mark.parametrize(
    ("ref", "title"),
    [
        ("&#xD800;", "خبر \ufffd عاجل"),  # a surrogate: feedparser raised, failing every entry
        ("&#55296;", "خبر \ufffd عاجل"),
        ("&#x110000;", "خبر \ufffd عاجل"),  # past the last code point
        ("&#x" + "9" * 5000 + ";", "خبر \ufffd عاجل"),
        ("&#x000000000645;", "خبر م عاجل"),  # leading zeros: a valid reference stays
        ("&#1605;", "خبر م عاجل"),
    ],
)
def test_a_character_reference_to_no_character_loses_nothing_else(ref: str, title: str) -> None:
    items = f"<item><title>خبر {ref} عاجل</title><link>https://e.com/1</link></item>"
    items += "<item><title>ok</title><link>https://e.com/2</link></item>"
    assert [a.title for a in parse_feed(_rss(items), source="s").articles] == [title, "ok"]


def test_an_entry_that_cannot_become_an_article_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    def fussy_id(url: str | None, guid: str | None = None, *, source: str = "") -> str:
        if guid == "bad":
            raise ValueError("no id for this one")
        return article_id(url, guid, source=source)

    monkeypatch.setattr(parse_module, "article_id", fussy_id)
    items = "".join(f"<item><title>{g}</title><guid isPermaLink='false'>{g}</guid></item>" for g in "ab")
    items += "<item><title>bad</title><guid isPermaLink='false'>bad</guid></item>"
    items += "<item><title>c</title><guid isPermaLink='false'>c</guid></item>"
    parsed = parse_feed(_rss(items), source="s")
    assert [a.title for a in parsed.articles] == ["a", "b", "c"]
    assert parsed.skipped == 1
    assert "1 entries with invalid data skipped (first: no id for this one)" in parsed.warnings


RELATIVE_ITEMS = (
    "<item><title>root</title><link>/news/1.html</link></item>"
    "<item><title>sibling</title><link> 2.html </link><guid isPermaLink='false'>n2</guid></item>"
    "<item><title>absolute</title><link>https://other.example/3</link></item>"
    "<item><title>guid only</title><guid>4</guid></item>"  # a permalink GUID is not made a URL
    "<item><title>script</title><link>javascript:alert(1)</link></item>"
)


@pytest.mark.parametrize(
    ("feed_url", "base_url", "expected"),
    [
        ("https://cfg.example/feeds/rss.xml", None, "https://cfg.example"),
        ("https://cfg.example/feeds/rss.xml", "https://final.example/feeds/rss.xml", "https://final.example"),
        (None, "http://final.example/feeds/rss.xml", "http://final.example"),
    ],
)
def test_relative_links_resolve_against_the_document_url(
    feed_url: str | None, base_url: str | None, expected: str
) -> None:
    parsed = parse_feed(_rss(RELATIVE_ITEMS), source="s", feed_url=feed_url, base_url=base_url)
    assert [(a.title, a.url, a.guid) for a in parsed.articles] == [
        ("root", f"{expected}/news/1.html", None),
        ("sibling", f"{expected}/feeds/2.html", "n2"),
        ("absolute", "https://other.example/3", None),
        ("guid only", None, "4"),
    ]
    assert all(a.feed_url == feed_url for a in parsed.articles)


def test_relative_links_stay_unresolved_without_an_http_base() -> None:
    parsed = parse_feed(_rss(RELATIVE_ITEMS), source="s", feed_url="file:///data/replay/feed.xml")
    assert [(a.title, a.url) for a in parsed.articles] == [
        ("sibling", None),
        ("absolute", "https://other.example/3"),
        ("guid only", None),
    ]


def test_an_element_flood_cuts_the_document_or_refuses_it() -> None:
    # feedparser spends ~50 µs per element: one entry of 300,000 <category> tags took 18 s
    def entry(n: int, tags: int) -> str:
        return (
            f"<item><title>{n}</title><link>https://e.com/{n}</link>{'<category>c</category>' * tags}</item>"
        )

    with pytest.raises(FeedParseError, match="more than 50000 XML elements"):
        parse_feed(_rss(entry(0, MAX_ELEMENTS)), source="s")
    parsed = parse_feed(_rss("".join(entry(n, 500) for n in range(200))), source="s")
    kept = MAX_ELEMENTS // 503  # each entry: item, title, link and 500 categories
    assert [a.title for a in parsed.articles] == [str(n) for n in range(kept)]
    assert parsed.dropped == 200 - kept
    assert f"{200 - kept} entries past {MAX_ELEMENTS} XML elements dropped" in parsed.warnings
    # markup inside CDATA is text, not elements: a long HTML description costs nothing here
    html = "<p>" + "<b>x</b>" * MAX_ELEMENTS + "</p>"
    item = f"<item><title>t</title><link>https://e.com/1</link><description><![CDATA[{html}]]></description></item>"
    assert len(parse_feed(_rss(item), source="s").articles) == 1


def test_an_element_with_too_many_attributes_is_refused() -> None:
    # the SAX layer finds each attribute by a scan of all of them: 10,000 on one element took 9 s
    crowded = " ".join(f'a{n}="v"' for n in range(MAX_ATTRIBUTES + 1))
    item = f"<item {crowded}><title>t</title><link>https://e.com/1</link></item>"
    with pytest.raises(FeedParseError, match=f"{MAX_ATTRIBUTES + 1} attributes"):
        parse_feed(_rss(item), source="s")
    # a long URL full of "=" is one attribute; attributes inside CDATA are text
    query = "&amp;".join(f"p{n}=1" for n in range(300))
    many = " ".join(f'a{n}="v"' for n in range(300))
    item = (
        f'<item><title>t</title><link>https://e.com/1?{query}</link><enclosure url="https://e.com/a?{query}" '
        f'type="audio/mpeg"/><description><![CDATA[<p {many}>x</p>]]></description></item>'
    )
    assert len(parse_feed(_rss(item), source="s").articles) == 1


def test_entry_ends_in_cdata_and_comments_are_not_counted() -> None:
    text = "example: " + "<item></item></entry>" * 100
    items = "".join(
        f"<item><title>{n}</title><link>https://e.com/{n}</link>"
        f"<description><![CDATA[{text}]]></description><!-- {text} --></item>"
        for n in range(20)
    )
    parsed = parse_feed(_rss(items), source="s")
    assert [a.title for a in parsed.articles] == [str(n) for n in range(20)]
    assert (parsed.dropped, parsed.bozo) == (0, False)
    capped = parse_feed(_rss(items), source="s", max_entries=5)
    assert [a.title for a in capped.articles] == [str(n) for n in range(5)]
    assert (capped.dropped, capped.bozo) == (15, False)
