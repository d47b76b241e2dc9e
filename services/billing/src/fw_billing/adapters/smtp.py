"""Sending mail through the configured SMTP server (stdlib ``smtplib`` in a worker thread).

Errors become :class:`DeliveryError` with a label only (``fw_billing.domain.delivery``): server
replies and exception messages may quote the recipient's address, which must not reach a table or
a log. A 5xx reply is permanent (no retry); everything else (4xx, connection trouble) is retried.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from fw_billing.application.delivery import DeliveryError, OutgoingMail
from fw_billing.domain import delivery as labels

#: Replies that say the mailbox does not exist (RFC 5321 550/551/553, RFC 3463 X.1.x).
_NO_MAILBOX = {550, 551, 553}


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPNotSupportedError | smtplib.SMTPAuthenticationError)


def _code_and_text(exc: Exception) -> tuple[int, bytes] | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        return next(iter(exc.recipients.values()))
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, exc.smtp_error if isinstance(exc.smtp_error, bytes) else b""
    return None


def label(exc: Exception) -> str:
    """The recorded label of a sending error (never its message)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return labels.LOGIN_FAILED
    if isinstance(exc, ssl.SSLError | smtplib.SMTPNotSupportedError):
        return labels.TLS_FAILED
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return labels.SERVER_UNREACHABLE
    reply = _code_and_text(exc)
    if reply is not None:
        code, text = reply
        if code in _NO_MAILBOX and (isinstance(exc, smtplib.SMTPRecipientsRefused)
                                    or text.lstrip().startswith(b"5.1.")):
            return labels.MAILBOX_UNKNOWN
        return labels.REJECTED if code >= 500 else labels.TEMPORARY_FAILURE
    if isinstance(exc, OSError | TimeoutError):  # refused, unreachable, DNS, timeouts
        return labels.SERVER_UNREACHABLE
    return type(exc).__name__


class SmtpSender:
    """One SMTP submission per mail (no pooled connection: mails are rare)."""

    def __init__(self, *, host: str, port: int, sender: str, user: str | None = None,
                 password: str | None = None, starttls: bool = True, timeout: float = 20.0) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._user = user
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    def _message(self, mail: OutgoingMail) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = mail.to
        msg["Subject"] = mail.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self._sender.rsplit("@", 1)[-1])
        msg.set_content(mail.body)
        msg.add_attachment(mail.attachment, maintype="application", subtype="pdf", filename=mail.filename)
        return msg

    def _send_blocking(self, mail: OutgoingMail) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._user:
                smtp.login(self._user, self._password or "")
            smtp.send_message(self._message(mail))

    async def send(self, mail: OutgoingMail) -> None:
        """Send ``mail`` or raise :class:`DeliveryError` (a label only, never the message)."""
        try:
            await asyncio.to_thread(self._send_blocking, mail)
        except (smtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
            raise DeliveryError(label(exc), permanent=_permanent(exc)) from None
