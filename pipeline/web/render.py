"""Pure HTML helpers for the templates: safe highlights, entity-linked article text, the timeline SVG.

Everything that comes from articles is escaped here or by Jinja's autoescape; only the markup these
functions write themselves is marked safe.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

from pipeline.api.models import DayCount
from pipeline.models import EntityMention
from pipeline.search.base import HIGHLIGHT_POST, HIGHLIGHT_PRE
from pipeline.web.i18n import Lang, fmt_date, fmt_num

__all__ = ["Segment", "article_url", "entity_url", "highlight", "paragraphs", "timeline_svg", "web_href"]


def entity_url(entity_id: str) -> str:
    """The UI page of an entity (ids of unknown names hold Arabic and colons: quoted)."""
    return "/ui/entities/" + quote(entity_id, safe="")


def article_url(article_id: str) -> str:
    """The UI page of an article; ids are free strings (`/`, `?`, `#`, `%` included): quoted."""
    return "/ui/articles/" + quote(article_id, safe="")


def web_href(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) link, else None: an article's own link must never become
    a `javascript:` or `data:` href, whatever the producer stored."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def highlight(fragment: str) -> Markup:
    """A backend fragment (HTML-escaped text with <mark> spans) re-escaped, keeping only the marks."""
    out = []
    for i, piece in enumerate(fragment.split(HIGHLIGHT_PRE)):
        inner, _, rest = piece.partition(HIGHLIGHT_POST) if i else ("", "", piece)
        if i:
            out.append(Markup("<mark>") + escape(html.unescape(inner)) + Markup("</mark>"))
        out.append(escape(html.unescape(rest)))
    return Markup("").join(out)


@dataclass(frozen=True)
class Segment:
    """A run of article text, linked to an entity when it is a mention."""

    text: str
    mention: EntityMention | None = None

    @property
    def url(self) -> str:
        return entity_url(self.mention.canonical_id) if self.mention else ""


def paragraphs(text: str, mentions: Sequence[EntityMention]) -> list[list[Segment]]:
    """The field's text as paragraphs of segments; mentions (offsets into `text`) become linked runs.

    A link covers whole words: a mention written with a clitic (وبوتين، لإيران) links the word as
    written, so Arabic letters are never split across elements (which would break their joining).
    Overlapping or out-of-range mentions are skipped, never allowed to garble the text.
    """
    segments: list[Segment] = []
    pos = 0
    for m in sorted(mentions, key=lambda m: (m.start, -m.end)):
        if m.start < pos or m.end > len(text) or m.end <= m.start:
            continue
        start, end = _word_bounds(text, m.start, m.end, pos)
        if start > pos:
            segments.append(Segment(text[pos:start]))
        segments.append(Segment(text[start:end], m))
        pos = end
    if pos < len(text):
        segments.append(Segment(text[pos:]))
    # split plain runs on blank-line/newline boundaries into paragraphs
    out: list[list[Segment]] = [[]]
    for seg in segments:
        if seg.mention is not None:
            out[-1].append(seg)
            continue
        lines = seg.text.split("\n")
        for k, line in enumerate(lines):
            if k:
                out.append([])
            if line:
                out[-1].append(Segment(line))
    return [p for p in out if any(s.text.strip() for s in p)]


def _word_bounds(text: str, start: int, end: int, floor: int) -> tuple[int, int]:
    """Widen [start, end) to whole words (letters and marks), never before `floor`."""
    while start > floor and _in_word(text[start - 1]):
        start -= 1
    while end < len(text) and _in_word(text[end]):
        end += 1
    return start, end


def _in_word(c: str) -> bool:
    return c.isalnum() or unicodedata.category(c) in ("Mn", "Cf") or c == "ـ"


def timeline_svg(days: Sequence[DayCount], lang: Lang, *, width: int = 640, height: int = 170) -> Markup:
    """Mentions per day as bars on a linear time axis (inline SVG, no script).

    Time runs in the reading direction: right to left in Arabic, left to right in English.
    """
    if not days:
        return Markup("")
    pad_x, top, bottom = 12, 18, 30
    first, last = days[0].day, days[-1].day
    span = max((last - first).days, 1)
    peak = max(d.count for d in days)
    plot_w, plot_h = width - 2 * pad_x, height - top - bottom
    bar_w = max(3.0, min(24.0, plot_w / (span + 1) * 0.8))
    rtl = lang == "ar"

    def x_of(day: date) -> float:
        frac = (day - first).days / span if len(days) > 1 else 0.5
        x = pad_x + frac * (plot_w - bar_w)
        return width - x - bar_w if rtl else x

    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" direction="{"rtl" if rtl else "ltr"}" role="img" aria-labelledby="tl-title">',
        f'<title id="tl-title">{escape(fmt_date(first, lang))} – {escape(fmt_date(last, lang))}</title>',
        f'<line class="axis" x1="{pad_x}" y1="{top + plot_h}" x2="{width - pad_x}" y2="{top + plot_h}"/>',
    ]
    for d in days:
        h = max(2.0, plot_h * d.count / peak)
        x = x_of(d.day)
        tip = f"{fmt_date(d.day, lang)}: {fmt_num(d.count, lang)}"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'data-day="{d.day.isoformat()}" data-count="{d.count}"><title>{escape(tip)}</title></rect>'
        )
    label_y = height - 8
    # text-anchor follows the text direction: "start" is the right edge of an Arabic label
    start_anchor, end_anchor = "start", "end"
    parts.append(
        f'<text class="label" x="{width - pad_x if rtl else pad_x}" y="{label_y}" '
        f'text-anchor="{start_anchor}">{escape(fmt_date(first, lang))}</text>'
    )
    if last != first:
        parts.append(
            f'<text class="label" x="{pad_x if rtl else width - pad_x}" y="{label_y}" '
            f'text-anchor="{end_anchor}">{escape(fmt_date(last, lang))}</text>'
        )
    parts.append(
        f'<text class="label peak" x="{width - pad_x if rtl else pad_x}" y="{top - 5}" '
        f'text-anchor="{start_anchor}">{escape(fmt_num(peak, lang))}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
