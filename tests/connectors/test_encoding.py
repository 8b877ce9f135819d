"""connectors.encoding: trust the bytes, not the label."""

from __future__ import annotations

import codecs

import pytest

from connectors.encoding import Decoded, decode, utf8_document, xml_declared_encoding
from tests.connectors.conftest import DATA

ARABIC = "وزير الخارجية يلتقي نظيره المغربي في الرباط"
PROLOG_UTF8 = '<?xml version="1.0" encoding="UTF-8"?>'


@pytest.mark.parametrize(
    ("body", "declared", "encoding", "lossy"),
    [
        # valid UTF-8 wins over any label
        (ARABIC.encode("utf-8"), None, "utf-8", False),
        (ARABIC.encode("utf-8"), "windows-1256", "utf-8", False),
        (ARABIC.encode("utf-8"), "iso-8859-1", "utf-8", False),
        # windows-1256 bytes under a wrong or missing label
        (ARABIC.encode("cp1256"), "utf-8", "cp1256", False),
        (ARABIC.encode("cp1256"), None, "cp1256", False),
        (ARABIC.encode("cp1256"), "iso-8859-1", "cp1256", False),  # the common Western mislabel
        (ARABIC.encode("cp1256"), "windows-1256", "cp1256", False),
        (ARABIC.encode("iso-8859-6"), "iso-8859-6", "iso8859-6", False),
        (ARABIC.encode("cp1256"), "no-such-charset", "cp1256", False),
        # byte-order marks come first
        (codecs.BOM_UTF8 + ARABIC.encode("utf-8"), "windows-1256", "utf-8", False),
        (codecs.BOM_UTF16_LE + ARABIC.encode("utf-16-le"), None, "utf-16-le", False),
        (codecs.BOM_UTF16_BE + ARABIC.encode("utf-16-be"), "utf-8", "utf-16-be", False),
    ],
)
def test_decode_precedence(body: bytes, declared: str | None, encoding: str, lossy: bool) -> None:
    decoded = decode(body, declared)
    assert decoded.text == ARABIC
    assert decoded.encoding == encoding
    assert decoded.lossy is lossy


def test_western_text_under_its_label_stays_western() -> None:
    text = "Café déjà vu – naïve"
    decoded = decode(text.encode("cp1252"), "windows-1252")
    assert (decoded.text, decoded.encoding, decoded.lossy) == (text, "cp1252", False)


def test_undecodable_bytes_are_flagged_lossy() -> None:
    decoded = decode("été à Paris".encode("latin-1"), "utf-8")
    assert decoded.lossy is True
    assert decoded.encoding == "utf-8"
    assert decoded.text == "\ufffdt\ufffd \ufffd Paris"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'<?xml version="1.0" encoding="windows-1256"?><rss/>', "windows-1256"),
        (b"<?xml version='1.0' encoding='ISO-8859-6' ?>\n<rss/>", "ISO-8859-6"),
        (b'<?xml version="1.0"?><rss/>', None),
        (b"<rss/>", None),
    ],
)
def test_xml_declared_encoding(body: bytes, expected: str | None) -> None:
    assert xml_declared_encoding(body) == expected


def test_prolog_label_is_used_when_no_header() -> None:
    body = b'<?xml version="1.0" encoding="iso-8859-6"?><t>' + ARABIC.encode("iso-8859-6") + b"</t>"
    assert decode(body, None).encoding == "iso8859-6"


def test_utf8_document_rewrites_the_prolog() -> None:
    body = b'<?xml version="1.0" encoding="windows-1256"?><t>' + ARABIC.encode("cp1256") + b"</t>"
    out = utf8_document(decode(body, None))
    assert out == f'<?xml version="1.0" encoding="UTF-8"?><t>{ARABIC}</t>'.encode()


def test_fixture_windows_1256_declared_utf8() -> None:
    body = (DATA / "cp1256-declared-utf8.xml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    decoded = decode(body, "utf-8")
    assert decoded.encoding == "cp1256" and not decoded.lossy
    assert ARABIC in decoded.text
    assert utf8_document(decoded).startswith(PROLOG_UTF8.encode())


DOC = f"<rss><channel><title>{ARABIC}</title></channel></rss>"


@pytest.mark.parametrize(
    ("body", "declared", "encoding"),
    [
        # these bytes are valid UTF-8 too: the declared UTF-16 must win over "valid UTF-8"
        (DOC.encode("utf-16-le"), "utf-16le", "utf-16-le"),
        (DOC.encode("utf-16-be"), "UTF-16BE", "utf-16-be"),
        (DOC.encode("utf-16-le"), "utf-16", "utf-16-le"),  # byte order not declared: read from the bytes
        (DOC.encode("utf-16-be"), "utf-16", "utf-16-be"),
        (DOC.encode("utf-32-le"), "utf-32", "utf-32-le"),
        # no label at all (the prolog cannot be read as ASCII): NUL bytes open the document
        (('<?xml version="1.0" encoding="UTF-16BE"?>' + DOC).encode("utf-16-be"), None, "utf-16-be"),
        ((" \n" + DOC).encode("utf-16-le"), None, "utf-16-le"),
        (DOC.encode("utf-32-be"), None, "utf-32-be"),
        (DOC.encode("utf-16-le"), "windows-1256", "utf-16-le"),  # a wrong label loses to the bytes
    ],
)
def test_utf16_and_utf32_without_bom(body: bytes, declared: str | None, encoding: str) -> None:
    decoded = decode(body, declared)
    assert decoded.text.endswith(DOC)
    assert (decoded.encoding, decoded.lossy) == (encoding, False)


@pytest.mark.parametrize("declared", ["utf-16", "utf-16le", "utf-32"])
def test_a_utf16_label_on_utf8_bytes_is_ignored(declared: str) -> None:
    decoded = decode(DOC.encode("utf-8"), declared)
    assert (decoded.text, decoded.encoding) == (DOC, "utf-8")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"\x00\x01\x02\xff", Decoded("\x00\x01\x02\ufffd", "utf-8", lossy=True)),
        (b"\x00<rss/>", Decoded("\x00<rss/>", "utf-8")),
    ],
)
def test_nul_bytes_that_are_not_wide_text_change_nothing(body: bytes, expected: Decoded) -> None:
    assert decode(body, None) == expected


@pytest.mark.parametrize(("codec", "label"), [("iso8859-6", "windows-1256"), ("cp1256", "iso-8859-6")])
def test_one_arabic_label_on_the_other_charset_s_bytes_reads_the_text(codec: str, label: str) -> None:
    text = "قال الوزير إن الخارجية ستعلن القرار غدا في مؤتمر صحفي"
    decoded = decode(text.encode(codec), label)
    assert decoded.text == text and decoded.encoding == codec
