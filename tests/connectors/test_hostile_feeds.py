"""The hostile and broken feed catalogue (`tests/fixtures/hostile/`): one test per case, on the real path.

Each case starts a real HTTP server on 127.0.0.1 (let through by `fetch_allowed_hosts`) that answers as
`cases.yaml` says, polls it with `poll_once` (the production client from `make_client`, its transport
wrapped to count the body bytes read) into a `MemoryPublisher`, and asserts the outcome the manifest
promises; a check function named after the case asserts the finer points, polling again where the case is
about what happens next (gone feeds, Retry-After, seen ids). Every case also checks the time limit, that a
secret file's content appears nowhere (no local file is read), and that every published article goes
through the enricher (the worker's step) without error.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml
from pydantic import ValidationError

from connectors.fetch import make_client
from connectors.parse import MAX_TITLE_CHARS
from connectors.produce import MemoryPublisher
from connectors.rss import PollOutcome, PollReport, config_hash, poll_once
from connectors.sanitize import sanitize_html
from connectors.state import FeedState
from pipeline.config import FeedConfig
from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.ids import article_id
from pipeline.models import Article
from pipeline.settings import Settings
from tests.connectors.localserver import CountingTransport, LocalServer, Reply, Request
from tests.fixtures.hostile.generators import generate

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
CASES: list[dict[str, Any]] = yaml.safe_load((HOSTILE / "cases.yaml").read_text(encoding="utf-8"))["cases"]
BASE_SETTINGS: dict[str, Any] = {
    "fetch_allowed_hosts": ["127.0.0.1"],
    "fetch_total_timeout_s": 5.0,
    "fetch_read_timeout_s": 3.0,
    "fetch_connect_timeout_s": 2.0,
}
NETWORK_CHUNK = 64 * 1024  # the most httpcore reads from the socket at once
PUTIN = "Q7747"
TATWEEL = "\u0640"
BIDI_FORMATTING = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    """The real enrichment step, loaded once for the module."""
    return load_enricher(Settings(config_dir=ROOT / "config"))


@dataclass
class Run:
    """One case in progress: its server, settings and feeds, and every poll made so far."""

    case: dict[str, Any]
    server: LocalServer
    settings: Settings
    feeds: list[FeedConfig]
    enricher: Enricher
    context: dict[str, str]
    publisher: MemoryPublisher = field(default_factory=MemoryPublisher)
    reports: list[PollReport] = field(default_factory=list)
    bytes_read: int = 0
    largest_chunk: int = 0

    @property
    def outcome(self) -> PollOutcome:
        """The first feed's outcome in the first poll."""
        return self.reports[0].outcomes[0]

    @property
    def articles(self) -> list[Article]:
        return self.publisher.articles

    def poll(self, *, force: bool = False, feeds: list[FeedConfig] | None = None) -> PollReport:
        """One `poll_once` round through the production client (with a byte-counting transport)."""
        counter = CountingTransport()

        async def go() -> PollReport:
            async with make_client(self.settings, transport=counter) as client:
                return await poll_once(
                    feeds or self.feeds,
                    settings=self.settings,
                    publisher=self.publisher,
                    client=client,
                    force=force,
                )

        report = asyncio.run(go())
        self.bytes_read += counter.bytes_read
        self.largest_chunk = max(self.largest_chunk, counter.largest_chunk)
        self.reports.append(report)
        return report

    def state(self, feed_id: str | None = None) -> FeedState:
        return FeedState.for_feed(self.settings, feed_id or self.feeds[0].id)

    def serve(self, path: str, spec: dict[str, Any]) -> None:
        """(Re)define what the server answers on `path`."""
        self.server.routes[path] = responder(spec, self.context)


def fill(text: str, context: dict[str, str]) -> str:
    """Replace the manifest's {placeholders}."""
    for key, value in context.items():
        text = text.replace("{" + key + "}", value)
    return text


def responder(spec: dict[str, Any], context: dict[str, str]) -> Callable[[Request], Reply]:
    """A route that builds its reply per request (generated bodies are single-use iterators)."""

    def reply(request: Request) -> Reply:
        headers = {k: fill(str(v), context) for k, v in (spec.get("headers") or {}).items()}
        status = int(spec.get("status", 200))
        if "redirect" in spec:
            headers["Location"] = fill(spec["redirect"], context)
            status = int(spec.get("status", 302))
        if "retry_after_date_s" in spec:
            when = datetime.now(UTC) + timedelta(seconds=spec["retry_after_date_s"])
            headers["Retry-After"] = format_datetime(when, usegmt=True)
        body: bytes | Iterable[bytes] = b""
        if "body" in spec:
            stored = (HOSTILE / spec["body"]).read_bytes()
            if spec.get("substitute"):
                stored = stored.replace(b"{{base}}", context["base"].encode())
                stored = stored.replace(b"{{secret_uri}}", context["secret_uri"].encode())
            body = stored
        elif "generate" in spec:
            body = generate(spec["generate"]["name"], spec["generate"].get("args"))
        return Reply(
            status,
            headers,
            body,
            content_length=spec.get("content_length"),
            delay_s=float(spec.get("delay_s", 0)),
            trickle_s=float(spec.get("trickle_s", 0)),
            trickle_headers=bool(spec.get("trickle_headers", False)),
        )

    return reply


def make_feeds(case: dict[str, Any], context: dict[str, str]) -> list[FeedConfig]:
    """The case's feeds; an URL FeedConfig refuses is built unvalidated, to reach the fetcher's guard."""
    feeds = []
    for spec in case.get("feeds") or [{}]:
        feed_id = spec.get("id", case["id"])
        url = fill(spec["url"], context) if "url" in spec else context["base"] + spec.get("path", "/feed.xml")
        if case.get("invalid_config"):
            with pytest.raises(ValidationError):
                FeedConfig(id=feed_id, url=url)
            feeds.append(FeedConfig.model_construct(id=feed_id, url=url))  # type: ignore[arg-type]
        else:
            feeds.append(FeedConfig(id=feed_id, url=url))
    return feeds


def check_expectations(run: Run, expect: dict[str, Any], elapsed: float, peak: int | None) -> None:
    """The manifest's `expect:` block, for the first poll."""
    report = run.reports[0]
    for outcome in report.outcomes:
        assert outcome.status == expect["status"], (outcome.status, outcome.error)
        if "error" in expect:
            assert outcome.error is not None and outcome.error.startswith(expect["error"] + ": ")
            assert outcome.error_kind == expect["error_kind"]
            state = run.state(outcome.feed_id)
            assert state.consecutive_failures == 1 and state.last_error_kind == expect["error_kind"]
        else:
            assert outcome.error is None and outcome.error_kind is None
        if "http_status" in expect:
            assert outcome.http_status == expect["http_status"]
    if "requests" in expect:
        assert len(run.server.requests) == expect["requests"], run.server.paths()
    if "entries" in expect:
        assert report.fetched == expect["entries"]
    assert report.published == expect.get("published", 0) == len(run.articles)
    if "titles" in expect:
        assert [a.title for a in run.articles] == expect["titles"]
    warnings = [w for o in report.outcomes for w in o.warnings]
    for wanted in expect.get("warnings", []):
        assert any(wanted in w for w in warnings), (wanted, warnings)
    assert elapsed <= expect.get("max_seconds", 5.0), f"took {elapsed:.2f}s"
    if "max_bytes_read" in expect:
        assert run.bytes_read <= expect["max_bytes_read"], run.bytes_read
        assert run.largest_chunk <= NETWORK_CHUNK
    if "max_memory" in expect:
        assert peak is not None and peak <= expect["max_memory"], f"peak {peak} bytes"


def check_nothing_leaked(run: Run, secret: str, log_text: str) -> None:
    """The secret file's content is nowhere: not in articles, outcomes, state files or logs."""
    seen = [a.to_json().decode() for a in run.articles]
    seen += [f"{o.error} {o.warnings}" for r in run.reports for o in r.outcomes]
    if run.settings.state_dir.is_dir():
        seen += [p.read_text(encoding="utf-8") for p in run.settings.state_dir.glob("*.json")]
    seen.append(log_text)
    assert not any(secret in text for text in seen)


def check_worker_survives(run: Run) -> None:
    """What the enrich agent does with these articles: it must not raise."""
    sample = run.articles[:50]
    enriched = run.enricher.enrich_many(sample)
    assert [a.id for a in enriched] == [a.id for a in sample]


def entity_fields(run: Run, article: Article, entity: str = PUTIN) -> set[str]:
    """Fields of `article` in which the enricher finds `entity`."""
    [enriched] = run.enricher.enrich_many([article])
    return {m.field for m in enriched.entities if m.canonical_id == entity}


# --- finer checks, one per case where the manifest is not enough ------------------------------------


def _loopback_refused_by_default(run: Run) -> None:
    assert "non-public address 127.0.0.1" in (run.outcome.error or "")


def _localhost_name_refused(run: Run) -> None:
    assert "'localhost' resolves to non-public address" in (run.outcome.error or "")


def _redirect_to_metadata_refused(run: Run) -> None:
    assert "169.254.169.254" in (run.outcome.error or "")


def _redirect_to_loopback_name_refused(run: Run) -> None:
    assert "'localhost'" in (run.outcome.error or "") and run.server.paths() == ["/feed.xml"]


def _scheme_refused(scheme: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert f"scheme {scheme!r} is not allowed" in (run.outcome.error or "")

    return check


def _redirect_loop(run: Run) -> None:
    assert "loop" in (run.outcome.error or "") and run.server.paths() == ["/feed.xml", "/b"]


def _too_many_redirects(run: Run) -> None:
    assert "more than 5 redirects" in (run.outcome.error or "")
    assert "/r7" not in run.server.paths()


def _gone_410(run: Run) -> None:
    feed = run.feeds[0]
    state = run.state()
    assert state.gone and state.consecutive_failures == 1
    assert run.reports[0].outcomes[0].http_status == 410
    again = run.poll(force=True)  # gone wins over force: nothing is requested
    assert again.outcomes[0].status == "gone" and again.gone == 1 and len(run.server.requests) == 1
    moved = FeedConfig(id=feed.id, url=f"{feed.url}?moved=1")
    after_edit = run.poll(feeds=[moved])  # a changed feed entry is polled again
    assert len(run.server.requests) == 2 and after_edit.outcomes[0].status == "failed"
    assert run.state().is_gone(config_hash(moved))


def _not_found_repeatedly(run: Run) -> None:
    limit = run.settings.fetch_gone_after_404s
    assert limit == 5
    for polls in range(2, limit + 1):
        state = run.state()
        assert not state.gone and state.consecutive_not_found == polls - 1
        assert run.poll(force=True).outcomes[0].status == "failed"
    state = run.state()
    assert state.gone and state.consecutive_not_found == limit and len(run.server.requests) == limit
    assert run.poll(force=True).outcomes[0].status == "gone" and len(run.server.requests) == limit


def _retry_after(low: float, high: float) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        outcome = run.outcome
        assert outcome.retry_after is not None and low <= outcome.retry_after <= high
        state = run.state()
        assert state.last_polled_at is not None and state.next_poll_at is not None
        assert state.next_poll_at >= state.last_polled_at + timedelta(seconds=low)
        later = run.poll()  # not due yet: skipped without a request
        assert later.outcomes[0].status == "skipped" and len(run.server.requests) == 1

    return check


def _oversize_streamed(run: Run) -> None:
    cap = run.settings.fetch_max_body_bytes
    assert run.bytes_read <= cap + run.largest_chunk, (run.bytes_read, run.largest_chunk)
    assert f"exceeds {cap} bytes" in (run.outcome.error or "")


def _oversize_declared(run: Run) -> None:
    assert "Content-Length 104857600" in (run.outcome.error or "")


def _gzip_bomb(run: Run) -> None:
    assert "decompressed" in (run.outcome.error or "")


def _deadline(run: Run) -> None:
    assert "total deadline of 1.0s exceeded" in (run.outcome.error or "")


def _not_a_feed(run: Run) -> None:
    assert "not an RSS/Atom feed" in (run.outcome.error or "")


def _empty_feed(run: Run) -> None:
    state = run.state()
    assert state.consecutive_failures == 0 and state.last_status == 200 and state.seen_ids == []


def _malformed_bozo(run: Run) -> None:
    second = run.articles[1]
    assert (second.guid, second.url) == ("bozo-2", None)
    assert run.articles[0].summary == "نص التقرير الأول."


def _xxe_network(run: Run) -> None:
    assert run.server.paths() == ["/feed.xml"]  # neither /external.dtd nor /exfil was fetched


def _entries_missing_fields(run: Run) -> None:
    guid_only, link_only, untitled = run.articles
    assert guid_only.url is None and guid_only.guid == "urn:rasd:hostile:guid-only"
    assert guid_only.id == article_id(None, "urn:rasd:hostile:guid-only", source=run.feeds[0].id)
    assert link_only.guid is None and link_only.published is None
    assert link_only.url == "https://example.invalid/hostile/missing/3"
    assert untitled.title == "" and untitled.summary == "خبر بلا عنوان"


def _dates(run: Run) -> None:
    assert [a.published for a in run.articles] == [
        None,  # 2099: a publisher clock bug, dropped
        None,  # 1445-02-27 (Hijri): before 1990, dropped
        datetime(2023, 9, 13, 7, 0, tzinfo=UTC),  # Arabic-Indic digits, +0300
        None,  # an Arabic month name: not guessed
        datetime(2023, 9, 13, 10, 0, tzinfo=UTC),
    ]


def _duplicate_guids(run: Run) -> None:
    by_source: dict[str, list[Article]] = {}
    for article in run.articles:
        by_source.setdefault(article.source, []).append(article)
    assert [a.title for a in by_source["dup-a"]] == ["أ: الخبر الأول", "أ: الخبر الثاني"]
    assert [a.title for a in by_source["dup-b"]] == ["ب: خبر آخر", "ب: خبر ثالث"]
    assert len({a.id for a in run.articles}) == 4  # a GUID is scoped to its feed
    assert by_source["dup-b"][0].id == article_id(None, "urn:dup:1", source="dup-b")
    assert run.poll().published == 0  # and each feed remembers its own


def _entries_10000(run: Run) -> None:
    assert [run.articles[0].title, run.articles[-1].title] == ["خبر رقم 0", "خبر رقم 999"]
    assert len(run.state().seen_ids) == 1000
    # one newer entry on top: exactly one new article, none of the 999 others comes back
    run.serve("/feed.xml", {"generate": {"name": "entries_feed", "args": {"count": 10000, "first": -1}}})
    again = run.poll()
    assert again.published == 1 and run.articles[-1].title == "خبر رقم -1"


def _record_over_broker_limit(run: Run) -> None:
    [article] = run.articles
    assert article.truncated
    assert len(article.to_json()) <= run.settings.max_record_bytes
    assert article.body.startswith("كلمة كلمة") and 25_000 < len(article.body) < 150_000
    assert run.state().seen_ids == [article.id]


_FORBIDDEN = ("<", ">", "script", "alert", "onerror", "onload", "onclick", "onmouseover", "javascript",
              "iframe", "svg", "object", "style", "display:none", "evil.example")  # fmt: skip


def _script_iframe_handlers(run: Run) -> None:
    for article in run.articles:
        for text in (article.title, article.summary, article.body):
            assert not any(bad in text for bad in _FORBIDDEN), text
    first = run.articles[0]
    assert (first.summary, first.body) == ("فقرة\nرابط", "نص المقال الكامل\nالخاتمة")
    # for display the UI autoescapes plain text; any HTML it shows goes through the sanitiser first
    raw = (HOSTILE / "script-injection.xml").read_text(encoding="utf-8")
    html = raw[raw.index("<![CDATA[") + 9 : raw.index("]]>")]
    assert sanitize_html(html) == "نص المقال الكامل<p>الخاتمة</p>"


def _long_title(run: Run) -> None:
    [article] = run.articles
    assert len(article.title) == MAX_TITLE_CHARS and article.truncated
    assert article.title.startswith("بوتين يستقبل كيم في موسكو بوتين")
    assert "title" in entity_fields(run, article)


def _zero_width_tatweel(run: Run) -> None:
    stretched, zero_width = run.articles
    assert stretched.title.startswith("ب" + TATWEEL * 40 + "وتين")  # the original text is kept for display
    assert "\u200b" in zero_width.title
    assert "title" in entity_fields(run, stretched)
    assert entity_fields(run, zero_width) == {"title", "summary"}


def _bidi_controls(run: Run) -> None:
    [article] = run.articles
    assert not BIDI_FORMATTING & set(article.title + article.summary)
    assert article.title == "بوتين يلتقي Kim Jong Un في Vostochny \u200eCNN\u200f"  # marks are kept
    assert article.summary == "قمة G20 في New Delhi مع بوتين"
    assert entity_fields(run, article) == {"title", "summary"}


CHECKS: dict[str, Callable[[Run], None]] = {
    "loopback-refused-by-default": _loopback_refused_by_default,
    "localhost-name-refused": _localhost_name_refused,
    "redirect-to-metadata-refused": _redirect_to_metadata_refused,
    "redirect-to-loopback-name-refused": _redirect_to_loopback_name_refused,
    "file-url-refused": _scheme_refused("file"),
    "local-path-refused": _scheme_refused("(none)"),
    "gopher-url-refused": _scheme_refused("gopher"),
    "redirect-loop": _redirect_loop,
    "too-many-redirects": _too_many_redirects,
    "gone-410": _gone_410,
    "not-found-repeatedly": _not_found_repeatedly,
    "retry-after-429": _retry_after(120.0, 120.0),
    "retry-after-503-date": _retry_after(7100.0, 7200.0),
    "oversize-streamed": _oversize_streamed,
    "oversize-declared": _oversize_declared,
    "gzip-bomb": _gzip_bomb,
    "gzip-bomb-undeclared": _gzip_bomb,
    "slow-loris-body": _deadline,
    "slow-loris-headers": _deadline,
    "html-error-page-200": _not_a_feed,
    "html-with-items": _not_a_feed,
    "empty-body": _not_a_feed,
    "empty-feed": _empty_feed,
    "malformed-bozo": _malformed_bozo,
    "xxe-network": _xxe_network,
    "entries-missing-fields": _entries_missing_fields,
    "dates-future-hijri-indic": _dates,
    "duplicate-guids-across-feeds": _duplicate_guids,
    "entries-10000": _entries_10000,
    "record-over-broker-limit": _record_over_broker_limit,
    "script-iframe-handlers": _script_iframe_handlers,
    "long-title": _long_title,
    "zero-width-tatweel": _zero_width_tatweel,
    "bidi-controls": _bidi_controls,
}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_feed(
    case: dict[str, Any],
    settings_factory: Callable[..., Settings],
    tmp_path: Path,
    enricher: Enricher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = f"RASD-SECRET-{uuid4().hex}"
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret, encoding="utf-8")
    expect: dict[str, Any] = case["expect"]
    with LocalServer() as server:
        context = {
            "base": server.base,
            "port": str(server.port),
            "secret_path": str(secret_file),
            "secret_uri": secret_file.as_uri(),
            "padding": "a" * 256 * 1024,
        }
        settings = settings_factory(**(BASE_SETTINGS | case.get("settings", {})))
        run = Run(case, server, settings, make_feeds(case, context), enricher, context)
        for path, spec in (case.get("routes") or {}).items():
            run.serve(path, spec)
        peak = None
        if "max_memory" in expect:
            tracemalloc.start()
        started = time.monotonic()
        try:
            run.poll()
        finally:
            elapsed = time.monotonic() - started
            if "max_memory" in expect:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        check_expectations(run, expect, elapsed, peak)
        if case["id"] in CHECKS:
            CHECKS[case["id"]](run)
    check_nothing_leaked(run, secret, caplog.text)
    check_worker_survives(run)


def test_gone_feeds_are_logged_clearly(
    settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with LocalServer({"/feed.xml": Reply(410)}) as server:
        settings = settings_factory(**BASE_SETTINGS)
        feed = FeedConfig(id="gone", url=f"{server.base}/feed.xml")
        asyncio.run(poll_once([feed], settings=settings, publisher=MemoryPublisher()))
    [record] = [r for r in caplog.records if "marked gone" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert (record.feed_id, record.status) == ("gone", 410)  # type: ignore[attr-defined]


def test_catalogue_is_complete() -> None:
    """At least 25 cases; every fixture file is used by a case; the README table lists every case."""
    assert len(CASES) >= 25 and len({c["id"] for c in CASES}) == len(CASES)
    used = {spec["body"] for c in CASES for spec in (c.get("routes") or {}).values() if "body" in spec}
    files = {p.name for p in HOSTILE.iterdir() if p.suffix in {".xml", ".html"}}
    assert files == used
    readme = (HOSTILE / "README.md").read_text(encoding="utf-8")
    assert all(f"`{c['id']}`" in readme for c in CASES)
    assert set(CHECKS) <= {c["id"] for c in CASES}
