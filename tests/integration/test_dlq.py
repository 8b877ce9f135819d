"""`rasd dlq list|replay` against the real broker: dead letters are listed with their reasons, and
replay re-injects each payload into the topic its stage reads, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.broker import EmbeddedBroker
from pipeline.cli.main import main
from pipeline.errors import SearchUnavailable
from pipeline.ids import article_id
from pipeline.models import Article, DeadLetter

pytestmark = pytest.mark.integration


def _article(n: int) -> Article:
    url = f"https://dlq.example/{n}"
    return Article(
        id=article_id(url), source="dlq", url=url, title=f"خبر رقم {n}", body="نص الخبر", language="ar"
    )


def _read(bootstrap: str, topic: str) -> list[Article]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=3000,
    )
    try:
        return [Article.model_validate_json(m.value) for m in consumer]
    finally:
        consumer.close()


def test_list_then_replay_once(
    broker: EmbeddedBroker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", broker.bootstrap)
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path))
    index_failed, enrich_failed = _article(1), _article(2)
    letters = [
        DeadLetter.from_failure(
            stage="index",
            exc=SearchUnavailable("index is read-only"),
            key=index_failed.id,
            payload=index_failed,
        ),
        DeadLetter.from_failure(
            stage="decode", exc=ValueError("not JSON"), key="k", payload=b"\xff\xfe garbage"
        ),
        DeadLetter.from_failure(
            stage="enrich", exc=RuntimeError("tagger exploded"), key=enrich_failed.id, payload=enrich_failed
        ),
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for letter in letters:
        producer.send("articles.dlq", key=(letter.key or "").encode(), value=letter.to_json())
    producer.send("articles.dlq", key=b"x", value=b"not a dead letter at all")
    producer.flush()
    producer.close()

    assert main(["dlq", "list"]) == 0
    out = capsys.readouterr().out
    assert "stage=index" in out and "index is read-only" in out and "stage=enrich" in out
    assert "4 dead letter(s): ?=1, decode=1, enrich=1, index=1" in out

    assert main(["dlq", "replay", "--dry-run"]) == 0
    assert "would replay 2, kept 2" in capsys.readouterr().out
    assert _read(broker.bootstrap, "articles.enriched") == []  # a dry run sends nothing

    assert main(["dlq", "replay"]) == 0
    out = capsys.readouterr().out
    assert f"replayed {index_failed.id} → articles.enriched" in out
    assert f"replayed {enrich_failed.id} → articles.raw" in out
    assert "payload is still not a valid article" in out and "replayed 2, kept 2" in out
    assert [a.id for a in _read(broker.bootstrap, "articles.enriched")] == [index_failed.id]
    assert [a.id for a in _read(broker.bootstrap, "articles.raw")] == [enrich_failed.id]

    assert main(["dlq", "replay"]) == 0  # nothing new since
    assert "replayed 0, kept 0" in capsys.readouterr().out
    assert main(["dlq", "list", "--pending"]) == 0
    assert "0 dead letter(s): none" in capsys.readouterr().out
