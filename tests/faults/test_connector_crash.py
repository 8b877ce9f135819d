"""Connector crashes: the real poll loop (`connectors.rss.poll_once`: fetch over HTTP → publish →
save feed state) dies between fetch and produce, then between produce and saving the feed state.
No article is lost; the articles published twice are absorbed downstream by their ids."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from connectors import FeedState, KafkaPublisher, Publisher, poll_once
from pipeline.broker import EmbeddedBroker
from pipeline.models import Article
from pipeline.settings import Settings
from tests.faults.support import (
    Corpus,
    FeedServer,
    check_exactly_once,
    read_topic,
    start_worker,
    wait_until_complete,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


class Crash(BaseException):
    """A process death at an exact point: not an `Exception`, so no connector handler turns it into
    a failed outcome; nothing after it runs (no state save), like `kill -9`."""


class CrashBeforeProduce:
    """Delegates to a real publisher, but dies when asked to publish the `nth` batch (fetched, parsed,
    never produced)."""

    def __init__(self, inner: Publisher, nth: int) -> None:
        self.inner, self.nth, self.calls = inner, nth, 0

    def publish(self, articles: Iterable[Article]) -> int:
        self.calls += 1
        if self.calls == self.nth:
            raise Crash("connector killed between fetch and produce")
        return self.inner.publish(articles)

    def close(self) -> None:
        self.inner.close()


def _raw_ids(bootstrap: str) -> Counter[str]:
    return Counter(k.decode() for k, _ in read_topic(bootstrap, "articles.raw") if k)


def test_connector_killed_between_steps_loses_nothing(
    broker: EmbeddedBroker,
    corpus: Corpus,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds = feed_server.feeds
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        data_dir=tmp_path / "connector",
        config_dir=corpus.config_dir,
        fetch_allowed_hosts=["127.0.0.1"],
        topic_partitions=2,
    )
    data_dir = tmp_path / "data"
    worker = start_worker(broker.bootstrap, data_dir, corpus.config_dir, tmp_path / "worker.log")
    publisher = KafkaPublisher(broker.bootstrap)

    def poll(with_publisher: Publisher) -> None:
        # one feed at a time, so the crash points are exact
        asyncio.run(poll_once(feeds, settings=settings, publisher=with_publisher, concurrency=1))

    def state(feed_index: int) -> FeedState:
        return FeedState.for_feed(settings, feeds[feed_index].id)

    try:
        # 1. killed between fetch and produce of the 4th feed: feeds 1-3 are published and remembered
        with pytest.raises(Crash):
            poll(CrashBeforeProduce(publisher, nth=4))
        after_first = _raw_ids(broker.bootstrap)
        first_three = {a.id for a in corpus.articles if a.id in after_first}
        assert sum(after_first.values()) == len(first_three) == sum(len(state(i).seen_ids) for i in range(3))
        assert not state(3).seen_ids and state(3).last_polled_at is None  # nothing saved for the 4th

        # 2. killed between produce and saving the state of the 8th feed
        victim = feeds[7].id
        real_save = FeedState.save

        def save_or_die(self: FeedState) -> None:
            if self.path.stem == victim:
                raise Crash("connector killed between produce and saving the feed state")
            real_save(self)

        with monkeypatch.context() as mp:
            mp.setattr(FeedState, "save", save_or_die)
            with pytest.raises(Crash):
                poll(publisher)
        eighth = state(7)
        assert not eighth.seen_ids and eighth.etag is None  # published, but the state never saw it

        # 3. the next poll: the rest, and the 8th feed's articles again
        poll(publisher)
        publisher.close()
        raw = _raw_ids(broker.bootstrap)
        duplicated = {k for k, v in raw.items() if v > 1}
        assert set(raw) == corpus.ids  # nothing lost
        assert all(v <= 2 for v in raw.values())
        assert duplicated == set(state(7).seen_ids)  # exactly the 8th feed's batch came twice
        assert sum(raw.values()) == len(corpus.articles) + len(duplicated)

        wait_until_complete(data_dir, corpus)
        worker.stop()
        outcome = check_exactly_once("connector crashes", data_dir, corpus, broker.bootstrap)
        print(f"[faults]   raw messages={sum(raw.values())} published twice={len(duplicated)}")
        assert not outcome.jsonl_duplicates
    except BaseException:
        print(worker.log()[-5000:])
        raise
    finally:
        worker.stop()
