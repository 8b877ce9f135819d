"""A burst far larger than the worker's stream buffers, sent at once to one worker on a busy machine.

The worker's agents fall behind, its fetcher sits idle behind full buffers, and with a short max poll
interval aiokafka left the group and never rejoined while idle: the pipeline benchmark saw a worker
index 66 of 2,000 articles and then nothing. Every article must come through.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.broker import EmbeddedBroker
from pipeline.ids import article_id
from tests.faults.support import Corpus, Feeder, index_rows, progress, start_worker
from tests.integration.support import eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

BURST = 1500


def test_a_burst_to_one_loaded_worker_is_indexed_completely(
    broker: EmbeddedBroker, corpus: Corpus, tmp_path: Path
) -> None:
    # distinct copies of the real articles (new ids), so the burst is large without being synthetic
    articles = [
        a.model_copy(update={"id": article_id(f"https://burst.invalid/{n}/{a.id}")})
        for n in range(BURST // len(corpus.articles) + 1)
        for a in corpus.articles
    ][:BURST]
    data_dir = tmp_path / "data"
    worker = start_worker(broker.bootstrap, data_dir, corpus.config_dir, tmp_path / "worker.log")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # the busy machine
    try:
        eventually(lambda: progress(worker) is not None, timeout=120)
        feeder = Feeder(broker.bootstrap, articles, chunk=500, pause_s=0.0)
        feeder.start()
        assert feeder.finish() == BURST
        wanted = {a.id for a in articles}
        eventually(lambda: index_rows(data_dir)[2] >= wanted, timeout=300, interval=1.0)
        assert "UnknownMemberId" not in worker.log()  # it never lost its place in the group
    except BaseException:
        print(f"--- {worker.log_path.name}\n{worker.log()[-6000:]}")
        raise
    finally:
        hog.kill()
        hog.wait()
        worker.stop()
