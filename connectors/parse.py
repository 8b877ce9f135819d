"""Feed bytes → `Article` list with feedparser; never fetches.

feedparser gets the bytes wrapped in a stream: given a bare `bytes`/`str` it tries `open()` on it as a
file name (and fetches `http:`/`file:` strings), which is how a feed body could read a local file.
Bytes are first decoded by `connectors.encoding` and handed over as UTF-8 with a UTF-8 prolog and header,
so a wrong charset label cannot garble Arabic.

Entry mapping choices:

* `url` is the entry link when it is http(s); `guid` the entry id; an entry with neither is skipped;
* title, summary and body are plain text (`sanitize.html_to_text`); titles are one line, summaries and
  bodies keep paragraph breaks as "\\n"; `body` is the `content` text when it is longer than the summary;
* `published` is `published_parsed`, else `updated_parsed`, as an aware UTC datetime; a date more than a
  day after `fetched` is a publisher clock or time-zone bug, and we never invent a date, so it becomes
  None (consumers fall back to `fetched`); dates before 1990 are dropped the same way;
* duplicate ids inside one document keep the first entry;
* title capped at `MAX_TITLE_CHARS`, summary at `MAX_SUMMARY_CHARS`, body at `MAX_BODY_CHARS`.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import feedparser

from connectors.encoding import decode, utf8_document
from connectors.sanitize import html_to_text
from pipeline.errors import FeedParseError
from pipeline.ids import article_id
from pipeline.models import Article, utcnow

__all__ = ["MAX_BODY_CHARS", "MAX_SUMMARY_CHARS", "MAX_TITLE_CHARS", "ParsedFeed", "parse_feed"]

MAX_TITLE_CHARS: Final = 1_000
MAX_SUMMARY_CHARS: Final = 20_000
MAX_BODY_CHARS: Final = 200_000
MAX_GUID_CHARS: Final = 2_000
FUTURE_TOLERANCE: Final = timedelta(days=1)
EARLIEST: Final = datetime(1990, 1, 1, tzinfo=UTC)
_WS = re.compile(r"\s+")
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def _one_line(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _text_of(value: Any, detail: Any) -> str:
    """Plain text of a feedparser text construct; HTML is stripped, plain text kept as is."""
    if not isinstance(value, str) or not value:
        return ""
    kind = detail.get("type", "text/html") if isinstance(detail, Mapping) else "text/html"
    return html_to_text(value) if kind in _HTML_TYPES or "<" in value or "&" in value else value


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value.lower().startswith(("http://", "https://")) and len(value) < 4096 else None


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
    language: str | None = None,
    headers: Mapping[str, str] | None = None,
    charset: str | None = None,
    fetched: datetime | None = None,
) -> ParsedFeed:
    """Parse one RSS/Atom document into articles of `source`.

    Args:
        body: the document bytes as fetched or read (never a URL or a path).
        source: feed id; scopes GUID-based ids and becomes `Article.source`.
        feed_url: where the document came from, recorded on each article.
        language: configured language of the feed (publisher `<language>` tags are often wrong).
        headers: HTTP response headers (lower- or mixed-case), passed to feedparser.
        charset: declared charset (HTTP header); the XML prolog is read when None.
        fetched: fetch time, for `Article.fetched` and the future-date check.

    Raises:
        FeedParseError: the bytes are not a recognisable feed (an HTML page, an empty body, garbage).
    """
    fetched = fetched or utcnow()
    label = feed_url or source
    decoded = decode(body, charset)
    warnings: list[str] = []
    if decoded.lossy:
        warnings.append("body is not valid in any known charset; undecodable bytes replaced")
    result = feedparser.parse(
        io.BytesIO(utf8_document(decoded)),
        response_headers=_headers_as_utf8(headers),
        resolve_relative_uris=True,
        sanitize_html=False,  # everything becomes plain text through our own allow-list code
    )
    entries = list(result.get("entries") or [])
    version = str(result.get("version") or "")
    bozo = bool(result.get("bozo"))
    if not version and not entries:
        reason = f": {result.get('bozo_exception')}" if bozo else ""
        raise FeedParseError(f"parser: not an RSS/Atom feed{reason}", url=label)
    if bozo:
        warnings.append(f"malformed feed accepted: {result.get('bozo_exception')}")
    articles: list[Article] = []
    seen: set[str] = set()
    skipped = 0
    for entry in entries:
        url = _http_url(entry.get("link"))
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
        seen.add(ident)
        summary = _clip(_text_of(entry.get("summary"), entry.get("summary_detail")), MAX_SUMMARY_CHARS)
        body_text = _body(entry)
        articles.append(
            Article(
                id=ident,
                source=source,
                feed_url=feed_url,
                url=url,
                guid=guid,
                title=_clip(
                    _one_line(_text_of(entry.get("title"), entry.get("title_detail"))), MAX_TITLE_CHARS
                ),
                summary=summary,
                body=_clip(body_text, MAX_BODY_CHARS) if len(body_text) > len(summary) else "",
                language=language,
                published=_published(entry, fetched, warnings),
                fetched=fetched,
            )
        )
    if skipped:
        warnings.append(f"{skipped} entries without link or id skipped")
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
        skipped=skipped,
    )
