"""`rasd enrich FILE|-`: the pipeline's enrichment of a text, feed (RSS/Atom) or ANT document, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.enrich.enricher import load_enricher
from pipeline.errors import ConfigError
from pipeline.ids import article_id
from pipeline.models import Article
from pipeline.records import fit_record
from pipeline.settings import Settings

__all__ = ["add_parser", "read_articles", "run_enrich"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("enrich", help="enrich a text, feed or ANT document (or - for stdin) and print JSON")
    p.add_argument("file", help="path or -")


def read_articles(data: bytes, name: str) -> list[Article]:
    """Articles in a document: every entry of a feed, the ANT document, or a text (first line = title)."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head or b"<rdf" in head:
        from connectors import parse_feed

        return parse_feed(data, source="cli").articles
    text = _text(data, name)
    if b"<doc>" in head:
        from pipeline.eval.ant import parse_ant

        doc = parse_ant(text, name)
        if isinstance(doc, str):
            raise ConfigError(f"{name}: not a usable ANT document ({doc})")
        return [
            Article(
                id=article_id(None, doc.docno, source="ant"), source="ant", title=doc.title, body=doc.body
            )
        ]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    title, body = (lines[0], "\n".join(lines[1:])) if lines else ("", "")
    return [Article(id=article_id(None, guid=name, source="cli"), source="cli", title=title, body=body)]


def _text(data: bytes, name: str) -> str:
    """The text of a plain or ANT document: UTF-8, UTF-16 behind a BOM or windows-1256, as the feed
    connector reads them; bytes that are no text (NULs, mostly undecodable) are the user's error."""
    from connectors.encoding import decode

    decoded = decode(data)
    text = decoded.text
    if "\x00" in text or (text and text.count("\ufffd") > len(text) // 10):
        raise ConfigError(f"{name}: not text (binary, or in an encoding other than UTF-8/16 or windows-1256)")
    return text


def _read(name: str, limit: int) -> bytes:
    """The document's bytes, at most `limit` of them: a larger one is refused before it is all read.
    A closed standard input (`rasd enrich - <&-`, a service without stdin) is the user's error."""
    if name == "-":
        if sys.stdin is None:
            raise ConfigError("-: standard input is closed; give a file, or pipe the text in")
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:
            with Path(name).open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise ConfigError(f"{name}: {exc.strerror}") from exc
    if len(data) > limit:
        raise ConfigError(
            f"{name}: larger than {limit:,} bytes, the most the connector fetches (RASD_FETCH_MAX_BODY_BYTES)"
        )
    return data


def run_enrich(settings: Settings, args: argparse.Namespace) -> int:
    """Enrich each article as the pipeline would: cut to the record size the connector publishes."""
    data = _read(args.file, settings.fetch_max_body_bytes)
    enricher = load_enricher(settings)
    articles = [fit_record(a, settings.max_record_bytes) for a in read_articles(data, args.file)]
    enriched = [enricher.enrich(a).model_dump(mode="json") for a in articles]
    print(json.dumps(enriched[0] if len(enriched) == 1 else enriched, ensure_ascii=False, indent=2))
    return 0
