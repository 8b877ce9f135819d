"""One exception tree for Rasd; third-party errors are translated where the library is called.

PipelineError
├── ConfigError
├── ConnectorError
│   ├── FetchError(url)
│   │   ├── FetchRefused        (scheme, host or address not allowed: SSRF guard)
│   │   ├── FetchTimeout
│   │   ├── NetworkError
│   │   ├── TooManyRedirects
│   │   ├── ResponseTooLarge
│   │   └── HTTPStatusError(status, retry_after)
│   ├── FeedParseError(url)
│   └── PublishError
├── BrokerError
├── DeliveryError(channel, transient, retry_after)
├── ProcessingError(stage)
└── SearchError
    ├── InvalidQuery
    └── SearchUnavailable(retry_after)
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "ConfigError",
    "ConnectorError",
    "DeliveryError",
    "FeedParseError",
    "FetchError",
    "FetchRefused",
    "FetchTimeout",
    "HTTPStatusError",
    "InvalidQuery",
    "NetworkError",
    "PipelineError",
    "ProcessingError",
    "PublishError",
    "ResponseTooLarge",
    "SearchError",
    "SearchUnavailable",
    "TooManyRedirects",
]


class PipelineError(Exception):
    """Root of every error Rasd raises on purpose."""


class ConfigError(PipelineError):
    """Raised when a settings value or a config file (feeds, watchlists, entities) is invalid."""


class ConnectorError(PipelineError):
    """Raised by the feed connector."""


class FetchError(ConnectorError):
    """Raised when a URL could not be fetched."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class FetchRefused(FetchError):
    """Raised before any request when the scheme, host or resolved address is not allowed."""


class FetchTimeout(FetchError):
    """Raised when a phase timeout or the total deadline of a fetch expires."""


class NetworkError(FetchError):
    """Raised when the connection fails (DNS, refused, reset, TLS)."""


class TooManyRedirects(FetchError):
    """Raised when a fetch exceeds the redirect limit or loops."""


class ResponseTooLarge(FetchError):
    """Raised when a body (decompressed) exceeds the configured size cap."""


class HTTPStatusError(FetchError):
    """Raised for a non-success HTTP status; `retry_after` is in seconds when the server gave one."""

    def __init__(self, message: str, *, url: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class FeedParseError(ConnectorError):
    """Raised when fetched bytes are not a recognisable RSS/Atom feed."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class PublishError(ConnectorError):
    """Raised when articles could not be delivered to the broker."""


class BrokerError(PipelineError):
    """Raised when the Kafka broker cannot be started or reached."""


class DeliveryError(PipelineError):
    """Raised by an alert channel that could not deliver; `transient` says whether a retry may succeed.

    `retry_after` is in seconds when the receiver asked for a delay (HTTP 429 `Retry-After`).
    """

    def __init__(
        self, message: str, *, channel: str, transient: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.transient = transient
        self.retry_after = retry_after


class ProcessingError(PipelineError):
    """Raised when an article fails a pipeline stage; it is routed to the DLQ."""

    def __init__(self, message: str, *, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


class SearchError(PipelineError):
    """Raised by a search backend."""


class InvalidQuery(SearchError):
    """Raised when a user query or filter is malformed; the message names the problem."""


class SearchUnavailable(SearchError):
    """Raised when the backend cannot take writes or queries now; retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
