"""connectors.sanitize: allow-list cleaning and HTML → text."""

from __future__ import annotations

import pytest

from connectors.sanitize import html_to_text, sanitize_html


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
