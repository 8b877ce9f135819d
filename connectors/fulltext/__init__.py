"""The full-text stage's I/O: fetch an article's page politely and extract its main text.

Concepts, one per module: `robots` (RFC 9309 rules, cached per origin), `politeness` (per-host
concurrency and spacing), `cache` (URL → result on disk), `page` (is it HTML, which charset),
`fulltext` (the orchestrator: robots → slot → fetch → decode → extract → choose) and `route` (which
articles go to `articles.fulltext`). Fetching goes through `connectors.fetch` (limits, address guard);
extraction is the pure `pipeline.extract`.
"""

from __future__ import annotations

from connectors.fulltext.cache import PageCache
from connectors.fulltext.fulltext import Extractor, FullTextFetcher, PageRecord
from connectors.fulltext.page import decode_page, extract_html, is_html, meta_charset
from connectors.fulltext.politeness import HostGate
from connectors.fulltext.robots import RobotsCache, RobotsRules, RobotsVerdict, parse_robots, product_token
from connectors.fulltext.route import FullTextRouter

__all__ = [
    "Extractor",
    "FullTextFetcher",
    "FullTextRouter",
    "HostGate",
    "PageCache",
    "PageRecord",
    "RobotsCache",
    "RobotsRules",
    "RobotsVerdict",
    "decode_page",
    "extract_html",
    "is_html",
    "meta_charset",
    "parse_robots",
    "product_token",
]
