"""Deployment settings: typed, frozen, read from `RASD_*` environment variables once by the CLI.

Nothing reads the environment at import time; the CLI builds `Settings()` and passes it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LogLevel", "SearchBackendName", "Settings", "default_config_dir"]

SearchBackendName = Literal["sqlite", "elasticsearch"]
LogLevel = Literal["debug", "info", "warn", "error"]


def default_config_dir() -> Path:
    """`./config` when run from a checkout, else the config shipped beside the installed package."""
    here = Path.cwd() / "config"
    if (here / "feeds.yaml").is_file():
        return here
    return Path(__file__).resolve().parent.parent / "config"


class Settings(BaseSettings):
    """All deployment knobs. Each field is the env var `RASD_<FIELD>` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="RASD_", frozen=True, extra="ignore")

    # where things are
    config_dir: Path = Field(default_factory=default_config_dir)
    data_dir: Path = Path(".rasd")
    samples_dir: Path | None = Field(
        default=None, description="feed files replayed when offline; default <repo>/tests/fixtures/feeds"
    )

    # Kafka
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset = start the embedded Tansu broker"
    )
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1, le=16)
    consumer_group: str = "rasd"
    # short group timeouts: Tansu makes every join wait for the full rebalance timeout
    broker_rebalance_timeout_s: float = 6.0
    broker_session_timeout_s: float = 6.0
    broker_heartbeat_interval_s: float = 2.0
    broker_max_poll_interval_s: float = 6.0

    # search
    search_backend: SearchBackendName = "sqlite"
    elasticsearch_url: str | None = None
    elasticsearch_api_key: SecretStr | None = None
    index_batch_size: int = Field(default=200, ge=1, le=10_000)
    index_batch_seconds: float = Field(default=0.5, gt=0, le=60)

    # fetching
    user_agent: str = "Rasd/0.1 (Arabic news monitor; feed reader)"
    fetch_connect_timeout_s: float = Field(default=5.0, gt=0)
    fetch_read_timeout_s: float = Field(default=10.0, gt=0)
    fetch_total_timeout_s: float = Field(default=30.0, gt=0)
    fetch_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_allowed_hosts: list[str] = Field(
        default_factory=list, description="hosts allowed even when they resolve to private/loopback addresses"
    )
    poll_interval_s: float = Field(default=300.0, gt=0)
    seen_ids_per_feed: int = Field(default=5000, ge=10)

    # alert delivery
    delivery_attempts: int = Field(default=4, ge=1, le=20)
    delivery_backoff_s: float = Field(default=0.5, ge=0)
    delivery_backoff_max_s: float = Field(default=30.0, ge=0)
    delivery_timeout_s: float = Field(default=10.0, gt=0)

    log_level: LogLevel = "info"

    def resolved_samples_dir(self) -> Path:
        """Bundled sample feeds (real publisher documents) replayed when there is no network."""
        if self.samples_dir is not None:
            return self.samples_dir
        return Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "feeds"

    @property
    def feeds_file(self) -> Path:
        return self.config_dir / "feeds.yaml"

    @property
    def watchlists_file(self) -> Path:
        return self.config_dir / "watchlists.yaml"

    @property
    def topics_file(self) -> Path:
        return self.config_dir / "topics.yaml"

    @property
    def entities_dir(self) -> Path:
        return self.config_dir / "entities"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index.sqlite3"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "feeds"

    @property
    def alerts_path(self) -> Path:
        return self.data_dir / "alerts.jsonl"

    @property
    def channels_path(self) -> Path:
        return self.config_dir / "channels.yaml"

    @property
    def deliveries_path(self) -> Path:
        return self.data_dir / "deliveries.sqlite3"
