"""Allow-list HTML cleaning and HTML → plain text; standard library only.

Feed HTML is hostile input. Anything not on the allow-list is dropped: unknown tags lose their markup but
keep their text, dangerous containers (`script`, `style`, `iframe`, ...) lose their content too, and
attributes survive only when listed for their tag (so every `on*` handler and `style` goes). URLs keep
only http(s), mailto and relative references, so `javascript:` and `data:` links cannot reach the UI.
As in miniflux's processor, sanitising runs last, after every other transformation.

Text loses C0 control characters and the explicit bidi formatting controls (embeddings, overrides and
isolates, U+202A-U+202E and U+2066-U+2069): an unbalanced RIGHT-TO-LEFT OVERRIDE in a title would reorder
whatever the UI shows after it. The implicit marks (LRM, RLM, ALM) and ZWJ/ZWNJ are kept: they are
legitimate in mixed Arabic/Latin text, and the search normaliser ignores them anyway.

The standard library parser rescans to the end of its input for every construct that is never closed
(an unterminated `<!--`, `<?`, `<![CDATA[`...), which is quadratic time on a few hundred kB of hostile
HTML, and it raises `AssertionError` on some marked sections (`<![ endif ]>`). So the input is first cut to
`MAX_HTML_CHARS` (far more than any article field keeps) and every construct that cannot be closed is
escaped into the text it would have become anyway; markup the parser still gives up on falls back to a
plain linear tag strip, so the text survives.
"""

from __future__ import annotations

import re
from html import escape, unescape
from html.parser import HTMLParser
from typing import Final
from urllib.parse import urlsplit

__all__ = ["MAX_HTML_CHARS", "clean_text", "html_to_text", "sanitize_html"]

# HTML beyond this many characters is not parsed: several times the largest text any article field keeps
# (`parse.MAX_BODY_CHARS`), and a bound on what the stdlib parser can be made to do.
MAX_HTML_CHARS: Final = 1_000_000

ALLOWED_TAGS: Final[dict[str, frozenset[str]]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "b": frozenset(),
    "blockquote": frozenset(),
    "br": frozenset(),
    "caption": frozenset(),
    "cite": frozenset(),
    "code": frozenset(),
    "dd": frozenset(),
    "del": frozenset(),
    "dl": frozenset(),
    "dt": frozenset(),
    "em": frozenset(),
    "figcaption": frozenset(),
    "figure": frozenset(),
    "h1": frozenset(),
    "h2": frozenset(),
    "h3": frozenset(),
    "h4": frozenset(),
    "h5": frozenset(),
    "h6": frozenset(),
    "hr": frozenset(),
    "i": frozenset(),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "ins": frozenset(),
    "li": frozenset(),
    "ol": frozenset(),
    "p": frozenset(),
    "pre": frozenset(),
    "q": frozenset(),
    "s": frozenset(),
    "small": frozenset(),
    "strong": frozenset(),
    "sub": frozenset(),
    "sup": frozenset(),
    "table": frozenset(),
    "tbody": frozenset(),
    "td": frozenset({"colspan", "rowspan"}),
    "tfoot": frozenset(),
    "th": frozenset({"colspan", "rowspan"}),
    "thead": frozenset(),
    "tr": frozenset(),
    "u": frozenset(),
    "ul": frozenset(),
}
# Elements whose *content* is dropped as well as their markup.
DROP_CONTENT: Final = frozenset(
    {"script", "style", "iframe", "object", "embed", "applet", "noscript", "template", "svg", "math", "head",
     "title", "frameset", "frame", "form", "select", "textarea", "button"}
)  # fmt: skip
_VOID: Final = frozenset(
    {"br", "hr", "img", "wbr", "meta", "link", "input", "source", "col", "area", "base", "embed", "param",
     "track", "keygen"}
)  # fmt: skip
_URL_ATTRS: Final = frozenset({"href", "src"})
_SAFE_SCHEMES: Final = frozenset({"http", "https", "mailto", ""})
# Block-level elements end a paragraph in the plain-text rendering.
_BLOCK: Final = frozenset(
    {"p", "div", "section", "article", "header", "footer", "aside", "nav", "main", "blockquote", "pre",
     "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "thead", "tbody", "tfoot", "caption", "figure",
     "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "address"}
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2028\u2029]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# marked sections as the stdlib parser reads them (`_markupbase`), by the terminator each kind waits for
_MARKED_SECTION = re.compile(r"<!\[([a-zA-Z][-_.a-zA-Z0-9]*)")
_SECTION_CLOSE: Final = {
    **dict.fromkeys(("temp", "cdata", "ignore", "include", "rcdata"), "]]>"),
    **dict.fromkeys(("if", "else", "endif"), "]>"),
}
_LONE_LT = re.compile(r"<(?![A-Za-z/!?])")
# fallback scanner: a comment opening, or anything from "<" to the next ">" (tag name in group 2)
_MARKUP = re.compile(r"<!--|<(/?)([A-Za-z][^\s/<>]*)?[^<>]*>")


def _safe_url(value: str) -> bool:
    """True for http(s), mailto and relative URLs; `javascript:` hides behind whitespace and case."""
    cleaned = re.sub(r"[\x00-\x20]", "", value)
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        return False
    return scheme in _SAFE_SCHEMES


class _Cleaner(HTMLParser):
    """Re-emits only allow-listed tags and attributes, escaping all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip_depth = 0
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT:
            if tag not in _VOID:
                self._skip_depth += 1
            return
        if self._skip_depth or tag not in ALLOWED_TAGS:
            return
        allowed = ALLOWED_TAGS[tag]
        parts = [tag]
        for name, value in attrs:
            if name not in allowed or value is None:
                continue
            if name in _URL_ATTRS and not _safe_url(value):
                continue
            parts.append(f'{name}="{escape(value, quote=True)}"')
        if tag == "a" and any(p.startswith("href=") for p in parts):
            parts.append('rel="nofollow noopener noreferrer"')
        self.out.append("<" + " ".join(parts) + ">")
        if tag not in _VOID:
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and tag in ALLOWED_TAGS and not self._skip_depth:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT:
            if tag not in _VOID and self._skip_depth:
                self._skip_depth -= 1
            return
        if self._skip_depth or tag not in self._open:
            return
        # close anything left open inside this element so the output stays well nested
        while self._open:
            top = self._open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.out.append(escape(_CONTROL.sub("", data), quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{t}>" for t in reversed(self._open))


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements and <br> become line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT and tag not in _VOID:
            self._skip_depth += 1
        elif tag == "br" or tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT and tag not in _VOID:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            # source newlines inside a paragraph are layout, not structure
            self.parts.append(data.replace("\n", " "))


def _bounded(html: str) -> str:
    """`html` cut to `MAX_HTML_CHARS`, with every construct that can never be closed escaped.

    The parser shows such a construct as text anyway, but only after rescanning the rest of the input
    for its terminator, once per construct. Terminators are the narrowest form every parser version
    accepts ("-->", "]]>", "]>", ">"), so whatever is left unescaped really is closed later on.
    """
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
        lt = html.rfind("<")
        if lt > html.rfind(">"):
            html = html[:lt]  # do not leave half a tag at the cut
    # after the last ">" nothing can be markup: no tag, comment or declaration can end there
    last_gt = html.rfind(">")
    head, tail = html[: last_gt + 1], html[last_gt + 1 :].replace("<", "&lt;")
    # a "<" that opens nothing is text to the parser too, but costs it a round trip per character
    head = _LONE_LT.sub("&lt;", head)
    # a "<!--" is closed only by a "-->" starting at least 4 characters after it
    first_open = head.find("<!--", max(0, head.rfind("-->") - 3))
    if first_open >= 0:
        head = head[:first_open] + head[first_open:].replace("<!--", "&lt;!--")
    if "<![" in head:
        last_close = {close: head.rfind(close) for close in set(_SECTION_CLOSE.values())}

        def neutralise(match: re.Match[str]) -> str:
            close = _SECTION_CLOSE.get(match.group(1).lower())
            if close is not None and last_close[close] < match.start() + 3:
                return "&lt;" + match.group()[1:]
            return match.group()

        head = _MARKED_SECTION.sub(neutralise, head)
    return head + tail


def _strip_tags(html: str) -> str:
    """Visible text by a plain linear scan, for markup the stdlib parser gives up on.

    Tags are dropped (block elements and <br> end a line), comments and `DROP_CONTENT` elements go whole.
    """
    parts: list[str] = []
    skip = 0
    pos = 0
    while match := _MARKUP.search(html, pos):
        if not skip:
            parts.append(unescape(html[pos : match.start()]).replace("\n", " "))
        if match.group() == "<!--":
            end = html.find("-->", match.end())
            pos = len(html) if end < 0 else end + 3
            continue
        pos = match.end()
        tag = (match.group(2) or "").lower()
        if tag in DROP_CONTENT and tag not in _VOID:
            skip = max(0, skip - 1) if match.group(1) else skip + 1
        elif not skip and (tag == "br" or tag in _BLOCK):
            parts.append("\n")
    if not skip:
        parts.append(unescape(html[pos:]).replace("\n", " "))
    return "".join(parts)


def clean_text(text: str) -> str:
    """Plain text without control characters and explicit bidi formatting (see the module docstring)."""
    return _CONTROL.sub("", text)


def sanitize_html(html: str) -> str:
    """Keep only allow-listed tags/attributes and safe URLs; drop script/style/iframe with their content."""
    html = _bounded(html)
    cleaner = _Cleaner()
    try:
        cleaner.feed(html)
        return cleaner.result()
    except Exception:  # the stdlib parser asserts on some marked sections ("<![ endif ]>")
        return escape(_CONTROL.sub("", _strip_tags(html)), quote=False)


def _extract_text(html: str) -> str:
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # the stdlib parser asserts on some marked sections ("<![ endif ]>")
        return _strip_tags(html)
    return "".join(extractor.parts)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: entities unescaped, one paragraph per line, whitespace collapsed."""
    if "<" not in html and "&" not in html:
        lines = html.split("\n")
    else:
        lines = _extract_text(_bounded(html)).split("\n")
    cleaned = (_SPACES.sub(" ", _CONTROL.sub("", line)).strip() for line in lines)
    return "\n".join(line for line in cleaned if line)
