"""Channels against real local servers: signed webhooks, Slack/Telegram payloads, SMTP; channel config."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.alerts.channels import (
    EmailChannel,
    JsonlChannel,
    LogChannel,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
    build_channels,
    load_channels,
    sign,
    verify_signature,
)
from pipeline.alerts.channels.config import BUILTIN_CHANNELS
from pipeline.alerts.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, alert_body
from pipeline.errors import ConfigError, DeliveryError
from pipeline.models import Alert
from pipeline.settings import Settings
from tests.pipeline.alerts.local_servers import HTTPTestServer, Received, Reply, make_alert

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[3]
SECRET = "s3cret-كلمة"
TOKEN = "123456:ABC-def_ghi"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as c:
        yield c


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", config_dir=tmp_path / "config")


# --- webhook -----------------------------------------------------------------------------------------


def _verifying(received: Received) -> Reply:
    ok = verify_signature(
        SECRET,
        received.headers[TIMESTAMP_HEADER.lower()],
        received.body,
        received.headers[SIGNATURE_HEADER.lower()],
    )
    return Reply(204, body=b"") if ok else Reply(401, body=b"bad signature")


async def test_webhook_posts_signed_utf8_json(client: httpx.AsyncClient) -> None:
    alert = make_alert()
    with HTTPTestServer(responder=_verifying) as server:
        await WebhookChannel("hook", client=client, url=server.url + "/rasd", secret=SECRET).send(alert)
    [request] = server.requests
    assert request.path == "/rasd"
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["x-rasd-alert-id"] == alert.id
    assert "بدء الهدنة".encode() in request.body  # UTF-8, not \u escapes
    assert json.loads(request.body) == alert.model_dump(mode="json")


async def test_webhook_with_the_wrong_secret_is_refused_permanently(client: httpx.AsyncClient) -> None:
    with HTTPTestServer(responder=_verifying) as server:
        channel = WebhookChannel("hook", client=client, url=server.url, secret="other")
        with pytest.raises(DeliveryError, match="HTTP 401") as info:
            await channel.send(make_alert())
    assert info.value.transient is False and info.value.channel == "hook"


BODY = b'{"title":"\xd8\xba\xd8\xb2\xd8\xa9"}'


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "signature", "now", "expected"),
    [
        (SECRET, "1700000000", BODY, sign(SECRET, 1_700_000_000, BODY), 1_700_000_100.0, True),
        (SECRET, 1_700_000_000, BODY, sign(SECRET.encode(), 1_700_000_000, BODY), 1_700_000_000.0, True),
        ("wrong", "1700000000", BODY, sign(SECRET, 1_700_000_000, BODY), 1_700_000_000.0, False),
        (SECRET, "1700000000", BODY + b" ", sign(SECRET, 1_700_000_000, BODY), 1_700_000_000.0, False),
        (SECRET, "1700000001", BODY, sign(SECRET, 1_700_000_000, BODY), 1_700_000_000.0, False),
        (SECRET, "1700000000", BODY, sign(SECRET, 1_700_000_000, BODY), 1_700_000_301.0, False),  # stale
        (SECRET, "1700000000", BODY, sign(SECRET, 1_700_000_000, BODY), 1_699_999_699.0, False),  # future
        (SECRET, "1700000000", BODY, sign(SECRET, 1_700_000_000, BODY)[7:], 1_700_000_000.0, False),
        (SECRET, "17e8", BODY, sign(SECRET, 1_700_000_000, BODY), 1_700_000_000.0, False),
        (SECRET, "-1", BODY, sign(SECRET, -1, BODY), -1.0, False),
        (SECRET, "1700000000", BODY, "sha256=غزة", 1_700_000_000.0, False),
    ],
)
def test_verify_signature(
    secret: str, timestamp: str | int, body: bytes, signature: str, now: float, expected: bool
) -> None:
    assert verify_signature(secret, timestamp, body, signature, tolerance_s=300, now=now) is expected


def test_signature_covers_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = alert_body(make_alert())
    digest = hmac.new(SECRET.encode(), b"42." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 42, body) == f"sha256={digest}"


# --- Slack and Telegram ------------------------------------------------------------------------------


async def test_slack_payload_shape_and_escaping(client: httpx.AsyncClient) -> None:
    with HTTPTestServer() as server:
        await SlackChannel("slack", client=client, url=server.url + "/services/T/B/X").send(make_alert())
    payload = json.loads(server.requests[0].body)
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == "غزة: بدء الهدنة في غزة &lt;b&gt;عاجل&lt;/b&gt; &amp; تبادل الأسرى"
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "section", "context"]
    assert payload["blocks"][0]["text"] == {"type": "plain_text", "text": "غزة"}
    summary = payload["blocks"][1]["text"]["text"]
    assert summary.startswith("*<https://example.org/news?id=1&amp;lang=ar|بدء الهدنة")
    assert "Source: aljazeera" in summary
    evidence = payload["blocks"][2]["text"]["text"]
    assert "• word هدنة «الهدنة» …بدء الهدنة في غزة…" in evidence
    assert "قطاع &lt;غزة&gt;" in evidence


async def test_telegram_send_message_payload(client: httpx.AsyncClient) -> None:
    with HTTPTestServer(replies=[Reply(200, body=b'{"ok":true}')]) as server:
        channel = TelegramChannel(
            "tg", client=client, token=TOKEN, chat_id=-100123, api_base=server.url + "/"
        )
        await channel.send(make_alert())
    [request] = server.requests
    assert request.path == f"/bot{TOKEN}/sendMessage"
    payload = json.loads(request.body)
    assert set(payload) == {"chat_id", "text", "parse_mode", "disable_web_page_preview"}
    assert payload["chat_id"] == -100123
    assert payload["parse_mode"] == "HTML" and payload["disable_web_page_preview"] is True
    text = payload["text"]
    assert text.splitlines()[:4] == [
        "<b>غزة</b>",
        "<b>بدء الهدنة في غزة &lt;b&gt;عاجل&lt;/b&gt; &amp; تبادل الأسرى</b>",
        "Source: aljazeera",
        '<a href="https://example.org/news?id=1&amp;lang=ar">https://example.org/news?id=1&amp;lang=ar</a>',
    ]
    assert "• word هدنة «الهدنة» …بدء الهدنة في غزة…" in text
    assert "• entity rasd:gaza-strip «غزة» قطاع &lt;غزة&gt;" in text


async def test_telegram_errors_and_logs_never_show_the_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    reply = Reply(
        400, {"Content-Type": "application/json"}, f'{{"ok":false,"description":"bad {TOKEN}"}}'.encode()
    )
    caplog.set_level(logging.INFO, logger="httpx")
    with HTTPTestServer(replies=[reply]) as server:
        channel = TelegramChannel("tg", client=client, token=TOKEN, chat_id="@desk", api_base=server.url)
        with pytest.raises(DeliveryError, match="telegram sendMessage: HTTP 400") as info:
            await channel.send(make_alert())
    assert info.value.transient is False
    assert TOKEN not in str(info.value)
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)
    assert any("/bot***/sendMessage" in r.getMessage() for r in caplog.records)


async def test_telegram_text_stays_within_the_message_limit() -> None:
    from pipeline.alerts.channels.chat import telegram_text
    from pipeline.models import Evidence

    many = [Evidence(kind="word", value=f"كلمة{i}", surface="س" * 50, snippet="ص" * 400) for i in range(60)]
    text = telegram_text(make_alert(evidence=many))
    assert len(text) <= 4096
    assert text.rstrip().endswith("more)")


async def test_a_very_long_url_keeps_chat_messages_within_their_limits() -> None:
    import re

    from pipeline.alerts.channels.chat import slack_payload, telegram_text

    for length in (1_500, 3_944):
        alert = make_alert(url="https://e.com/" + "a" * (length - len("https://e.com/")))
        sections = [b["text"]["text"] for b in slack_payload(alert)["blocks"] if b["type"] == "section"]
        assert all(len(text) <= 3000 for text in sections)
        assert "*Evidence*\n•" in sections[1]  # the evidence is still there
        text = telegram_text(alert)
        visible = re.sub(r"<[^>]+>", "", text)  # what Telegram counts once it has parsed the HTML
        assert len(visible) <= 4096 and "•" in text


# --- files ---------------------------------------------------------------------------------------------


async def test_jsonl_and_log_channels(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "deep" / "alerts.jsonl"
    channel = JsonlChannel(path)
    alert = make_alert()
    other = make_alert(id=Alert.make_id("gaza", "b" * 32), article_id="b" * 32)
    await channel.send(alert)
    await channel.send(other)
    await channel.send(alert)  # a retry whose first attempt did write: not appended again
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [alert.id, other.id]
    assert "بدء الهدنة" in lines[0]
    caplog.set_level(logging.INFO, logger="rasd.alerts")
    await LogChannel().send(alert)
    assert any("watch=gaza" in r.getMessage() and "«الهدنة»" in r.getMessage() for r in caplog.records)


async def test_jsonl_skips_alerts_already_at_the_end_of_the_file(tmp_path: Path) -> None:
    """A restarted worker re-delivers alerts it wrote but had not acknowledged: they are in the file."""
    path = tmp_path / "alerts.jsonl"
    alerts = [make_alert(id=Alert.make_id("gaza", c * 32), article_id=c * 32) for c in "abcd"]
    for alert in alerts[:3]:
        await JsonlChannel(path).send(alert)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("not json\n")
    restarted = JsonlChannel(path)
    restarted.tail_bytes = len(path.read_bytes()) - 10  # the first line is cut, so its id is not seen
    for alert in alerts:
        await restarted.send(alert)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[3] == "not json"
    a, b, c, d = (alert.id for alert in alerts)
    assert [json.loads(line)["id"] for line in lines[:3] + lines[4:]] == [a, b, c, a, d]


async def test_jsonl_into_a_directory_fails_permanently(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as info:
        await JsonlChannel(tmp_path).send(make_alert())
    assert info.value.transient is False


# --- SMTP --------------------------------------------------------------------------------------------


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Inbox]]:
    controller_module = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in the dev extra")
    from aiosmtpd.smtp import AuthResult

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = data.login == b"rasd" and data.password == b"pa55-word"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    inbox = _Inbox()
    port = _free_port()
    controller = controller_module.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


async def test_email_arabic_subject_and_body_survive(smtp_server: tuple[int, _Inbox]) -> None:
    port, inbox = smtp_server
    channel = EmailChannel(
        "mail",
        host="127.0.0.1",
        port=port,
        from_addr="Rasd <rasd@example.org>",
        to_addrs=["editors@example.org", "desk@example.org"],
        starttls=False,
        username="rasd",
        password="pa55-word",
    )
    alert = make_alert()
    await channel.send(alert)
    [(mail_from, rcpt, raw)] = inbox.messages
    assert mail_from == "rasd@example.org" and rcpt == ["editors@example.org", "desk@example.org"]
    raw.decode("ascii")  # 7-bit safe on the wire: Arabic travels encoded
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == "[Rasd] غزة: بدء الهدنة في غزة <b>عاجل</b> & تبادل الأسرى"
    assert msg["X-Rasd-Alert-Id"] == alert.id
    body = msg.get_content()
    assert "Title: بدء الهدنة في غزة" in body
    assert "- word هدنة «الهدنة» …بدء الهدنة في غزة…" in body
    assert "URL: https://example.org/news?id=1&lang=ar" in body


async def test_email_wrong_password_is_permanent(smtp_server: tuple[int, _Inbox]) -> None:
    port, _ = smtp_server
    channel = EmailChannel(
        "mail", host="127.0.0.1", port=port, from_addr="rasd@example.org", to_addrs=["e@example.org"],
        starttls=False, username="rasd", password="wrong", timeout_s=5.0,
    )  # fmt: skip
    with pytest.raises(DeliveryError, match="535") as info:
        await channel.send(make_alert())
    assert info.value.transient is False


async def test_email_starttls_not_offered_is_permanent(smtp_server: tuple[int, _Inbox]) -> None:
    port, inbox = smtp_server
    channel = EmailChannel(
        "mail", host="127.0.0.1", port=port, from_addr="rasd@example.org", to_addrs=["e@example.org"]
    )
    with pytest.raises(DeliveryError, match=r"STARTTLS|SMTPNotSupported") as info:
        await channel.send(make_alert())
    assert info.value.transient is False and not inbox.messages


async def test_email_connection_refused_is_transient() -> None:
    channel = EmailChannel(
        "mail", host="127.0.0.1", port=_free_port(), from_addr="rasd@example.org", to_addrs=["e@example.org"]
    )
    with pytest.raises(DeliveryError) as info:
        await channel.send(make_alert())
    assert info.value.transient is True


# --- configuration -----------------------------------------------------------------------------------


def test_shipped_config_loads_builtins_and_valid_examples() -> None:
    path = REPO / "config" / "channels.yaml"
    assert set(load_channels(path)) == {"log", "jsonl"}
    examples = load_channels(path, key="examples")
    assert {c.type for c in examples.values()} == {"log", "jsonl", "webhook", "slack", "telegram", "email"}


def test_missing_file_means_builtins(tmp_path: Path) -> None:
    assert load_channels(tmp_path / "nope.yaml") == dict(BUILTIN_CHANNELS)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert set(load_channels(empty)) == {"log", "jsonl"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("channels: [unclosed", "invalid YAML"),
        ("- a\n- b\n", "expected a mapping with a 'channels' list"),
        ("chanels: []", "unknown top-level key"),
        ("channels: {name: x}", "channels: expected a list"),
        ("channels: [{name: pager, type: pager}]", r"channels\[0\] \(pager\): type: must be one of"),
        ("channels: [{name: x}]", r"channels\[0\] \(x\): type: must be one of"),
        ("channels: [hook]", r"channels\[0\]: \(item\): expected a mapping"),
        ("channels: [{name: h, type: webhook, secret_env: S}]", r"channels\[0\] \(h\): url: Field required"),
        (
            "channels: [{name: h, type: webhook, url: 'https://a.b/', secret_env: S, secret: x}]",
            r"channels\[0\] \(h\): secret: Extra inputs",
        ),
        (
            "channels: [{name: h, type: webhook, url: 'https://a.b/', secret_env: 'abc def!'}]",
            r"channels\[0\] \(h\): secret_env: String should match",
        ),
        ("channels: [{name: 'a b', type: log}]", r"channels\[0\] \(a b\): name:"),
        (
            "channels: [{name: s, type: slack, url_env: A}, {name: s, type: slack, url_env: B}]",
            r"channels\[1\] \(s\): name: duplicate channel name 's'",
        ),
        ("channels: [{name: log, type: jsonl}]", r"channels\[0\] \(log\): type: the built-in channel 'log'"),
        (
            "channels: [{name: m, type: email, host: h, from_addr: a@b.c, to: []}]",
            r"channels\[0\] \(m\): to: List should have at least 1 item",
        ),
        (
            "channels: [{name: m, type: email, host: h, from_addr: a@b.c, to: [x@y.z], username: u}]",
            r"channels\[0\] \(m\): .*username and password_env go together",
        ),
        (
            "channels: [{name: t, type: telegram, token_env: T, chat_id: 1, api_base: 'ftp://x'}]",
            r"channels\[0\] \(t\): api_base: .*http\(s\) URL",
        ),
    ],
)
def test_config_errors_name_file_channel_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_channels(path)
    assert str(path) in str(info.value)


FULL = """
channels:
  - {name: jsonl, type: jsonl, path: elsewhere/alerts.jsonl}
  - {name: hook, type: webhook, url: 'https://hooks.example.org/rasd', secret_env: HOOK_SECRET}
  - {name: slack, type: slack, url_env: SLACK_URL}
  - {name: tg, type: telegram, token_env: TG_TOKEN, chat_id: '@desk'}
  - {name: mail, type: email, host: smtp.example.org, from_addr: r@example.org, to: [e@example.org],
     username: r, password_env: SMTP_PASSWORD}
"""


async def test_build_channels_reads_secrets_from_env(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(FULL, encoding="utf-8")
    env = {
        "HOOK_SECRET": "x",
        "SLACK_URL": "https://hooks.slack.com/services/T/B/X",
        "TG_TOKEN": "1:a",
        "SMTP_PASSWORD": "p",
    }
    channels = build_channels(load_channels(path), settings, env)
    assert set(channels) == {"log", "jsonl", "hook", "slack", "tg", "mail"}
    jsonl = channels["jsonl"]
    assert isinstance(jsonl, JsonlChannel) and jsonl.path == settings.data_dir / "elsewhere" / "alerts.jsonl"
    assert isinstance(channels["mail"], EmailChannel) and channels["mail"].port == 587
    assert all(ch.name == name for name, ch in channels.items())
    hook = channels["hook"]
    assert isinstance(hook, WebhookChannel)
    await hook.aclose()  # the HTTP channels share one client


def test_build_channels_names_every_unset_variable(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(FULL, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        build_channels(load_channels(path), settings, {"SLACK_URL": "not-a-url", "TG_TOKEN": "1:a"})
    message = str(info.value)
    assert "channel 'hook': secret_env: environment variable HOOK_SECRET is not set" in message
    assert "channel 'mail': password_env: environment variable SMTP_PASSWORD is not set" in message
    assert "SLACK_URL does not hold an http(s) URL" in message and "not-a-url" not in message
    assert "TG_TOKEN" not in message


def test_build_channels_refuses_a_non_ascii_smtp_password(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(FULL, encoding="utf-8")
    env = {"HOOK_SECRET": "x", "SLACK_URL": "https://h.example/x", "TG_TOKEN": "1:a", "SMTP_PASSWORD": "كلمة"}
    with pytest.raises(ConfigError, match="channel 'mail': username and SMTP_PASSWORD must be ASCII"):
        build_channels(load_channels(path), settings, env)
