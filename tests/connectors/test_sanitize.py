"""connectors.sanitize: allow-list cleaning and HTML → text."""

from __future__ import annotations

import pytest

from connectors import sanitize
from connectors.sanitize import MAX_HTML_CHARS, html_to_text, sanitize_html


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>نص</p><script>alert('x')</script>", "<p>نص</p>"),
        ("<p>a<SCRIPT type='text/javascript'>document.cookie</SCRIPT>b</p>", "<p>ab</p>"),
        (
            '<img src="https://e.com/a.png" onerror="alert(1)" alt="صورة">',
            '<img src="https://e.com/a.png" alt="صورة">',
        ),
        ('<iframe src="https://evil.example/"><p>inside</p></iframe><p>after</p>', "<p>after</p>"),
        ("<style>body{display:none}</style><b>bold</b>", "<b>bold</b>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href=" JaVa\tScRiPt:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "<a>x</a>"),
        (
            '<a href="https://e.com/x" onclick="steal()" style="color:red">x</a>',
            '<a href="https://e.com/x" rel="nofollow noopener noreferrer">x</a>',
        ),
        ('<div class="c"><span>خبر</span></div>', "خبر"),  # unknown tags: markup dropped, text kept
        ("<p>1 &lt; 2 &amp; 3</p>", "<p>1 &lt; 2 &amp; 3</p>"),
        ("<ul><li>one<li>two</ul>", "<ul><li>one<li>two</li></li></ul>"),
        ("<p>unclosed <em>tags", "<p>unclosed <em>tags</em></p>"),
        ('<object data="x.swf"><embed src="x.swf"></object>ok', "ok"),
        ("<form><input name=a><button>go</button></form>kept", "kept"),
    ],
)
def test_sanitize_html(html: str, expected: str) -> None:
    assert sanitize_html(html) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>الفقرة الأولى.</p><p>الفقرة الثانية.</p>", "الفقرة الأولى.\nالفقرة الثانية."),
        ("سطر<br>سطر آخر<br/>ثالث", "سطر\nسطر آخر\nثالث"),
        ("<p>a   b\n  c</p>", "a b c"),
        (
            "&amp; &lt;tag&gt; &#1576;&#1608;&#1578;&#1610;&#1606; &quot;x&quot; &nbsp;y",
            '& <tag> بوتين "x" y',
        ),
        ("<p>ok</p><script>var x = '<p>no</p>';</script><style>p{}</style>", "ok"),
        ("<iframe>hidden</iframe><p>visible</p>", "visible"),
        ('<img src=x onerror="alert(1)">text', "text"),
        ("<div><h3>عنوان</h3><p>نص</p></div>", "عنوان\nنص"),
        ("plain text, no markup", "plain text, no markup"),
        ("line one\n\n\nline two", "line one\nline two"),
        ("", ""),
        ("a\x00b\x07c", "abc"),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    ("html", "text", "sanitized"),
    [
        # the stdlib parser raises AssertionError on these marked sections
        ("<p>x <![ endif ]> y</p>", "x y", "\nx  y\n"),
        ("a <![]> b", "a b", "a  b"),
        (
            "<p>a</p><![ x ]><script>bad()</script><p>b<br>c &amp; d</p>",
            "a\nb\nc & d",
            "\na\n\nb\nc &amp; d\n",
        ),
        ('<b onclick="x()">t</b> <![ if ]> <a href="javascript:x">l</a>', "t l", "t  l"),
    ],
)
def test_markup_the_parser_gives_up_on_keeps_its_text(html: str, text: str, sanitized: str) -> None:
    assert html_to_text(html) == text
    assert sanitize_html(html) == sanitized


def test_well_formed_marked_sections_are_still_parsed() -> None:
    html = "<![if !vml]><img src='a.png'><![endif]><p>ok<![CDATA[hidden]]></p>"
    assert html_to_text(html) == "ok"
    assert sanitize_html(html) == '<img src="a.png"><p>ok</p>'


def test_unterminated_comments_take_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # 200 kB of "<!--" with no ">" after them: the stdlib parser gave up on each one separately, after
    # rescanning the rest of the input for its end (quadratic: minutes). Escaped first, they reach the
    # parser as one run of text; the work is counted in pieces of text handed over.
    pieces = 0
    handle_data = sanitize._TextExtractor.handle_data

    def counting(self: sanitize._TextExtractor, data: str) -> None:
        nonlocal pieces
        pieces += 1
        if pieces > 1_000:
            raise RuntimeError("one parser pass per unterminated comment")
        handle_data(self, data)

    monkeypatch.setattr(sanitize._TextExtractor, "handle_data", counting)
    html = "<p>x</p>" + "<!--" * 50_000 + "y"
    assert html_to_text(html) == "x\n" + "<!--" * 50_000 + "y"
    assert pieces <= 3


def test_unterminated_comments_stay_text_and_markup_after_them_is_parsed() -> None:
    html = "<!--" * 50_000 + "<b>x</b>y"
    assert html_to_text(html) == "<!--" * 50_000 + "xy"
    assert sanitize_html(html) == "&lt;!--" * 50_000 + "<b>x</b>y"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("a <!-- never closed <b>b</b>", "a <!-- never closed b"),
        ("<!-- c -->x<!-- d -->y<!--z", "xy<!--z"),
        ("<!-->x", "<!-->x"),  # "-->" must start after the opening "<!--"
        ("a <![CDATA[ b <i>c</i>", "a <![CDATA[ b c"),  # no "]]>" anywhere
        ("a <? pi b < c", "a <? pi b < c"),
    ],
)
def test_constructs_that_never_close_are_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_only_a_bounded_prefix_of_the_html_is_parsed() -> None:
    html = "<i>a</i>" + "a" * MAX_HTML_CHARS + "<b>b</b>"  # the end lies beyond the bound
    assert html_to_text(html) == "a" * (MAX_HTML_CHARS - 7)
    assert sanitize_html(html) == "<i>a</i>" + "a" * (MAX_HTML_CHARS - 8)
    # the cut does not leave half a tag behind as text
    cut = "x" * (MAX_HTML_CHARS - 3) + '<img src="a.png">tail'
    assert html_to_text(cut) == "x" * (MAX_HTML_CHARS - 3)
