"""E-mail through SMTP (stdlib `smtplib`, run in a worker thread so the event loop never blocks).

The message is an `EmailMessage` with the default policy: the subject is RFC 2047-encoded UTF-8 and the
plain-text body is UTF-8 with a 7-bit-safe transfer encoding, so Arabic survives any relay.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from pipeline.alerts.channels.base import headline, one_line, plain_text, truncate
from pipeline.errors import DeliveryError
from pipeline.models import Alert

__all__ = ["EmailChannel", "build_message"]

log = logging.getLogger("rasd.alerts.email")

_SUBJECT_LIMIT = 200


def build_message(
    alert: Alert, *, from_addr: str, to_addrs: Sequence[str], subject_prefix: str = "[Rasd]"
) -> EmailMessage:
    """The alert as a plain-text UTF-8 e-mail; header values are single-line so nothing can be injected."""
    msg = EmailMessage()
    subject = one_line(f"{subject_prefix} {headline(alert)}: {alert.title}")
    msg["Subject"] = truncate(subject, _SUBJECT_LIMIT)
    msg["From"] = from_addr
    msg["To"] = ", ".join(to_addrs)
    msg["Date"] = formatdate(usegmt=True)
    # an explicit domain: make_msgid would otherwise call getfqdn(), a DNS lookup per message
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "rasd.invalid"
    msg["Message-ID"] = make_msgid(idstring=alert.id, domain=domain)
    msg["X-Rasd-Alert-Id"] = alert.id
    msg.set_content(plain_text(alert), charset="utf-8")
    return msg


def _code_is_transient(code: int) -> bool:
    return 400 <= code < 500


class EmailChannel:
    """Sends each alert as one message to a fixed list of recipients."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        from_addr: str,
        to_addrs: Sequence[str],
        starttls: bool = True,
        use_ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        subject_prefix: str = "[Rasd]",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.from_addr = from_addr
        self.to_addrs = list(to_addrs)
        self._starttls = starttls
        self._use_ssl = use_ssl
        self._username = username
        self._password = password
        self._timeout_s = timeout_s
        self._subject_prefix = subject_prefix
        self._tls_context = tls_context

    def _fail(self, message: str, *, transient: bool) -> DeliveryError:
        return DeliveryError(
            f"smtp {self.host}:{self.port}: {message}", channel=self.name, transient=transient
        )

    def _send_sync(self, msg: EmailMessage) -> None:
        context = self._tls_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout_s)
        with smtp:
            if self._starttls and not self._use_ssl:
                smtp.starttls(context=context)
            if self._username is not None:
                smtp.login(self._username, self._password or "")
            refused = smtp.send_message(msg)
        if refused:
            # the others got it: retrying would send them a second copy
            log.warning("alert %s refused by %s for %s", msg["X-Rasd-Alert-Id"], self.host, sorted(refused))

    async def send(self, alert: Alert) -> None:
        """Send once; 4xx SMTP replies and network errors are transient, 5xx replies are permanent."""
        msg = build_message(
            alert, from_addr=self.from_addr, to_addrs=self.to_addrs, subject_prefix=self._subject_prefix
        )
        try:
            await asyncio.to_thread(self._send_sync, msg)
        except UnicodeEncodeError as exc:  # smtplib sends AUTH credentials as ASCII only
            raise self._fail("username and password must be ASCII", transient=False) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            transient = bool(codes) and all(_code_is_transient(c) for c in codes)
            raise self._fail(f"all recipients refused {codes}", transient=transient) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth, connect, helo
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            message = f"{type(exc).__name__} {exc.smtp_code}: {one_line(str(text))[:200]}"
            raise self._fail(message, transient=_code_is_transient(exc.smtp_code)) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise self._fail(f"disconnected: {exc}", transient=True) from exc
        except smtplib.SMTPException as exc:  # STARTTLS/AUTH not offered, no usable auth method
            raise self._fail(f"{type(exc).__name__}: {exc}", transient=False) from exc
        except ssl.SSLCertVerificationError as exc:
            raise self._fail(f"TLS certificate rejected: {exc}", transient=False) from exc
        except OSError as exc:  # refused, reset, timed out, DNS
            raise self._fail(f"{type(exc).__name__}: {exc}", transient=True) from exc
