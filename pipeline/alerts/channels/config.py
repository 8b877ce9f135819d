"""Channel configuration as data (`config/channels.yaml`), validated, then turned into channel objects.

Secrets never appear in the file: a channel names the environment variable that holds each one
(`secret_env`, `token_env`, `password_env`, `url_env`), and `build_channels` reads them at start-up.
The built-in channels `log` and `jsonl` always exist; the file may re-point `jsonl`, not retype either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Final, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.alerts.channels._http import make_http_client
from pipeline.alerts.channels.base import Channel
from pipeline.alerts.channels.chat import TELEGRAM_API_BASE, SlackChannel, TelegramChannel
from pipeline.alerts.channels.email import EmailChannel
from pipeline.alerts.channels.files import JsonlChannel, LogChannel
from pipeline.alerts.channels.webhook import WebhookChannel
from pipeline.config import read_yaml
from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = [
    "BUILTIN_CHANNELS",
    "ChannelConfig",
    "EmailChannelConfig",
    "JsonlChannelConfig",
    "LogChannelConfig",
    "SlackChannelConfig",
    "TelegramChannelConfig",
    "WebhookChannelConfig",
    "build_channels",
    "load_channels",
]

ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
EnvName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="the NAME of an environment variable holding the secret, never the secret itself",
    ),
]
Timeout = Annotated[float, Field(gt=0, le=300)]


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ChannelName


class LogChannelConfig(_Channel):
    """The `rasd.alerts` logger."""

    type: Literal["log"] = "log"


class JsonlChannelConfig(_Channel):
    """An append-only JSONL file; `path` defaults to the alert file, relative paths sit in the data dir."""

    type: Literal["jsonl"] = "jsonl"
    path: Path | None = None


class WebhookChannelConfig(_Channel):
    """Signed JSON POST to `url` (HMAC-SHA256 with the secret in `secret_env`)."""

    type: Literal["webhook"] = "webhook"
    url: HttpUrl
    secret_env: EnvName
    timeout_s: Timeout | None = None


class SlackChannelConfig(_Channel):
    """Slack-compatible incoming webhook; its URL is the credential, so it comes from `url_env`."""

    type: Literal["slack"] = "slack"
    url_env: EnvName
    timeout_s: Timeout | None = None


class TelegramChannelConfig(_Channel):
    """Telegram Bot API `sendMessage` to `chat_id` (a number, or `@channel`)."""

    type: Literal["telegram"] = "telegram"
    token_env: EnvName
    chat_id: int | str
    api_base: str = TELEGRAM_API_BASE
    disable_web_page_preview: bool = True
    timeout_s: Timeout | None = None

    @field_validator("api_base")
    @classmethod
    def _http_base(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("chat_id")
    @classmethod
    def _chat_id(cls, value: int | str) -> int | str:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be blank")
        return value


def _address(value: str) -> str:
    if any(c in value for c in "\r\n") or "@" not in value:
        raise ValueError(f"{value!r} is not an e-mail address")
    return value.strip()


class EmailChannelConfig(_Channel):
    """SMTP delivery; STARTTLS by default, `ssl: true` for implicit TLS (port 465)."""

    type: Literal["email"] = "email"
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    from_addr: str
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_env: EnvName | None = None
    subject_prefix: str = "[Rasd]"
    timeout_s: Timeout | None = None

    @field_validator("from_addr")
    @classmethod
    def _from(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannelConfig:
        if self.starttls and self.ssl:
            raise ValueError("starttls and ssl are exclusive: set starttls: false with ssl: true")
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together")
        return self


ChannelConfig = Annotated[
    LogChannelConfig
    | JsonlChannelConfig
    | WebhookChannelConfig
    | SlackChannelConfig
    | TelegramChannelConfig
    | EmailChannelConfig,
    Field(discriminator="type"),
]
_ADAPTER: Final[TypeAdapter[ChannelConfig]] = TypeAdapter(ChannelConfig)
_TAGS: Final = frozenset({"log", "jsonl", "webhook", "slack", "telegram", "email"})
_TOP_LEVEL: Final = frozenset({"channels", "examples"})

BUILTIN_CHANNELS: Final[Mapping[str, ChannelConfig]] = {
    "log": LogChannelConfig(name="log"),
    "jsonl": JsonlChannelConfig(name="jsonl"),
}


def _describe(exc: ValidationError) -> str:
    """`field: message` per error, without the union tag pydantic puts first in the location."""
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        if loc and loc[0] in _TAGS:
            loc = loc[1:]
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            where, message = "type", f"must be one of {', '.join(sorted(_TAGS))}"
        elif err["type"] == "model_attributes_type":
            where, message = "(item)", "expected a mapping with name and type"
        else:
            where, message = ".".join(str(p) for p in loc) or "(item)", err["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def load_channels(path: Path, key: str = "channels") -> dict[str, ChannelConfig]:
    """The built-in channels plus those in the `key:` list of `path`; a missing file means built-ins only.

    Errors name the file, the channel (index and name) and the field. `key="examples"` validates the
    documented, never-loaded examples block.
    """
    channels: dict[str, ChannelConfig] = dict(BUILTIN_CHANNELS)
    if not path.exists():
        return channels
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    data = read_yaml(path)
    if data is None:
        return channels
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'channels' list")
    unknown = sorted(str(k) for k in data if k not in _TOP_LEVEL)
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)} (expected channels, examples)"
        )
    items = data.get(key) or []
    if not isinstance(items, list):
        raise ConfigError(f"{path}: {key}: expected a list of channels")
    seen: set[str] = set()
    for i, item in enumerate(items):
        raw_name = item.get("name") if isinstance(item, dict) else None
        label = f"{key}[{i}]" + (f" ({raw_name})" if isinstance(raw_name, str) else "")
        try:
            config = _ADAPTER.validate_python(item)
        except ValidationError as exc:
            raise ConfigError(f"{path}: {label}: {_describe(exc)}") from exc
        if config.name in seen:
            raise ConfigError(f"{path}: {label}: name: duplicate channel name {config.name!r}")
        if config.name in BUILTIN_CHANNELS and config.type != config.name:
            raise ConfigError(
                f"{path}: {label}: type: the built-in channel {config.name!r} must have type {config.name!r}"
            )
        seen.add(config.name)
        channels[config.name] = config
    return channels


def _secret(config: ChannelConfig, field: str, env: Mapping[str, str], missing: list[str]) -> str:
    variable: str = getattr(config, field)
    value = env.get(variable, "")
    if not value:
        missing.append(f"channel {config.name!r}: {field}: environment variable {variable} is not set")
    return value


def build_channels(
    configs: Mapping[str, ChannelConfig],
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    client: httpx.AsyncClient | None = None,
) -> dict[str, Channel]:
    """Channel objects for `configs`, secrets read from `env` (default `os.environ`).

    HTTP channels share `client`, or one client made here with `settings.delivery_timeout_s`; close
    it through any of their `aclose()` (the `Deliverer` does). Every unset variable is reported at once in
    one `ConfigError`, naming the channel, the field and the variable, never a value.
    """
    env = os.environ if env is None else env
    timeout = settings.delivery_timeout_s
    missing: list[str] = []
    channels: dict[str, Channel] = {}
    shared: list[httpx.AsyncClient] = [client] if client is not None else []

    def http() -> httpx.AsyncClient:
        if not shared:  # made only when an HTTP channel is configured
            shared.append(make_http_client(timeout))
        return shared[0]

    for name, config in configs.items():
        channel: Channel
        if isinstance(config, LogChannelConfig):
            channel = LogChannel(name)
        elif isinstance(config, JsonlChannelConfig):
            path = settings.alerts_path if config.path is None else settings.data_dir / config.path
            channel = JsonlChannel(path, name)
        elif isinstance(config, WebhookChannelConfig):
            secret = _secret(config, "secret_env", env, missing)
            channel = WebhookChannel(
                name, client=http(), url=str(config.url), secret=secret, timeout_s=config.timeout_s or timeout
            )
        elif isinstance(config, SlackChannelConfig):
            url = _secret(config, "url_env", env, missing)
            if url and not url.startswith(("https://", "http://")):
                missing.append(f"channel {name!r}: url_env: {config.url_env} does not hold an http(s) URL")
            channel = SlackChannel(name, client=http(), url=url, timeout_s=config.timeout_s or timeout)
        elif isinstance(config, TelegramChannelConfig):
            channel = TelegramChannel(
                name,
                client=http(),
                token=_secret(config, "token_env", env, missing),
                chat_id=config.chat_id,
                api_base=config.api_base,
                disable_web_page_preview=config.disable_web_page_preview,
                timeout_s=config.timeout_s or timeout,
            )
        else:
            password = _secret(config, "password_env", env, missing) if config.password_env else None
            if not (password or "").isascii() or not (config.username or "").isascii():
                # smtplib encodes AUTH as ASCII; fail at start-up, not on the first alert
                missing.append(f"channel {name!r}: username and {config.password_env} must be ASCII")
            channel = EmailChannel(
                name,
                host=config.host,
                port=config.port,
                from_addr=config.from_addr,
                to_addrs=config.to,
                starttls=config.starttls,
                use_ssl=config.ssl,
                username=config.username,
                password=password,
                timeout_s=config.timeout_s or timeout,
                subject_prefix=config.subject_prefix,
            )
        channels[name] = channel
    if missing:
        raise ConfigError(f"{settings.channels_path}: " + "; ".join(missing))
    return channels
