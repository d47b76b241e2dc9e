"""Rules of e-mail delivery, pure: when to give up, what a failure means, how the office reads it.

An invoice is only issued once it reached the customer (LEGAL.md L21). So a delivery is retried
with back-off while the server is merely away — for as long as retention keeps the address (the
delivery hold, ``FW_RETENTION_DELIVERY_HOLD_DAYS``, which ``retry_window`` should match) — and
given up only when retrying cannot help: a permanent refusal (the mailbox does not exist), the
address is gone, or the window/attempts are used up. Giving up is announced
(``InvoiceDeliveryFailed``) so that retention erases the kept address at once.

"SMTP not configured" is no attempt and is not given up: the office can configure SMTP and send
it again while the address is kept; the delivery hold bounds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fw_contracts.events import DeliveryFailure

#: Error labels recorded in ``deliveries.last_error_type`` (never a server's message).
SMTP_DISABLED = "SmtpDisabled"
ADDRESS_UNAVAILABLE = "AddressUnavailable"
MAILBOX_UNKNOWN = "MailboxUnknown"
SERVER_UNREACHABLE = "ServerUnreachable"
REJECTED = "Rejected"
TEMPORARY_FAILURE = "TemporaryFailure"
LOGIN_FAILED = "LoginFailed"
TLS_FAILED = "TlsFailed"
VAULT_UNAVAILABLE = "VaultUnavailable"

_FAILURES: dict[str, DeliveryFailure] = {
    SMTP_DISABLED: DeliveryFailure.SMTP_DISABLED,
    ADDRESS_UNAVAILABLE: DeliveryFailure.ADDRESS_UNAVAILABLE,
    MAILBOX_UNKNOWN: DeliveryFailure.MAILBOX_UNKNOWN,
    SERVER_UNREACHABLE: DeliveryFailure.SERVER_UNREACHABLE,
    REJECTED: DeliveryFailure.REJECTED,
    TEMPORARY_FAILURE: DeliveryFailure.TEMPORARY_FAILURE,
    LOGIN_FAILED: DeliveryFailure.LOGIN_FAILED,
    TLS_FAILED: DeliveryFailure.TLS_FAILED,
    # labels of older rows (the exception's type name was recorded)
    "ConnectionRefusedError": DeliveryFailure.SERVER_UNREACHABLE,
    "TimeoutError": DeliveryFailure.SERVER_UNREACHABLE,
    "gaierror": DeliveryFailure.SERVER_UNREACHABLE,
    "SMTPConnectError": DeliveryFailure.SERVER_UNREACHABLE,
    "SMTPServerDisconnected": DeliveryFailure.SERVER_UNREACHABLE,
    "SMTPAuthenticationError": DeliveryFailure.LOGIN_FAILED,
    "SSLError": DeliveryFailure.TLS_FAILED,
    "ArchiveDestroyed": DeliveryFailure.ADDRESS_UNAVAILABLE,
}

#: What the office reads (German, no codes).
TEXT_DE: dict[DeliveryFailure, str] = {
    DeliveryFailure.SMTP_DISABLED: "SMTP ist nicht eingerichtet",
    DeliveryFailure.MAILBOX_UNKNOWN: "Postfach existiert nicht",
    DeliveryFailure.SERVER_UNREACHABLE: "Server nicht erreichbar",
    DeliveryFailure.REJECTED: "Der Mailserver hat die E-Mail abgelehnt",
    DeliveryFailure.TEMPORARY_FAILURE: "Der Mailserver nimmt die E-Mail vorübergehend nicht an",
    DeliveryFailure.LOGIN_FAILED: "Anmeldung am Mailserver fehlgeschlagen (Benutzer/Passwort prüfen)",
    DeliveryFailure.TLS_FAILED: "Verschlüsselte Verbindung zum Mailserver fehlgeschlagen",
    DeliveryFailure.ADDRESS_UNAVAILABLE: "Keine E-Mail-Adresse (mehr) gespeichert",
    DeliveryFailure.OTHER: "Unbekannter Fehler beim Versand",
}


def failure_of(error_type: str | None) -> DeliveryFailure:
    """The failure code of a recorded error label (unknown labels: ``other``)."""
    return _FAILURES.get(error_type or "", DeliveryFailure.OTHER)


def text_de(error_type: str | None) -> str | None:
    """The office's German text for a recorded error label (None: no error)."""
    return None if error_type is None else TEXT_DE[failure_of(error_type)]


def gives_up(*, permanent: bool, attempts: int, max_attempts: int, created_at: datetime, now: datetime,
             retry_window: timedelta) -> bool:
    """Whether a failed attempt ends the delivery: a permanent failure, or the attempts or the
    retry window (counted from the invoice) are used up."""
    return permanent or attempts >= max_attempts or now >= created_at + retry_window


def retryable(status: str, error_type: str | None) -> bool:
    """The office may send it again: only a delivery never tried because SMTP was off (a given-up
    one announced its failure, and retention erased the address)."""
    return status == "failed" and error_type == SMTP_DISABLED


def can_mark_delivered(status: str) -> bool:
    """Handed over by hand: possible while the e-mail is not out."""
    return status in ("pending", "failed")


def next_attempt(attempts: int, now: datetime, *, base_seconds: float, cap_seconds: float) -> datetime:
    """When to try a delivery again after ``attempts`` failed tries: exponential, capped."""
    delay = min(base_seconds * (2 ** max(attempts - 1, 0)), cap_seconds)
    return now + timedelta(seconds=delay)
