"""Feed bytes → `Article` list with feedparser; never fetches.

feedparser gets the bytes wrapped in a stream: given a bare `bytes`/`str` it tries `open()` on it as a
file name (and fetches `http:`/`file:` strings), which is how a feed body could read a local file.
Bytes are first decoded by `connectors.encoding` and handed over as UTF-8 with a UTF-8 prolog and header,
so a wrong charset label cannot garble Arabic.

Hostile documents:

* the DOCTYPE (with any internal subset) is removed before feedparser sees the text: no entity is ever
  declared, so neither entity expansion ("billion laughs": expat's own amplification limit stops it only
  after seconds and tens of MB) nor an external entity (XXE) can happen; references stay literal text;
* a document whose feed version feedparser does not recognise is refused (`FeedParseError`) even when
  its loose parser found `<item>`-like elements: an HTML error page answered with 200 is not a feed;
* only the first `max_entries` entries are parsed: the document is cut after that many closing
  `</item>`/`</entry>` tags (feedparser costs about a millisecond per entry, and the rest of a huge
  document is older news anyway); the number dropped is reported; tags inside CDATA sections and
  comments do not count; it is also cut after the last entry that ends within `MAX_ELEMENTS` XML
  elements (one entry of 300,000 `<category>` tags took 18 s), and refused when the first one does not,
  or when an element has more than `MAX_ATTRIBUTES` attributes (10,000 took 9 s, quadratic);
* markup that survives one round of HTML-to-text (double-escaped `&amp;lt;script&amp;gt;`) gets a second;
* feedparser does not resolve relative URIs inside content (content becomes plain text, and that pass
  took 24 s on an entry of 7 MB of links);
* every scan of the raw text is linear: an unclosed comment in the DOCTYPE ends it (the rest is cut);
* an entry whose data cannot make an article (a link with port 99999, say) is skipped and counted, so
  one bad entry never loses the others.

Entry mapping choices:

* `url` is the entry link when it is a valid http(s) URL, relative links resolved against the document's
  URL (`base_url`: where it was fetched from after redirects, else `feed_url`); `guid` the entry id; an
  entry with neither is skipped; a relative permalink GUID is not resolved into a URL;
* title, summary and body are plain text (`sanitize.html_to_text`); titles are one line, summaries and
  bodies keep paragraph breaks as "\\n"; `body` is the `content` text when it is longer than the summary;
* `published` is `published_parsed`, else `updated_parsed`, as an aware UTC datetime; a date more than a
  day after `fetched` is a publisher clock or time-zone bug, and we never invent a date, so it becomes
  None (consumers fall back to `fetched`); dates before 1990 are dropped the same way, which is also what
  becomes of a Hijri date (year 14xx); Arabic-Indic digits are read as digits (feedparser's date
  patterns match any Unicode digit), Arabic month names are not guessed;
* duplicate ids inside one document keep the first entry;
* a footer or header that most summaries (or bodies) of the document share, 8 words or more, is removed
  (`boilerplate.strip_shared_ends`): it made unrelated items of a site near duplicates;
* title capped at `MAX_TITLE_CHARS`, summary at `MAX_SUMMARY_CHARS`, body at `MAX_BODY_CHARS`; a capped
  article is flagged `truncated`.
"""

from __future__ import annotations

import bisect
import io
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import feedparser

from connectors.boilerplate import strip_feed_boilerplate, strip_shared_ends
from connectors.encoding import Decoded, decode, utf8_document
from connectors.sanitize import MAX_HTML_CHARS, clean_text, html_to_text
from pipeline.errors import FeedParseError
from pipeline.ids import article_id
from pipeline.models import Article, utcnow
from pipeline.text.references import NUMERIC_REFERENCE, reference_code

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_BODY_CHARS",
    "MAX_ELEMENTS",
    "MAX_ENTRIES",
    "MAX_SUMMARY_CHARS",
    "MAX_TITLE_CHARS",
    "ParsedFeed",
    "parse_feed",
    "strip_doctype",
]

MAX_TITLE_CHARS: Final = 1_000
MAX_SUMMARY_CHARS: Final = 20_000
MAX_BODY_CHARS: Final = 200_000
MAX_GUID_CHARS: Final = 2_000
MAX_URL_CHARS: Final = 4_096
MAX_ENTRIES: Final = 1_000
# feedparser spends 30-60 µs per XML element: 50,000 are 2-3 s of one core, ten times a 1,000-entry feed
MAX_ELEMENTS: Final = 50_000
# the SAX layer looks attributes up by scanning them: 10,000 on one element took 9 s (quadratic)
MAX_ATTRIBUTES: Final = 100
FUTURE_TOLERANCE: Final = timedelta(days=1)
EARLIEST: Final = datetime(1990, 1, 1, tzinfo=UTC)
_WS = re.compile(r"\s+")
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
# the start of a tag, end tag, comment or declaration left in text that was already converted once
# (an attribute value may hold "<" itself, so no attempt is made to find where the tag ends)
_TAG_LIKE = re.compile(r"<[A-Za-z/!]")
_PROLOG_SKIP = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_DOCTYPE = re.compile(r"\s*(<!DOCTYPE\b)", re.IGNORECASE)
# inside a DOCTYPE: comments and quoted strings are skipped whole (their ends found with str.find, so
# the scan stays linear), so their brackets do not count
_DTD_TOKEN = re.compile(r"<!--|[\"'\[\]>]")
# entry ends, and the sections that hide markup from the XML parser (skipped whole)
_ENTRY_SCAN = re.compile(r"<!\[CDATA\[|<!--|(?i:</(?:item|entry)\s*>)")
_START_TAG = re.compile(r"<[A-Za-z_]")
_LONG_TAG = re.compile(r"<[A-Za-z_][^<>]{400,}")
_ATTRIBUTE = re.compile(r"""\s[^\s=<>"']+\s*=""")  # a name and "=" (not an "=" inside a URL value)
_SECTION_END: Final = {"<![CDATA[": "]]>", "<!--": "-->"}
_HTTP_SCHEMES: Final = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """Articles of one feed document plus what went wrong without stopping the parse."""

    articles: list[Article]
    title: str = ""
    version: str = ""
    bozo: bool = False
    warnings: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    lossy: bool = False
    entries: int = 0
    skipped: int = 0
    dropped: int = 0


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def _one_line(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _text_of(value: Any, detail: Any) -> str:
    """Plain text of a feedparser text construct; HTML is stripped (twice if it was double-escaped)."""
    if not isinstance(value, str) or not value:
        return ""
    kind = detail.get("type", "text/html") if isinstance(detail, Mapping) else "text/html"
    if kind not in _HTML_TYPES and "<" not in value and "&" not in value:
        return clean_text(value)
    text = html_to_text(value)
    return html_to_text(text) if _TAG_LIKE.search(text) else text


def strip_doctype(text: str) -> tuple[str, bool]:
    """The document without its DOCTYPE declaration (internal subset included); True if one was cut."""
    pos = 0
    while (match := _PROLOG_SKIP.match(text, pos)) and match.end() > pos:
        pos = match.end()
    start = _DOCTYPE.match(text, pos)
    if start is None:
        return text, False
    depth = 0
    cursor = start.end()
    while token := _DTD_TOKEN.search(text, cursor):
        cursor = token.end()
        if token.group() == "<!--":
            close = text.find("-->", cursor)
            if close < 0:
                break  # an unclosed comment: nothing after it can be a well-formed feed
            cursor = close + 3
        elif token.group() in "\"'":
            close = text.find(token.group(), cursor)
            if close >= 0:  # an unmatched quote is an ordinary character
                cursor = close + 1
        elif token.group() == "[":
            depth += 1
        elif token.group() == "]":
            depth = max(0, depth - 1)
        elif token.group() == ">" and depth == 0:
            return text[: start.start(1)] + text[cursor:], True
    return text[: start.start(1)], True  # never closed: nothing after it can be a well-formed feed


def _valid_char_ref(match: re.Match[str]) -> str:
    """A numeric character reference, or U+FFFD's for one that names no character (a surrogate, a
    number past U+10FFFF): feedparser raises on those, and one of them failed the whole feed."""
    if not match.group(3):
        return match.group()  # no `;`: in XML that is no reference, and the parser reads it as text
    code = reference_code(match)
    if code is not None and code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return match.group()
    return "&#xFFFD;"


def _entry_ends(text: str) -> tuple[list[int], list[int], int]:
    """Offsets just past each `</item>`/`</entry>`, not counting those in CDATA sections or comments;
    the number of XML start tags before each (markup in CDATA and comments is text, not tags); and
    the most attributes any start tag has, counted only for tags over 400 characters (100 need 500)."""
    ends: list[int] = []
    elements: list[int] = []
    count = crowded = 0
    pos = 0
    while True:
        token = _ENTRY_SCAN.search(text, pos)
        stop = len(text) if token is None else token.start()
        count += len(_START_TAG.findall(text, pos, stop))
        for tag in _LONG_TAG.finditer(text, pos, stop):
            crowded = max(crowded, len(_ATTRIBUTE.findall(tag.group())))
        if token is None:
            break
        closer = _SECTION_END.get(token.group())
        if closer is None:
            ends.append(token.end())
            elements.append(count)
            pos = token.end()
            continue
        close = text.find(closer, token.end())
        if close < 0:
            break  # the rest is inside an unclosed section
        pos = close + len(closer)
    return ends, elements, crowded


def _limit_entries(
    text: str, max_entries: int, *, url: str, max_elements: int = MAX_ELEMENTS
) -> tuple[str, int, str]:
    """Cut the document after its `max_entries`-th entry, or after the last entry within the first
    `max_elements` XML elements, keeping the closing tail; (text, entries dropped, why).

    Raises:
        FeedParseError: the first entry already ends past `max_elements` elements, or an element
            has more than `MAX_ATTRIBUTES` attributes.
    """
    ends, elements, crowded = _entry_ends(text)
    if crowded > MAX_ATTRIBUTES:
        raise FeedParseError(f"parser: an XML element with {crowded} attributes; refused", url=url)
    keep = min(len(ends), max_entries, bisect.bisect_right(elements, max_elements))
    if keep == len(ends):
        return text, 0, ""
    if keep == 0:
        raise FeedParseError(
            f"parser: more than {max_elements} XML elements before the first entry ends; refused", url=url
        )
    why = f"beyond the first {max_entries}" if keep == max_entries else f"past {max_elements} XML elements"
    return text[: ends[keep - 1]] + text[ends[-1] :], len(ends) - keep, why


def _http_base(url: str | None) -> str | None:
    """`url` when it can serve as a base for relative links (an http(s) URL), else None."""
    return url if _http_url(url) is not None else None


def _http_url(value: Any, base: str | None = None) -> str | None:
    """`value` (resolved against `base`) when it is a valid absolute http(s) URL, else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) >= MAX_URL_CHARS:
        return None
    try:
        if base is not None:
            value = urljoin(base, value)
        parts = urlsplit(value)
        valid = parts.scheme.lower() in _HTTP_SCHEMES and bool(parts.hostname)
        _ = parts.port  # ValueError when out of range or not a number
    except ValueError:  # also a malformed IPv6 literal
        return None
    return value if valid and len(value) < MAX_URL_CHARS else None


def _entry_link(entry: Mapping[str, Any], base: str | None) -> str | None:
    """The entry's http(s) link; a link feedparser copied from a permalink GUID is not resolved."""
    link = entry.get("link")
    from_guid = bool(entry.get("guidislink")) and link == entry.get("id")
    return _http_url(link, None if from_guid else base)


def _html_cut(entry: Mapping[str, Any]) -> bool:
    """True when a text field of the entry is longer than the HTML that is parsed at all."""
    values = [entry.get("title"), entry.get("summary")]
    values += [part.get("value") for part in entry.get("content") or [] if isinstance(part, Mapping)]
    return any(isinstance(value, str) and len(value) > MAX_HTML_CHARS for value in values)


def _published(entry: Mapping[str, Any], fetched: datetime, warnings: list[str]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if isinstance(parsed, time.struct_time):
            try:
                when = datetime(*parsed[:6], tzinfo=UTC)
            except ValueError:
                continue
            if when > fetched + FUTURE_TOLERANCE or when < EARLIEST:
                warnings.append(f"implausible date {when.isoformat()} dropped")
                return None
            return when
    return None


def _body(entry: Mapping[str, Any]) -> str:
    parts = entry.get("content") or []
    texts = [_text_of(part.get("value"), part) for part in parts if isinstance(part, Mapping)]
    return "\n".join(t for t in texts if t)


def _headers_as_utf8(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Response headers for feedparser, with the charset rewritten to the UTF-8 we hand it."""
    out = {k.lower(): v for k, v in (headers or {}).items()}
    media = out.get("content-type", "").split(";", 1)[0].strip()
    out["content-type"] = f"{media or 'application/xml'}; charset=utf-8"
    return out


def parse_feed(
    body: bytes,
    *,
    source: str,
    feed_url: str | None = None,
    base_url: str | None = None,
    language: str | None = None,
    headers: Mapping[str, str] | None = None,
    charset: str | None = None,
    fetched: datetime | None = None,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """Parse one RSS/Atom document into articles of `source`.

    Args:
        body: the document bytes as fetched or read (never a URL or a path).
        source: feed id; scopes GUID-based ids and becomes `Article.source`.
        feed_url: where the document came from, recorded on each article.
        base_url: URL relative links resolve against: where the document was fetched from after
            redirects; `feed_url` when None. Only an http(s) base is used.
        language: configured language of the feed (publisher `<language>` tags are often wrong).
        headers: HTTP response headers (lower- or mixed-case), passed to feedparser.
        charset: declared charset (HTTP header); the XML prolog is read when None.
        fetched: fetch time, for `Article.fetched` and the future-date check.
        max_entries: entries parsed at most (the first ones); the rest are counted in `dropped`.

    Raises:
        FeedParseError: the bytes are not a recognisable feed (an HTML page, an empty body, garbage).
    """
    fetched = fetched or utcnow()
    label = feed_url or source
    base = _http_base(base_url if base_url is not None else feed_url)
    decoded = decode(body, charset)
    warnings: list[str] = []
    if decoded.lossy:
        warnings.append("body is not valid in any known charset; undecodable bytes replaced")
    text, had_doctype = strip_doctype(decoded.text)
    if had_doctype:
        warnings.append("DOCTYPE removed (no entity declarations are honoured)")
    text = NUMERIC_REFERENCE.sub(_valid_char_ref, text)
    text, dropped, why = _limit_entries(text, max_entries, url=label)
    if dropped:
        warnings.append(f"{dropped} entries {why} dropped")
    result = feedparser.parse(
        io.BytesIO(utf8_document(Decoded(text, decoded.encoding, decoded.lossy))),
        response_headers=_headers_as_utf8(headers),
        # content becomes plain text (links dropped), so resolving URIs inside it is wasted work, and it
        # was the slowest pass on tag-dense markup (24 s on 7 MB of links); entry links are resolved
        # below against `base`
        resolve_relative_uris=False,
        sanitize_html=False,  # everything becomes plain text through our own allow-list code
    )
    entries = list(result.get("entries") or [])
    version = str(result.get("version") or "")
    bozo = bool(result.get("bozo"))
    if not version:
        # feedparser reports no error for an HTML page: only a recognised feed version says "feed"
        reason = f": {result.get('bozo_exception')}" if bozo else ""
        raise FeedParseError(f"parser: not an RSS/Atom feed{reason}", url=label)
    if bozo:
        warnings.append(f"malformed feed accepted: {result.get('bozo_exception')}")
    articles: list[Article] = []
    seen: set[str] = set()
    skipped = 0
    invalid: list[str] = []
    for entry in entries:
        try:
            url = _entry_link(entry, base)
            raw_guid = entry.get("id")
            guid = (
                _clip(raw_guid.strip(), MAX_GUID_CHARS)
                if isinstance(raw_guid, str) and raw_guid.strip()
                else None
            )
            if url is None and guid is None:
                skipped += 1
                continue
            ident = article_id(url, guid, source=source)
            if ident in seen:
                warnings.append(f"duplicate entry {url or guid} ignored")
                continue
            article = _article(
                entry,
                ident=ident,
                url=url,
                guid=guid,
                source=source,
                feed_url=feed_url,
                language=language,
                fetched=fetched,
                warnings=warnings,
            )
        except ValueError as exc:  # pydantic's ValidationError is one too
            invalid.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        seen.add(ident)
        articles.append(article)
    articles = _without_shared_ends(articles, warnings)
    if skipped:
        warnings.append(f"{skipped} entries without link or id skipped")
    if invalid:
        warnings.append(f"{len(invalid)} entries with invalid data skipped (first: {invalid[0]})")
    feed_meta = result.get("feed") or {}
    return ParsedFeed(
        articles=articles,
        title=_one_line(_text_of(feed_meta.get("title"), feed_meta.get("title_detail"))),
        version=version,
        bozo=bozo,
        warnings=warnings,
        encoding=decoded.encoding,
        lossy=decoded.lossy,
        entries=len(entries),
        skipped=skipped + len(invalid),
        dropped=dropped,
    )


def _without_shared_ends(articles: list[Article], warnings: list[str]) -> list[Article]:
    """The articles with the footer/header that most of this document's summaries (bodies) share
    removed (`boilerplate.strip_shared_ends`)."""
    for name in ("summary", "body"):
        texts, changed, words = strip_shared_ends([getattr(a, name) for a in articles])
        if changed:
            articles = [
                a if getattr(a, name) == text else a.model_copy(update={name: text})
                for a, text in zip(articles, texts, strict=True)
            ]
            warnings.append(f"a {name} footer or header of {words} words shared by {changed} entries removed")
    return articles


def _article(
    entry: Mapping[str, Any],
    *,
    ident: str,
    url: str | None,
    guid: str | None,
    source: str,
    feed_url: str | None,
    language: str | None,
    fetched: datetime,
    warnings: list[str],
) -> Article:
    """The article of one entry, its id already made; raises ValueError on data it cannot hold."""
    full_title = _one_line(_text_of(entry.get("title"), entry.get("title_detail")))
    full_summary = strip_feed_boilerplate(
        _text_of(entry.get("summary"), entry.get("summary_detail")), full_title
    )
    body_text = strip_feed_boilerplate(_body(entry), full_title)
    if len(body_text) <= len(full_summary):
        body_text = ""
    title = _clip(full_title, MAX_TITLE_CHARS)
    summary = _clip(full_summary, MAX_SUMMARY_CHARS)
    body_kept = _clip(body_text, MAX_BODY_CHARS)
    return Article(
        id=ident,
        source=source,
        feed_url=feed_url,
        url=url,
        guid=guid,
        title=title,
        summary=summary,
        body=body_kept,
        language=language,
        published=_published(entry, fetched, warnings),
        fetched=fetched,
        truncated=_html_cut(entry)
        or (len(title), len(summary), len(body_kept)) != (len(full_title), len(full_summary), len(body_text)),
    )
