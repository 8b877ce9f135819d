"""Alert delivery channels, one module per kind; `config` turns `config/channels.yaml` into them."""

from pipeline.alerts.channels.base import Channel
from pipeline.alerts.channels.chat import SlackChannel, TelegramChannel, slack_payload, telegram_payload
from pipeline.alerts.channels.config import ChannelConfig, build_channels, load_channels
from pipeline.alerts.channels.email import EmailChannel, build_message
from pipeline.alerts.channels.files import JsonlChannel, LogChannel
from pipeline.alerts.channels.webhook import WebhookChannel, sign, verify_signature

__all__ = [
    "Channel",
    "ChannelConfig",
    "EmailChannel",
    "JsonlChannel",
    "LogChannel",
    "SlackChannel",
    "TelegramChannel",
    "WebhookChannel",
    "build_channels",
    "build_message",
    "load_channels",
    "sign",
    "slack_payload",
    "telegram_payload",
    "verify_signature",
]
