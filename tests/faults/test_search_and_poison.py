"""The search backend unavailable or rejecting, and poison messages, through the real broker.

The index is made unavailable from outside the worker by a test connection holding the SQLite write
lock (`BEGIN EXCLUSIVE`: the worker's writes wait its busy timeout, then raise `SearchUnavailable`),
and made to reject writes by a trigger. Briefly unavailable: the indexer retries and nothing reaches
the DLQ. Unavailable for longer than the retries: the failed batches are parked in `articles.dlq` and
`rasd dlq replay` re-injects them once the lock is gone. Rejecting: each refused article is parked
with the reason, and replayed after the fix. Poison messages (undecodable bytes, an unknown schema
version) go to the DLQ with the reason, are kept by replay, and the stream goes on around them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from kafka import KafkaProducer

from connectors import KafkaPublisher
from pipeline.broker import EmbeddedBroker
from pipeline.cli.main import main
from pipeline.dead_letters import read_letters
from pipeline.models import Article
from tests.faults.support import (
    Corpus,
    check_exactly_once,
    index_rows,
    progress,
    start_worker,
    wait_until_complete,
)
from tests.integration.support import eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

REJECT = "index rejects writes (fault injected)"
REJECT_TRIGGER = (
    f"CREATE TRIGGER fault_reject BEFORE INSERT ON articles BEGIN SELECT RAISE(ABORT, '{REJECT}'); END"
)


class IndexLock:
    """A second connection on the index file holding its write lock until `release`."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()


def _index_ready(path: Path) -> bool:
    if not path.exists():
        return False
    conn = sqlite3.connect(path, timeout=10.0)
    try:
        return conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'articles'").fetchone()[0] == 1
    finally:
        conn.close()


def _execute(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        conn.execute(sql)
    finally:
        conn.close()


def _poison(article: Article) -> list[tuple[bytes, bytes]]:
    future = json.loads(article.to_json())
    future["schema_version"] = 99  # a newer producer than this worker understands
    return [
        (b"poison-bytes", b"\xff\xfe\x00 not an article at all"),
        (article.id.encode(), json.dumps(future, ensure_ascii=False).encode()),
    ]


def _dlq(bootstrap: str) -> list[tuple[str, str | None, str]]:
    return [
        (x.letter.stage, x.letter.key, x.letter.error)
        for x in read_letters(bootstrap)
        if x.letter is not None
    ]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_search_unavailable_rejecting_and_poison(
    broker: EmbeddedBroker,
    corpus: Corpus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    articles = corpus.articles
    n = len(articles)
    a, b, c = articles[:40], articles[40:80], articles[80:]
    data_dir = tmp_path / "data"
    index = data_dir / "index.sqlite3"
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", broker.bootstrap)
    monkeypatch.setenv("RASD_DATA_DIR", str(data_dir))
    worker = start_worker(broker.bootstrap, data_dir, corpus.config_dir, tmp_path / "worker.log")
    publisher = KafkaPublisher(broker.bootstrap)
    poison = KafkaProducer(bootstrap_servers=broker.bootstrap)

    def log() -> str:
        return worker.log()

    def settled(indexed: int, dlq: int) -> bool:
        p = progress(worker)
        return p is not None and p.indexed == indexed and p.dlq == dlq

    try:
        eventually(lambda: _index_ready(index), timeout=120)

        # 1. unavailable for a few seconds: retried, all indexed, only the poison is dead-lettered
        lock = IndexLock(index)
        publisher.publish(a[:20])
        bad = articles[0].model_copy(update={"id": "poison-schema-0001"})
        for key, value in _poison(bad):
            poison.send("articles.raw", key=key, value=value)
        poison.flush()
        publisher.publish(a[20:])
        eventually(lambda: "search backend unavailable (attempt 2/5)" in log(), timeout=90)
        lock.release()
        eventually(lambda: settled(len(a), 2), timeout=90)
        assert index_rows(data_dir)[2] == {x.id for x in a}
        letters = _dlq(broker.bootstrap)
        assert sorted((s, k) for s, k, _ in letters) == [("decode", "poison-bytes"), ("decode", bad.id)]
        assert any("unsupported schema_version 99" in e for _, _, e in letters)

        # 2. unavailable for longer than the retries: parked in the DLQ, replayed after the fix
        lock = IndexLock(index)
        publisher.publish(b)
        eventually(lambda: "dead-lettered stage=index" in log(), timeout=150, interval=0.5)
        lock.release()
        assert "search backend unavailable (attempt 5/5)" in log()
        p = eventually(lambda: (p := progress(worker)) and p.indexed + p.dlq - 2 == len(a) + len(b) and p)
        parked_b = p.dlq - 2
        assert 0 < parked_b <= len(b)
        out = _cli(capsys, "dlq", "list")
        assert out.count("stage=index") == parked_b and "gave up after retries" in out
        assert f"{parked_b + 2} dead letter(s): decode=2, index={parked_b}" in out
        out = _cli(capsys, "dlq", "replay")
        assert f"replayed {parked_b}, kept 2" in out
        assert "payload is still not a valid article" in out  # the poison stays parked
        eventually(lambda: index_rows(data_dir)[2] == {x.id for x in a + b}, timeout=90)

        # 3. rejecting writes (per article): each parked with the reason, replayed after the fix
        _execute(index, REJECT_TRIGGER)
        publisher.publish(c)
        eventually(lambda: (p := progress(worker)) is not None and p.dlq == 2 + parked_b + len(c), timeout=90)
        rejected = [x for x in _dlq(broker.bootstrap) if REJECT in x[2]]
        assert sorted(k or "" for _, k, _ in rejected) == sorted(x.id for x in c)
        _execute(index, "DROP TRIGGER fault_reject")
        out = _cli(capsys, "dlq", "replay")
        assert f"replayed {len(c)}, kept 0" in out
        assert "0 dead letter(s): none" in _cli(capsys, "dlq", "list", "--pending")

        wait_until_complete(data_dir, corpus)
        worker.stop()
        outcome = check_exactly_once(
            "search unavailable/rejecting + poison", data_dir, corpus, broker.bootstrap
        )
        letters = _dlq(broker.bootstrap)
        print(
            f"[faults]   dlq={len(letters)} (decode=2 index={parked_b}+{len(c)}), "
            f"replayed={parked_b + len(c)}, n={n}"
        )
        assert len(letters) == 2 + parked_b + len(c)
        assert not outcome.jsonl_duplicates
    except BaseException:
        print(worker.log()[-6000:])
        raise
    finally:
        publisher.close()
        poison.close()
        worker.stop()
