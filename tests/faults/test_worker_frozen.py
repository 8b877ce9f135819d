"""A worker frozen (SIGSTOP) for longer than its session timeout, mid-stream: the group evicts it, its
next commit or heartbeat fails (UnknownMemberId) and it rejoins. It must resume and finish the stream: every
article indexed once, every (watch, story) alert once (seen once as a stall in the pipeline benchmark:
a worker that stopped consuming after such a rejoin)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from pipeline.broker import EmbeddedBroker
from tests.faults.support import (
    Corpus,
    Feeder,
    check_exactly_once,
    progress,
    start_worker,
    wait_until_complete,
)
from tests.integration.support import eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

FROZEN_S = 10.0  # > RASD_BROKER_SESSION_TIMEOUT_S (6)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_worker_frozen_past_its_session_timeout_resumes(
    broker: EmbeddedBroker, corpus: Corpus, tmp_path: Path
) -> None:
    n = len(corpus.articles)
    data_dir = tmp_path / "data"
    worker = start_worker(broker.bootstrap, data_dir, corpus.config_dir, tmp_path / "worker.log")
    try:
        eventually(lambda: progress(worker) is not None, timeout=120)
        feeder = Feeder(broker.bootstrap, corpus.articles)
        feeder.start()
        eventually(
            lambda: (p := progress(worker)) is not None and 0 < p.enriched < n, timeout=120, interval=0.1
        )
        os.kill(worker.proc.pid, signal.SIGSTOP)
        time.sleep(FROZEN_S)
        assert _state(worker.proc.pid) == "T"  # still stopped: the group saw no heartbeat for 10 s
        os.kill(worker.proc.pid, signal.SIGCONT)
        assert feeder.finish() == n
        wait_until_complete(data_dir, corpus, timeout=200)
        worker.stop()
        outcome = check_exactly_once(
            "worker frozen 10 s", data_dir, corpus, broker.bootstrap, crash_window=set()
        )
        assert not outcome.unexplained_duplicates, outcome.unexplained_duplicates
    except BaseException:
        print(f"--- {worker.log_path.name}\n{worker.log()[-6000:]}")
        raise
    finally:
        worker.stop()
