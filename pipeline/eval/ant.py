"""Reader for the ANT corpus (Arabic News Texts, Chouigui et al. 2017): one TREC-style `<DOC>` per file.

A document looks like ``<DOC><DOCNO/><URL/><SRC/><CAT/><TITLE/><TIME/><AUTHOR/><ABSTRACT/><TEXT/></DOC>``.
It is not well-formed XML (raw ``&`` in URLs), so fields are cut out with regular expressions rather
than parsed. The label is the `<CAT>` value; the text is the title plus `<TEXT>` (the abstract, when
present, repeats the start of the text and is left out).
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AntDocument", "AntReadResult", "parse_ant", "read_ant"]

_FIELD = {
    name: re.compile(rf"<{name}>(.*?)</{name}>", re.DOTALL | re.IGNORECASE)
    for name in ("DOCNO", "CAT", "TITLE", "TEXT")
}
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True, slots=True)
class AntDocument:
    """One ANT article: its id, section label, title and body text."""

    docno: str
    label: str
    title: str
    body: str
    path: str = ""


@dataclass
class AntReadResult:
    """Documents read below a folder, plus the files skipped and why (reason → count)."""

    documents: list[AntDocument] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one skipped file under `reason`."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def n_skipped(self) -> int:
        """Number of files that held no usable document."""
        return sum(self.skipped.values())


_MAX_FILE_BYTES = 16 * 1024 * 1024  # an ANT article is a few KB; an archive beside them is no document


def _decode(data: bytes) -> str:
    """UTF-16 behind its BOM; UTF-8 (BOM tolerated) when valid, else windows-1256, the usual legacy
    Arabic code page."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1256", errors="replace")


def _clean(value: str) -> str:
    """Unescape entities and collapse runs of spaces, keeping paragraph breaks."""
    text = html.unescape(value)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n", "\n".join(lines)).strip()


def _field(name: str, text: str) -> str | None:
    m = _FIELD[name].search(text)
    return None if m is None else _clean(m.group(1))


def parse_ant(text: str, path: str = "") -> AntDocument | str:
    """The document in `text`, or the reason it cannot be used (no `<DOC>`, no label, no text)."""
    if "<DOC>" not in text.upper():
        return "no <DOC>"
    label = _field("CAT", text)
    if not label:
        return "no <CAT>"
    title = _field("TITLE", text) or ""
    body = _field("TEXT", text) or ""
    if not title and not body:
        return "no <TITLE>/<TEXT>"
    docno = _field("DOCNO", text) or Path(path).stem
    return AntDocument(docno=docno, label=label, title=title, body=body, path=path)


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            yield path


# names a document may have; anything else (README.md, a notebook) is counted as skipped, never read,
# since a format description holds <DOC> and <CAT> too
_DOCUMENT_SUFFIXES = frozenset({"", ".txt", ".xml", ".sgml", ".sgm", ".ant", ".trec", ".doc", ".dat"})


def read_ant(root: Path) -> AntReadResult:
    """Every ANT document in the files below `root` (or in the file `root`), in path order.

    Files without a `<DOC>` (README, LICENSE), without a `<CAT>` label or without any text are
    skipped and counted by reason; unreadable bytes fall back to windows-1256.
    """
    result = AntReadResult()
    for path in _files(root):
        if path.suffix.lower() not in _DOCUMENT_SUFFIXES and path != root:
            result.skip(f"not a document file name ({path.suffix.lower()})")
            continue
        try:
            if path.stat().st_size > _MAX_FILE_BYTES:
                result.skip("too large for one document")
                continue
            data = path.read_bytes()
        except OSError:
            result.skip("unreadable")
            continue
        parsed = parse_ant(_decode(data), str(path))
        if isinstance(parsed, str):
            result.skip(parsed)
        else:
            result.documents.append(parsed)
    return result
