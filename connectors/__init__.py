"""Rasd feed connector: fetch feeds politely, parse them into `Article`s and publish to `articles.raw`.

One step per module (miniflux-style): `fetch` (HTTP, the only httpx user) → `encoding` → `parse`
(feedparser on bytes) → `sanitize`; `state` remembers validators and seen ids; `produce` is the only
kafka-python user; `rss` orchestrates live polling and `replay` publishes files offline.
"""

from __future__ import annotations

from connectors.encoding import Decoded, decode
from connectors.fetch import FetchResult, Resolver, fetch, make_client, parse_retry_after
from connectors.parse import ParsedFeed, parse_feed
from connectors.produce import KafkaPublisher, MemoryPublisher, Publisher
from connectors.replay import ReplayFileResult, ReplayReport, replay_paths
from connectors.rss import PollOutcome, PollReport, poll_feed, poll_once, run_forever
from connectors.sanitize import html_to_text, sanitize_html
from connectors.state import FeedState

__all__ = [
    "Decoded",
    "FeedState",
    "FetchResult",
    "KafkaPublisher",
    "MemoryPublisher",
    "ParsedFeed",
    "PollOutcome",
    "PollReport",
    "Publisher",
    "ReplayFileResult",
    "ReplayReport",
    "Resolver",
    "decode",
    "fetch",
    "html_to_text",
    "make_client",
    "parse_feed",
    "parse_retry_after",
    "poll_feed",
    "poll_once",
    "replay_paths",
    "run_forever",
    "sanitize_html",
]
