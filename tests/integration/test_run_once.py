"""The README's main command, `rasd run --once`, end to end: embedded broker, worker, replayed feeds.

Its summary line must count every alert the watches fire, and the JSONL channel must hold them all
when it returns: indexing and alert matching read `articles.enriched` independently, and the summary
used to be printed as soon as the last article was searchable (it said 13 where 15 came later).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.support import FEED_FILES, build_corpus, jsonl_ids
from tests.integration.support import REPO

pytestmark = pytest.mark.integration

DONE = re.compile(r"done: published=(\d+) indexed_total=(\d+) missing=(\d+) alerts=(\d+)")


def test_run_once_reports_every_alert_and_has_delivered_them(tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path)
    samples = tmp_path / "samples"
    for path in FEED_FILES:
        (samples / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, samples / path.parent.name / path.name)
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASD_")}
    env.update(RASD_CONFIG_DIR=str(corpus.config_dir), RASD_DATA_DIR=str(data), RASD_SAMPLES_DIR=str(samples))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "run", "--once", "--no-feeds"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    found = DONE.search(done.stdout)
    assert done.returncode == 0 and found, done.stdout + done.stderr[-3000:]
    published, indexed, missing, alerts = map(int, found.groups())
    assert published == indexed == len(corpus.articles) and missing == 0
    assert alerts == len(corpus.expected_alerts), done.stderr[-3000:]
    assert sorted(jsonl_ids(data)) == sorted(corpus.expected_alerts)
