"""connectors.rss orchestration with a MockTransport network and an in-memory publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.produce import MemoryPublisher
from connectors.rss import PollReport, backoff_delay, next_poll_time, poll_once, run_forever
from connectors.state import FeedState
from pipeline.config import FeedConfig
from pipeline.errors import PublishError
from pipeline.models import Article, utcnow
from pipeline.settings import Settings
from tests.connectors.conftest import DATA, FIXTURES, public_resolver

ALJAZEERA = FIXTURES / "aljazeera" / "swelbyboy_al-jazeera_6e5aaaae.xml"
HESPRESS = FIXTURES / "hespress" / "swelbyboy_hespress_6e5aaaae.xml"
RT = FIXTURES / "rt_arabic" / "swelbyboy_rt-arabic_dcbc5521.xml"


class FakeWeb:
    """Serves a file per host; `etag=True` hosts honour If-None-Match. Records every request."""

    def __init__(self, routes: dict[str, Path | int | Exception], etag_hosts: Iterable[str] = ()) -> None:
        self.routes = routes
        self.etag_hosts = set(etag_hosts)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes[request.url.host]
        if isinstance(route, Exception):
            raise route
        if isinstance(route, int):
            return httpx.Response(route, headers={"Retry-After": "3600"} if route == 429 else {})
        headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
        if request.url.host in self.etag_hosts:
            tag = f'"{route.stat().st_size}"'
            if request.headers.get("if-none-match") == tag:
                return httpx.Response(304)
            headers["ETag"] = tag
        return httpx.Response(200, content=route.read_bytes(), headers=headers)

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


def _feed(host: str, **extra: Any) -> FeedConfig:
    return FeedConfig(id=host.split(".")[0], url=f"https://{host}/rss.xml", **extra)


def _poll(
    feeds: list[FeedConfig], web: FakeWeb, settings: Settings, publisher: Any, **kwargs: Any
) -> PollReport:
    async def go() -> PollReport:
        async with httpx.AsyncClient(transport=httpx.MockTransport(web)) as client:
            return await poll_once(
                feeds,
                settings=settings,
                publisher=publisher,
                client=client,
                resolver=public_resolver,
                **kwargs,
            )

    return asyncio.run(go())


def test_new_entries_are_published_once(settings: Settings) -> None:
    web = FakeWeb({"aj.example": ALJAZEERA, "hes.example": HESPRESS})
    feeds = [_feed("aj.example"), _feed("hes.example")]
    publisher = MemoryPublisher()
    first = _poll(feeds, web, settings, publisher)
    assert (first.fetched, first.new, first.published, first.failed) == (20, 20, 20, 0)
    assert {o.status for o in first.outcomes} == {"new"}
    assert len(set(publisher.ids)) == 20
    assert {a.source for a in publisher.articles} == {"aj", "hes"}
    assert FeedState.for_feed(settings, "aj").seen_ids == [
        a.id for a in publisher.articles if a.source == "aj"
    ]

    second = _poll(feeds, web, settings, publisher)
    assert (second.new, second.published) == (0, 0)
    assert {o.status for o in second.outcomes} == {"unchanged"}
    assert len(publisher.articles) == 20 and len(web.requests) == 4


def test_not_modified_path_sends_validators(settings: Settings) -> None:
    web = FakeWeb({"aj.example": ALJAZEERA}, etag_hosts={"aj.example"})
    publisher = MemoryPublisher()
    _poll([_feed("aj.example")], web, settings, publisher)
    report = _poll([_feed("aj.example")], web, settings, publisher)
    assert report.not_modified == 1 and report.published == 0
    assert report.outcomes[0].status == "not_modified"
    assert web.requests[1].headers["if-none-match"] == f'"{ALJAZEERA.stat().st_size}"'
    assert FeedState.for_feed(settings, "aj").etag == f'"{ALJAZEERA.stat().st_size}"'  # kept after a 304


def test_changed_feed_publishes_only_the_new_items(settings: Settings, tmp_path: Path) -> None:
    older = tmp_path / "older.xml"
    text = HESPRESS.read_text(encoding="utf-8")
    start = text.index("<item>")
    end = text.index("</item>", start) + len("</item>")
    older.write_text(text[:start] + text[end:], encoding="utf-8")  # the same feed without its newest item
    web = FakeWeb({"hes.example": older})
    publisher = MemoryPublisher()
    assert _poll([_feed("hes.example")], web, settings, publisher).published == 9
    web.routes["hes.example"] = HESPRESS
    report = _poll([_feed("hes.example")], web, settings, publisher)
    assert (report.fetched, report.new, report.published) == (10, 1, 1)


def test_one_broken_feed_does_not_stop_the_others(settings: Settings) -> None:
    web = FakeWeb(
        {
            "aj.example": ALJAZEERA,
            "down.example": 500,
            "html.example": DATA / "page.html",
            "reset.example": httpx.ReadError("connection reset"),
            "rt.example": RT,
        }
    )
    feeds = [_feed(h) for h in ("aj.example", "down.example", "html.example", "reset.example", "rt.example")]
    publisher = MemoryPublisher()
    report = _poll(feeds, web, settings, publisher)
    by_feed = {o.feed_id: o for o in report.outcomes}
    assert report.published == 20 and report.failed == 3
    assert by_feed["down"].error_kind == "http" and by_feed["down"].http_status == 500
    assert by_feed["html"].error_kind == "parse" and "FeedParseError" in (by_feed["html"].error or "")
    assert by_feed["reset"].error_kind == "network"
    assert not report.all_network_failed
    assert FeedState.for_feed(settings, "down").consecutive_failures == 1


class StateCheckingPublisher(MemoryPublisher):
    """Asserts, at publish time, that nothing about these articles was saved yet."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def publish(self, articles: Iterable[Article]) -> int:
        batch = list(articles)
        for article in batch:
            state = FeedState.for_feed(self.settings, article.source)
            assert not state.is_seen(article.id) and state.etag is None
        return super().publish(batch)


def test_state_is_saved_only_after_publish(settings: Settings) -> None:
    web = FakeWeb({"aj.example": ALJAZEERA}, etag_hosts={"aj.example"})
    feeds = [_feed("aj.example")]
    failing = MemoryPublisher()
    failing.fail_with = PublishError("broker down")
    report = _poll(feeds, web, settings, failing)
    assert report.outcomes[0].status == "failed" and report.outcomes[0].error_kind == "publish"
    state = FeedState.for_feed(settings, "aj")
    assert state.seen_ids == [] and state.etag is None and state.consecutive_failures == 1

    # the next poll (forced past the backoff) must not get a 304: the articles were never delivered
    checking = StateCheckingPublisher(settings)
    report = _poll(feeds, web, settings, checking, force=True)
    assert report.published == 10 and "if-none-match" not in web.requests[-1].headers
    assert len(FeedState.for_feed(settings, "aj").seen_ids) == 10


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ({"a.example": httpx.ConnectError("no route"), "b.example": httpx.ConnectTimeout("slow")}, True),
        ({"a.example": httpx.ConnectError("no route"), "b.example": ALJAZEERA}, False),
        ({"a.example": httpx.ConnectError("no route"), "b.example": 503}, False),
    ],
)
def test_all_network_failed(settings: Settings, routes: dict[str, Any], expected: bool) -> None:
    report = _poll([_feed(h) for h in routes], FakeWeb(routes), settings, MemoryPublisher())
    assert report.all_network_failed is expected


def test_retry_after_backs_off_the_feed(settings: Settings) -> None:
    web = FakeWeb({"busy.example": 429})
    feeds = [_feed("busy.example")]
    before = utcnow()
    report = _poll(feeds, web, settings, MemoryPublisher())
    assert report.outcomes[0].retry_after == 3600.0
    state = FeedState.for_feed(settings, "busy")
    assert state.next_poll_at is not None and state.next_poll_at >= before + timedelta(seconds=3600)

    skipped = _poll(feeds, web, settings, MemoryPublisher())
    assert skipped.outcomes[0].status == "skipped" and len(web.requests) == 1
    _poll(feeds, web, settings, MemoryPublisher(), force=True)
    assert len(web.requests) == 2 and FeedState.for_feed(settings, "busy").consecutive_failures == 2


def test_disabled_feeds_are_not_polled(settings: Settings) -> None:
    web = FakeWeb({"aj.example": ALJAZEERA})
    report = _poll([_feed("aj.example", enabled=False)], web, settings, MemoryPublisher())
    assert report.outcomes == [] and web.requests == [] and not report.all_network_failed


@pytest.mark.parametrize(
    ("failures", "interval", "retry_after", "expected"),
    [
        (1, 300.0, None, 300.0),
        (2, 300.0, None, 600.0),
        (4, 300.0, None, 2400.0),
        (30, 300.0, None, 6 * 3600.0),  # capped
        (1, 300.0, 3600.0, 3600.0),  # Retry-After wins when longer
        (3, 300.0, 10.0, 1200.0),  # but never shortens the backoff
        (1, 300.0, 10 * 86400.0, 86400.0),  # an absurd Retry-After is capped at a day
    ],
)
def test_backoff_delay(failures: int, interval: float, retry_after: float | None, expected: float) -> None:
    assert backoff_delay(failures, interval, retry_after) == expected


@pytest.mark.parametrize(("max_age", "expected"), [(None, 300), (60, 300), (900, 900), (10**9, 6 * 3600)])
def test_next_poll_time_honours_max_age(max_age: int | None, expected: int) -> None:
    now = utcnow()
    assert next_poll_time(now, 300.0, max_age) == now + timedelta(seconds=expected)


def test_run_forever_polls_then_stops(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(poll_interval_s=3600)
    web = FakeWeb({"aj.example": ALJAZEERA})
    publisher = MemoryPublisher()

    async def go() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(transport=httpx.MockTransport(web)) as client:
            task = asyncio.create_task(
                run_forever(
                    [_feed("aj.example")], settings, publisher, stop, client=client, resolver=public_resolver
                )
            )
            for _ in range(200):
                if publisher.articles:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(task, timeout=2)

    asyncio.run(go())
    assert len(publisher.articles) == 10 and len(web.requests) == 1


class NonAsciiValidatorWeb(FakeWeb):
    """Answers every request 200 with an ETag and Last-Modified that are not ASCII."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = [
            (b"Content-Type", b"application/rss+xml; charset=utf-8"),
            (b"ETag", '"v\u00e9"'.encode()),
            (b"Last-Modified", "\u0627\u0644\u0623\u0631\u0628\u0639\u0627\u0621".encode()),
        ]
        return httpx.Response(200, content=ALJAZEERA.read_bytes(), headers=headers)


def test_a_non_ascii_validator_does_not_stop_the_feed(settings: Settings) -> None:
    web = NonAsciiValidatorWeb({})
    feeds = [_feed("aj.example")]
    publisher = MemoryPublisher()
    outcomes = [_poll(feeds, web, settings, publisher).outcomes[0] for _ in range(3)]
    assert [o.status for o in outcomes] == ["new", "unchanged", "unchanged"]
    assert all(
        "if-none-match" not in r.headers and "if-modified-since" not in r.headers for r in web.requests
    )
    state = FeedState.for_feed(settings, "aj")
    assert (state.etag, state.last_modified, state.consecutive_failures) == (None, None, 0)
    # a validator saved before the check (older versions kept anything) is dropped, not sent
    state.record_success(now=utcnow(), status=200, next_poll_at=utcnow(), etag='"v\u00e9"', body_hash=None)
    state.save()
    assert _poll(feeds, web, settings, publisher).outcomes[0].status == "unchanged"
    assert "if-none-match" not in web.requests[-1].headers


class RedirectingWeb(FakeWeb):
    """`old.example` moved its feed to `new.example/feeds/`; items link relative to the document."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "old.example":
            return httpx.Response(301, headers={"Location": "https://new.example/feeds/rss.xml"})
        items = "<item><title>a</title><link>/news/1.html</link></item>"
        items += "<item><title>b</title><link>2.html</link></item>"
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "application/rss+xml"})


def test_relative_item_links_resolve_against_the_final_url(settings: Settings) -> None:
    publisher = MemoryPublisher()
    report = _poll([_feed("old.example")], RedirectingWeb({}), settings, publisher)
    assert report.published == 2
    assert [(a.url, a.feed_url) for a in publisher.articles] == [
        ("https://new.example/news/1.html", "https://old.example/rss.xml"),
        ("https://new.example/feeds/2.html", "https://old.example/rss.xml"),
    ]


def test_backoff_never_overflows_however_many_failures() -> None:
    """2.0 ** 1024 raised OverflowError at the 1,025th failure, and the feed was then polled every second."""
    assert backoff_delay(1025, 300.0) == backoff_delay(10**9, 300.0) == 6 * 3600.0


def test_a_next_poll_time_from_before_the_clock_was_set_back_does_not_freeze_a_feed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from connectors.rss import _due, credible_next_poll

    now = utcnow()
    assert credible_next_poll(now + timedelta(hours=23), now, 300.0) == now + timedelta(hours=23)
    assert credible_next_poll(now + timedelta(days=365), now, 300.0) is None
    feed = _feed("aj.example")
    state = FeedState.for_feed(settings, feed.id)
    state.record_failure(
        now=now, error="NetworkError: down", kind="network", next_poll_at=now + timedelta(days=365)
    )
    state.save()
    assert _due([feed], settings, now)[0] == [feed] and "implausibly far ahead" in caplog.text
    web = FakeWeb({"aj.example": ALJAZEERA})
    assert _poll([feed], web, settings, MemoryPublisher()).outcomes[0].status == "new"  # not "skipped"


def test_a_state_that_cannot_be_saved_does_not_make_the_feed_due_again(
    settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import connectors.rss as rss

    settings = settings_factory(poll_interval_s=3600)
    web = FakeWeb({"aj.example": ALJAZEERA})
    publisher = MemoryPublisher()

    def full_disk(self: FeedState) -> None:
        raise OSError(28, "No space left on device")

    turns: list[float] = []

    async def sleep(stop: asyncio.Event, seconds: float) -> None:  # the loop's turns, without waiting
        turns.append(seconds)
        if len(turns) == 5:
            stop.set()

    monkeypatch.setattr(FeedState, "save", full_disk)
    monkeypatch.setattr(rss, "_sleep", sleep)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(web)) as client:
            await run_forever(
                [_feed("aj.example")],
                settings,
                publisher,
                asyncio.Event(),
                client=client,
                resolver=public_resolver,
            )

    asyncio.run(go())
    assert len(web.requests) == 1 and len(publisher.articles) == 10
    assert all(t > 3000 for t in turns[1:])  # waits for the interval, not a second
    assert "cannot save feed state" in caplog.text
