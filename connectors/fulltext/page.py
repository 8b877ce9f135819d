"""Fetched bytes → HTML text: is it a page at all, and which charset (as for feeds: `connectors/encoding`).

Precedence: a BOM, then valid UTF-8, then the HTTP `charset`, then `<meta charset>` / `<meta http-equiv>`
in the first 4 KiB, then windows-1256 / ISO-8859-6 when that reads as Arabic (see `connectors.encoding`).
"""

from __future__ import annotations

import re
from typing import Final

from connectors.encoding import Decoded, decode
from pipeline.extract import extract_page

__all__ = ["HTML_TYPES", "decode_page", "extract_html", "is_html", "meta_charset"]

HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_SNIFF: Final = 4096
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)
_LOOKS_HTML = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL
)


def meta_charset(body: bytes) -> str | None:
    """The charset an HTML page declares in a `<meta>` near its start, if any."""
    match = _META_CHARSET.search(body[:_SNIFF])
    return match.group(1).decode("ascii") if match else None


def is_html(content_type: str | None, body: bytes) -> bool:
    """An HTML media type, or no type at all and bytes that start like an HTML document."""
    if content_type:
        return content_type.lower() in HTML_TYPES
    head = body[:_SNIFF].lstrip(b"\xef\xbb\xbf")
    return bool(_LOOKS_HTML.match(head))


def decode_page(body: bytes, http_charset: str | None) -> Decoded:
    """Decode an HTML page: trust the bytes, then the HTTP charset, then the `<meta>` charset."""
    return decode(body, http_charset or meta_charset(body))


def extract_html(body: bytes, charset: str | None = None, url: str | None = None) -> str | None:
    """Main text of page bytes, decoded as a fetched page is (what `rasd eval extract` scores)."""
    page = extract_page(decode_page(body, charset).text, url=url)
    return page.text if page is not None else None
