"""connectors.produce: records are fitted under the broker's size limit, never refused whole."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import connectors.produce as produce
from connectors.produce import KafkaPublisher, fit_record
from pipeline.models import Article

LIMIT = 16 * 1024


def _article(**fields: Any) -> Article:
    return Article(id="a" * 32, source="s", url="https://e.com/1", **fields)


def test_a_record_that_fits_is_untouched() -> None:
    article = _article(title="عنوان", body="نص قصير")
    assert fit_record(article, LIMIT) is article and not article.truncated


@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({"body": "كلمة " * 20_000}, "body"),  # two UTF-8 bytes a letter
        ({"body": '"\\' * 20_000}, "body"),  # JSON escapes double every character
        ({"summary": "ملخص " * 20_000}, "summary"),  # no body to cut: the summary goes next
        ({"title": "ع" * 20_000}, "title"),
        ({"body": "😀" * 20_000, "summary": "ب" * 10_000}, "summary"),  # body emptied, then summary cut
    ],
)
def test_oversize_records_are_cut_to_fit_and_flagged(fields: dict[str, str], kept: str) -> None:
    article = _article(**fields)
    fitted = fit_record(article, LIMIT)
    assert fitted.truncated and len(fitted.to_json()) <= LIMIT
    original: str = getattr(article, kept)
    cut: str = getattr(fitted, kept)
    assert cut and original.startswith(cut) and len(cut) < len(original)
    assert len(fitted.to_json()) > LIMIT - 64  # cut to the limit, not far below it
    assert fitted.id == article.id and not article.truncated  # a copy; the input is unchanged


class _FakeProducer:
    """Stands in for kafka.KafkaProducer: records the settings and the sent values."""

    instances: ClassVar[list[_FakeProducer]] = []

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[bytes] = []
        _FakeProducer.instances.append(self)

    def send(self, topic: str, *, key: bytes, value: bytes) -> _FakeProducer:
        self.sent.append(value)
        return self

    def flush(self, timeout: float | None = None) -> None:
        return None

    def get(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


def test_kafka_publisher_fits_what_it_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(produce, "KafkaProducer", _FakeProducer)
    publisher = KafkaPublisher("localhost:9092", max_record_bytes=LIMIT)
    [producer] = _FakeProducer.instances[-1:]
    assert producer.config["max_request_size"] >= LIMIT
    assert publisher.publish([_article(body="كلمة " * 50_000), _article(title="قصير")]) == 2
    big, small = producer.sent
    assert len(big) <= LIMIT and b'"truncated":true' in big
    assert b'"truncated":false' in small
