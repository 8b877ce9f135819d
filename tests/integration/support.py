"""Helpers for tests that run real components: polling waits, a worker subprocess, test config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from pipeline.broker import stop_process

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def eventually(probe: Callable[[], T], *, timeout: float = 90.0, interval: float = 0.25) -> T:
    """Poll `probe` until it returns something truthy; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not value:
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:.0f}s (last value: {value!r})")
        time.sleep(interval)
        value = probe()
    return value


def make_config(tmp: Path, watchlists: str) -> Path:
    """A copy of the repo's config with test watchlists."""
    config = tmp / "config"
    shutil.copytree(REPO / "config", config)
    (config / "watchlists.yaml").write_text(watchlists, encoding="utf-8")
    return config


class Worker:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli.main", "worker"],
            env=env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)
        self._log.close()


def worker_env(bootstrap: str, data_dir: Path, config_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASD_")}
    env.update(
        RASD_KAFKA_BOOTSTRAP=bootstrap,
        RASD_DATA_DIR=str(data_dir),
        RASD_CONFIG_DIR=str(config_dir),
        RASD_TOPIC_PARTITIONS="2",
        RASD_LOG_LEVEL="info",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env
