"""Deployment settings: typed, frozen, read from `RASD_*` environment variables once by the CLI.

Nothing reads the environment at import time; the CLI builds `Settings()` and passes it down.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["LogLevel", "SearchBackendName", "Settings", "default_config_dir"]

SearchBackendName = Literal["sqlite", "elasticsearch"]
LogLevel = Literal["debug", "info", "warn", "error"]


def default_config_dir() -> Path:
    """`./config` when run from a checkout, else the config shipped beside the installed package."""
    here = Path.cwd() / "config"
    if (here / "feeds.yaml").is_file():
        return here
    return Path(__file__).resolve().parent.parent / "config"


MAX_DURATION_S = 366 * 86_400.0


class Settings(BaseSettings):
    """All deployment knobs. Each field is the env var `RASD_<FIELD>` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="RASD_", frozen=True, extra="ignore", allow_inf_nan=False)

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
    # topic retention (`retention.ms`) used when Rasd creates its topics; see pipeline/topics.py
    raw_retention_hours: int = Field(default=168, ge=1, le=87_600)
    enriched_retention_hours: int = Field(default=168, ge=1, le=87_600)
    dlq_retention_hours: int = Field(default=720, ge=1, le=87_600)
    alerts_retention_hours: int = Field(default=720, ge=1, le=87_600)
    surge_retention_hours: int = Field(
        default=48, ge=1, le=87_600, description="rasd.surge.mentions; 2 × the largest surge window is plenty"
    )
    consumer_group: str = "rasd"
    # short group timeouts: Tansu makes every join wait for the full rebalance timeout (aiokafka sends
    # broker_rebalance_timeout_s in JoinGroup)
    broker_rebalance_timeout_s: float = Field(default=6.0, gt=0)
    broker_session_timeout_s: float = Field(default=6.0, gt=0)
    broker_heartbeat_interval_s: float = Field(default=2.0, gt=0)
    # how long the fetcher may sit idle before the consumer leaves the group. It idles whenever the
    # agents are behind (stream buffers full), and aiokafka never rejoins while idle: at 6 s a burst
    # of 2,000 articles to one loaded worker stalled it for good. Kafka's own default.
    broker_max_poll_interval_s: float = Field(default=300.0, ge=10.0)
    # articles per enrichment call: the NER decoder gains little past ~20, and the first article of
    # a batch waits for the whole batch (10 with a 0.1 s index flush: p50 1.69 -> 0.86 s at 60/s, 2 workers)
    enrich_batch_size: int = Field(default=10, ge=1, le=10_000)
    # Faust hard-codes 1.5 s; the broker may hold a fetch that long when little is waiting (per hop)
    broker_fetch_max_wait_ms: int = Field(default=100, ge=1, le=10_000)
    broker_wait_s: float = Field(
        default=300.0, gt=0, description="how long a worker waits for Kafka at start"
    )

    # search
    search_backend: SearchBackendName = "sqlite"
    search_window: int = Field(
        default=2_000,
        ge=100,
        le=1_000_000,
        description="SQLite: matches ranked, paged and faceted per search (the most recent); past it totals"
        " are 'at least'",
    )
    elasticsearch_url: str | None = None
    elasticsearch_api_key: SecretStr | None = None
    elasticsearch_username: str | None = Field(default=None, description="basic auth, when no API key is set")
    elasticsearch_password: SecretStr | None = None
    elasticsearch_ca_certs: Path | None = Field(
        default=None, description="CA bundle (PEM) for the cluster's TLS"
    )
    elasticsearch_verify_certs: bool = True
    elasticsearch_request_timeout_s: float = Field(default=10.0, gt=0)
    elasticsearch_index_prefix: str = Field(
        default="rasd",
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,150}$",
        description="<prefix>-articles (alias), <prefix>-articles-NNNNNN (indices), <prefix>-watches",
    )
    elasticsearch_rollover_max_size: str = Field(default="50gb", pattern=r"^\d+(b|kb|mb|gb|tb)$")
    elasticsearch_rollover_max_age: str = Field(default="30d", pattern=r"^\d+(d|h|m|s)$")
    elasticsearch_retention: str | None = Field(
        default=None,
        pattern=r"^\d+(d|h|m|s)$",
        description="delete indices this long after rollover; unset = keep",
    )
    elasticsearch_bulk_max_docs: int = Field(default=500, ge=1, le=10_000)
    elasticsearch_bulk_max_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024, le=100 * 1024 * 1024)
    index_batch_size: int = Field(default=200, ge=1, le=10_000)
    index_batch_seconds: float = Field(default=0.1, gt=0, le=60)

    # fetching
    user_agent: str = "Rasd/0.1 (Arabic news monitor; feed reader)"
    fetch_connect_timeout_s: float = Field(default=5.0, gt=0)
    fetch_read_timeout_s: float = Field(default=10.0, gt=0)
    fetch_total_timeout_s: float = Field(default=30.0, gt=0)
    fetch_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="hosts allowed even when they resolve to private/loopback addresses"
    )
    fetch_max_entries: int = Field(
        default=1000, ge=1, le=100_000, description="entries kept per feed document (the first ones)"
    )
    fetch_gone_after_404s: int = Field(
        default=5, ge=1, le=1000, description="consecutive 404s before a feed is marked gone (410: at once)"
    )
    poll_interval_s: float = Field(default=300.0, gt=0)
    seen_ids_per_feed: int = Field(default=5000, ge=10)
    max_record_bytes: int = Field(
        default=900 * 1024,
        ge=16 * 1024,
        le=64 * 1024 * 1024,
        description="largest article record sent to Kafka; longer texts are cut and flagged `truncated`",
    )

    # full article text (connectors/fulltext/): fetch the linked page when the feed carries little text
    fulltext_enabled: bool = True
    fulltext_min_chars: int = Field(
        default=400, ge=0, description="feeds with `fulltext: auto` fetch the page below this many characters"
    )
    fulltext_user_agent: str = (
        "Rasd/0.1 (Arabic news monitor; article fetcher; honours robots.txt; product token Rasd)"
    )
    fulltext_max_page_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    fulltext_concurrency: int = Field(default=8, ge=1, le=256, description="pages fetched at once per worker")
    fulltext_host_concurrency: int = Field(default=1, ge=1, le=16)
    fulltext_host_delay_s: float = Field(default=1.0, ge=0, description="between request starts on one host")
    fulltext_max_crawl_delay_s: float = Field(default=30.0, ge=0, description="cap on robots.txt Crawl-delay")
    fulltext_robots_ttl_s: float = Field(default=86_400.0, gt=0, description="robots.txt cache lifetime")
    fulltext_robots_error_ttl_s: float = Field(
        default=3_600.0, gt=0, description="how long an unreachable robots.txt (5xx) means disallow"
    )
    fulltext_cache_entries: int = Field(default=20_000, ge=0, description="pages kept in the URL cache")
    fulltext_cache_ttl_s: float = Field(default=7 * 86_400.0, gt=0)

    # alert delivery
    delivery_attempts: int = Field(default=4, ge=1, le=20)
    delivery_backoff_s: float = Field(default=0.5, ge=0)
    delivery_backoff_max_s: float = Field(default=30.0, ge=0)
    delivery_timeout_s: float = Field(default=10.0, gt=0)

    # HTTP API and web UI (`rasd api`, started by `rasd run`)
    api_host: str = Field(default="127.0.0.1", min_length=1, description="address the API listens on")
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        default=None, description="required to reach the API from another machine, and to change watches"
    )
    api_open: bool = Field(
        default=False, description="serve reads without a key on a non-loopback address (changes stay locked)"
    )
    api_watch_changes: bool = Field(
        default=True,
        description="let the API and web UI change watches; off where the workers keep their own watch "
        "store on other hosts (Kubernetes: a per-pod data dir), so a change would reach no worker",
    )
    api_alerts_from_topic: bool = Field(
        default=False,
        description="the API reads the alerts topic into its own alert log (needs RASD_KAFKA_BOOTSTRAP): "
        "for an API whose workers keep their alert logs on other hosts (Kubernetes)",
    )
    api_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="names the API answers to (Host header), e.g. rasd.example.org; empty: any name, "
        "but only loopback names on a loopback address without a key",
    )

    log_level: LogLevel = "info"

    @field_validator("fetch_allowed_hosts", "api_allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        """A JSON list, or hosts separated by commas (`RASD_FETCH_ALLOWED_HOSTS=a.com,b.com`)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError as exc:
                    raise ValueError(f"not a JSON list: {exc}") from exc
            return [h.strip() for h in text.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _durations_bounded(self) -> Settings:
        """Every duration (`*_s`) at most a year: date arithmetic overflows on larger ones (inf and
        NaN are refused by the model config)."""
        for name, value in self:
            if name.endswith("_s") and isinstance(value, float) and value > MAX_DURATION_S:
                raise ValueError(f"RASD_{name.upper()}: at most {MAX_DURATION_S:.0f} s (a year)")
        if self.broker_heartbeat_interval_s >= self.broker_session_timeout_s:
            # a consumer that beats no more often than it times out is evicted between beats
            raise ValueError(
                "RASD_BROKER_HEARTBEAT_INTERVAL_S must be below RASD_BROKER_SESSION_TIMEOUT_S "
                f"({self.broker_heartbeat_interval_s:g} ≥ {self.broker_session_timeout_s:g})"
            )
        return self

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

    @property
    def fulltext_cache_path(self) -> Path:
        return self.data_dir / "fulltext.sqlite3"
