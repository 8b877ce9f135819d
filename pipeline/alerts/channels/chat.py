"""Chat channels: a Slack-compatible incoming webhook and the Telegram Bot API `sendMessage`.

Payloads are built by pure functions (`slack_payload`, `telegram_payload`) so their shape is tested
without I/O; the channel classes only POST them. Article text is untrusted: it is escaped for Slack's
mrkdwn (`&`, `<`, `>`) and for Telegram's HTML parse mode, and cut to each service's length limits.
"""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Any, Final

import httpx

from pipeline.alerts.channels._http import post
from pipeline.alerts.channels.base import evidence_line, headline, one_line, truncate
from pipeline.models import Alert

__all__ = [
    "TELEGRAM_API_BASE",
    "SlackChannel",
    "TelegramChannel",
    "slack_payload",
    "telegram_payload",
    "telegram_text",
]

TELEGRAM_API_BASE: Final = "https://api.telegram.org"
_TELEGRAM_LIMIT: Final = 4096  # characters of message text
_SLACK_SECTION_LIMIT: Final = 3000  # characters of one section's text
_SLACK_HEADER_LIMIT: Final = 150
_TITLE_LIMIT: Final = 500
# a URL is shown cut to this; one longer than _LINK_LIMIT is not linked at all (its target would
# count against the message's limit, and a feed may carry URLs of up to 4,095 characters)
_URL_SHOWN: Final = 200
_LINK_LIMIT: Final = 1000
_BOT_PATH = re.compile(r"/bot[^/]+/")


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, text: str) -> str:
    target = _mrkdwn(url).replace("|", "%7C")
    return f"<{target}|{_mrkdwn(text)}>"


def _fit_lines(head: str, lines: list[str], limit: int) -> str:
    """`head` plus as many `lines` as fit in `limit` characters, noting how many were left out."""
    out = head
    for i, line in enumerate(lines):
        more = f"\n… (+{len(lines) - i} more)"
        if len(out) + 1 + len(line) + len(more) > limit:
            return out + more
        out += "\n" + line
    return out


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Incoming-webhook payload: `text` for notifications plus Block Kit `blocks` for display."""
    name = headline(alert)
    title = truncate(one_line(alert.title), _TITLE_LIMIT)
    linked = alert.url is not None and len(alert.url) <= _LINK_LIMIT
    shown_title = _slack_link(alert.url, title) if alert.url and linked else _mrkdwn(title)
    summary = [f"*{shown_title}*", f"Source: {_mrkdwn(truncate(alert.source, _TITLE_LIMIT))}"]
    if alert.url:
        summary.append(_mrkdwn(truncate(alert.url, _URL_SHOWN)))
    evidence = [f"• {_mrkdwn(evidence_line(e))}" for e in alert.evidence]
    return {
        "text": _mrkdwn(f"{name}: {title}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(name, _SLACK_HEADER_LIMIT)}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _fit_lines(summary[0], summary[1:], _SLACK_SECTION_LIMIT)},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _fit_lines("*Evidence*", evidence, _SLACK_SECTION_LIMIT)},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert `{alert.id}`"}]},
        ],
    }


def telegram_text(alert: Alert) -> str:
    """The message in Telegram's HTML parse mode, every piece of article text escaped."""
    title = html.escape(truncate(one_line(alert.title), _TITLE_LIMIT), quote=False)
    head = [f"<b>{html.escape(headline(alert), quote=False)}</b>", f"<b>{title}</b>"]
    head.append(f"Source: {html.escape(truncate(alert.source, _TITLE_LIMIT), quote=False)}")
    if alert.url:
        shown = html.escape(truncate(alert.url, _URL_SHOWN), quote=False)
        head.append(
            f'<a href="{html.escape(alert.url, quote=True)}">{shown}</a>'
            if len(alert.url) <= _LINK_LIMIT
            else shown
        )
    evidence = [f"• {html.escape(evidence_line(e), quote=False)}" for e in alert.evidence]
    return _fit_lines("\n".join(head) + "\n", evidence, _TELEGRAM_LIMIT)


def telegram_payload(
    alert: Alert, chat_id: int | str, *, disable_web_page_preview: bool = True
) -> dict[str, Any]:
    """Bot API `sendMessage` parameters."""
    return {
        "chat_id": chat_id,
        "text": telegram_text(alert),
        "parse_mode": "HTML",
        "disable_web_page_preview": disable_web_page_preview,
    }


class _RedactBotToken(logging.Filter):
    """httpx logs every request URL at INFO; a Telegram URL contains the bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                _BOT_PATH.sub("/bot***/", str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


_REDACT_FILTER: Final = _RedactBotToken()


class SlackChannel:
    """Posts to a Slack (or Slack-compatible: Mattermost, Rocket.Chat) incoming webhook."""

    def __init__(
        self, name: str, *, client: httpx.AsyncClient, url: str, timeout_s: float | None = None
    ) -> None:
        self.name = name
        self._client = client
        self._url = url  # the path is the credential: never logged or put in errors
        self._timeout_s = timeout_s

    async def send(self, alert: Alert) -> None:
        """POST the payload once; `DeliveryError` says whether a retry may help."""
        await post(
            self._client,
            self._url,
            channel=self.name,
            label="slack webhook",
            content=_json(slack_payload(alert)),
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout_s=self._timeout_s,
            redact=self._url,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class TelegramChannel:
    """Sends through the Bot API to one chat; `api_base` is configurable (tests, local Bot API servers)."""

    def __init__(
        self,
        name: str,
        *,
        client: httpx.AsyncClient,
        token: str,
        chat_id: int | str,
        api_base: str = TELEGRAM_API_BASE,
        disable_web_page_preview: bool = True,
        timeout_s: float | None = None,
    ) -> None:
        self.name = name
        self.chat_id = chat_id
        self._client = client
        self._token = token
        self._url = f"{api_base.rstrip('/')}/bot{token}/sendMessage"
        self._preview_off = disable_web_page_preview
        self._timeout_s = timeout_s
        httpx_log = logging.getLogger("httpx")
        if _REDACT_FILTER not in httpx_log.filters:
            httpx_log.addFilter(_REDACT_FILTER)

    async def send(self, alert: Alert) -> None:
        """Call `sendMessage` once; 429 carries Telegram's Retry-After, 400/403 are permanent."""
        payload = telegram_payload(alert, self.chat_id, disable_web_page_preview=self._preview_off)
        await post(
            self._client,
            self._url,
            channel=self.name,
            label="telegram sendMessage",
            content=_json(payload),
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout_s=self._timeout_s,
            redact=self._token,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
