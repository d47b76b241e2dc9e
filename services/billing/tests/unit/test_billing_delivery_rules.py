"""deliver_next against a fake store, sender and vault: retries, back-off, giving up, the events
that make retention erase the kept address, error labels and the office's German texts."""

from __future__ import annotations

import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fw_billing.adapters.smtp import _permanent, label
from fw_billing.application.delivery import (
    AddressGone,
    DeliveryError,
    DeliveryRef,
    DeliveryRefused,
    DueDelivery,
    OutgoingMail,
    RetryPolicy,
    compose,
    deliver_next,
    mark_delivered_by_hand,
    retry,
)
from fw_billing.domain import delivery as rules
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_contracts import Event
from fw_contracts.events import DeliveryChannel, DeliveryFailure, InvoiceDelivered, InvoiceDeliveryFailed
from fw_platform.vault_client import VaultUnavailable

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_seconds=10, cap_seconds=100, retry_window=timedelta(days=14))
RID = uuid.UUID("6f1c3c36-2f0e-4f43-9d6b-2b0c4f7e1a11")


@dataclass
class Store:
    due: DueDelivery | None
    log: list[tuple[Any, ...]] = field(default_factory=list)
    ref: DeliveryRef | None = None

    async def claim_due(self, now: datetime) -> DueDelivery | None:
        return self.due

    async def mark_sent(self, delivery_id: int, attempts: int, now: datetime,
                        channel: DeliveryChannel = DeliveryChannel.EMAIL) -> None:
        self.log.append(("sent", attempts, channel.value))

    async def mark_attempt_failed(self, delivery_id: int, attempts: int, error_type: str, now: datetime,
                                  retry_at: datetime | None) -> None:
        self.log.append(("failed", attempts, error_type, retry_at))

    async def purge_failed_addresses(self, failed_before: datetime) -> int:
        return 0

    async def lock(self, delivery_id: int) -> DeliveryRef | None:
        return self.ref

    async def requeue(self, delivery_id: int, now: datetime) -> bool:
        self.log.append(("requeued",))
        return True


@dataclass
class Sender:
    error: DeliveryError | None = None
    sent: list[OutgoingMail] = field(default_factory=list)

    async def send(self, mail: OutgoingMail) -> None:
        if self.error:
            raise self.error
        self.sent.append(mail)


@dataclass
class Vault:
    email: str | None = "kunde@example.org"
    away: bool = False
    calls: list[uuid.UUID] = field(default_factory=list)

    async def delivery_email(self, request_id: uuid.UUID) -> str:
        self.calls.append(request_id)
        if self.away:
            raise VaultUnavailable("timeout")
        if self.email is None:
            raise AddressGone("erased")
        return self.email


def due(attempts: int = 0, created_at: datetime = NOW, **more: Any) -> DueDelivery:
    return DueDelivery(id=1, document_number="FW-2026-000007", document_type="invoice", issued_at=NOW,
                       attempts=attempts, request_id=RID, pdf=b"%PDF-1.7", created_at=created_at, **more)


async def run(store: Store, sender: Sender, vault: Vault | None = None, now: datetime = NOW) -> list[Event]:
    emitted: list[Event] = []
    await deliver_next(store, sender, EXAMPLE_ISSUER, POLICY, now, addresses=vault or Vault(),
                       emit=emitted.append)
    return emitted


async def test_nothing_due() -> None:
    assert await deliver_next(Store(None), Sender(), EXAMPLE_ISSUER, POLICY, NOW, addresses=Vault(),
                              emit=lambda e: None) is False


async def test_sent_mail_is_german_carries_the_pdf_and_announces_the_delivery() -> None:
    store, sender, vault = Store(due(attempts=1)), Sender(), Vault()
    [event] = await run(store, sender, vault)
    (mail,) = sender.sent
    assert mail.subject == "Ihre Rechnung FW-2026-000007" and mail.filename == "FW-2026-000007.pdf"
    assert mail.attachment == b"%PDF-1.7" and "10.03.2026" in mail.body and mail.to == "kunde@example.org"
    assert vault.calls == [RID]  # the address comes from the vault, at the attempt
    assert store.log == [("sent", 2, "email")]
    assert isinstance(event, InvoiceDelivered)
    assert (event.document_number, event.request_id, event.channel, event.attempts) == (
        "FW-2026-000007", RID, DeliveryChannel.EMAIL, 2)
    assert "kunde" not in event.model_dump_json()
    storno = DueDelivery(**{**due().__dict__, "document_type": "cancellation"})
    assert compose(storno, EXAMPLE_ISSUER, "x@example.org").subject == "Ihre Stornorechnung FW-2026-000007"


async def test_a_server_that_is_away_is_retried_with_back_off_until_the_attempts_run_out() -> None:
    away = DeliveryError(rules.SERVER_UNREACHABLE, permanent=False)
    store = Store(due(attempts=0))
    assert await run(store, Sender(away)) == []
    store.due = due(attempts=1)
    assert await run(store, Sender(away)) == []
    store.due = due(attempts=2)
    [gave_up] = await run(store, Sender(away))
    assert store.log == [("failed", 1, "ServerUnreachable", NOW + timedelta(seconds=10)),
                         ("failed", 2, "ServerUnreachable", NOW + timedelta(seconds=20)),
                         ("failed", 3, "ServerUnreachable", None)]
    assert isinstance(gave_up, InvoiceDeliveryFailed)
    assert (gave_up.failure, gave_up.attempts, gave_up.request_id) == (DeliveryFailure.SERVER_UNREACHABLE, 3, RID)


async def test_the_retry_window_ends_the_retries() -> None:
    store = Store(due(attempts=0, created_at=NOW - timedelta(days=14)))
    [gave_up] = await run(store, Sender(DeliveryError(rules.TEMPORARY_FAILURE, permanent=False)))
    assert store.log == [("failed", 1, "TemporaryFailure", None)]
    assert isinstance(gave_up, InvoiceDeliveryFailed) and gave_up.failure is DeliveryFailure.TEMPORARY_FAILURE


async def test_permanent_failure_is_not_retried() -> None:
    store = Store(due())
    [gave_up] = await run(store, Sender(DeliveryError(rules.MAILBOX_UNKNOWN, permanent=True)))
    assert store.log == [("failed", 1, "MailboxUnknown", None)]
    assert isinstance(gave_up, InvoiceDeliveryFailed) and gave_up.failure is DeliveryFailure.MAILBOX_UNKNOWN


async def test_an_erased_address_gives_up_without_sending() -> None:
    store, sender = Store(due()), Sender()
    [gave_up] = await run(store, sender, Vault(email=None))
    assert sender.sent == [] and store.log == [("failed", 1, "AddressUnavailable", None)]
    assert isinstance(gave_up, InvoiceDeliveryFailed) and gave_up.failure is DeliveryFailure.ADDRESS_UNAVAILABLE


async def test_a_vault_that_is_away_is_retried() -> None:
    store, sender = Store(due()), Sender()
    assert await run(store, sender, Vault(away=True)) == []
    assert sender.sent == [] and store.log == [("failed", 1, "VaultUnavailable", NOW + timedelta(seconds=10))]


async def test_an_older_row_with_its_own_address_needs_no_vault() -> None:
    store, sender, vault = Store(due(email="alt@example.org")), Sender(), Vault()
    await run(store, sender, vault)
    assert sender.sent[0].to == "alt@example.org" and vault.calls == []


async def test_office_marks_a_delivery_as_handed_over() -> None:
    store = Store(None, ref=DeliveryRef(id=1, document_number="FW-2026-000007", document_type="invoice",
                                        request_id=RID, status="failed", attempts=3,
                                        last_error_type="MailboxUnknown"))
    emitted: list[Event] = []
    await mark_delivered_by_hand(store, 1, NOW, emit=emitted.append)
    assert store.log == [("sent", 3, "manual")]
    [event] = emitted
    assert isinstance(event, InvoiceDelivered) and event.channel is DeliveryChannel.MANUAL
    store.ref = DeliveryRef(**{**store.ref.__dict__, "status": "sent"})  # type: ignore[union-attr]
    with pytest.raises(DeliveryRefused) as refused:
        await mark_delivered_by_hand(store, 1, NOW, emit=emitted.append)
    assert refused.value.code == "already_delivered" and len(emitted) == 1
    store.ref = None
    with pytest.raises(DeliveryRefused) as unknown:
        await mark_delivered_by_hand(store, 1, NOW, emit=emitted.append)
    assert unknown.value.code == "delivery_not_found"


async def test_office_retries_only_what_smtp_never_tried() -> None:
    ref = DeliveryRef(id=1, document_number="FW-2026-000007", document_type="invoice", request_id=RID,
                      status="failed", attempts=0, last_error_type="SmtpDisabled")
    store = Store(None, ref=ref)
    await retry(store, 1, NOW)
    assert store.log == [("requeued",)]
    store.ref = DeliveryRef(**{**ref.__dict__, "last_error_type": "MailboxUnknown", "attempts": 1})
    with pytest.raises(DeliveryRefused) as refused:
        await retry(store, 1, NOW)
    assert refused.value.code == "not_retryable"


def test_smtp_errors_5xx_are_permanent_4xx_and_network_are_not() -> None:
    assert _permanent(smtplib.SMTPDataError(550, b"no"))
    assert not _permanent(smtplib.SMTPDataError(451, b"later"))
    assert _permanent(smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"unknown")}))
    assert not _permanent(smtplib.SMTPRecipientsRefused({"a@b.example": (452, b"full")}))
    assert not _permanent(ConnectionRefusedError())


@pytest.mark.parametrize(("exc", "expected", "text"), [
    (smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"5.1.1 unknown")}), "MailboxUnknown",
     "Postfach existiert nicht"),
    (smtplib.SMTPDataError(550, b"5.1.1 Mailbox unbekannt"), "MailboxUnknown", "Postfach existiert nicht"),
    (smtplib.SMTPDataError(554, b"5.7.1 spam"), "Rejected", "Der Mailserver hat die E-Mail abgelehnt"),
    (smtplib.SMTPDataError(451, b"4.3.0 later"), "TemporaryFailure",
     "Der Mailserver nimmt die E-Mail vorübergehend nicht an"),
    (ConnectionRefusedError(), "ServerUnreachable", "Server nicht erreichbar"),
    (TimeoutError(), "ServerUnreachable", "Server nicht erreichbar"),
    (socket.gaierror(), "ServerUnreachable", "Server nicht erreichbar"),
    (smtplib.SMTPServerDisconnected(), "ServerUnreachable", "Server nicht erreichbar"),
    (smtplib.SMTPAuthenticationError(535, b"no"), "LoginFailed",
     "Anmeldung am Mailserver fehlgeschlagen (Benutzer/Passwort prüfen)"),
    (ssl.SSLError(), "TlsFailed", "Verschlüsselte Verbindung zum Mailserver fehlgeschlagen"),
])
def test_errors_get_a_label_and_the_office_a_german_text(exc: Exception, expected: str, text: str) -> None:
    assert label(exc) == expected
    assert rules.text_de(expected) == text


def test_german_texts_of_the_office() -> None:
    assert rules.text_de("SmtpDisabled") == "SMTP ist nicht eingerichtet"
    assert rules.text_de("ConnectionRefusedError") == "Server nicht erreichbar"  # older rows
    assert rules.text_de("SomethingNew") == "Unbekannter Fehler beim Versand"
    assert rules.text_de(None) is None
    assert rules.failure_of("AddressUnavailable") is DeliveryFailure.ADDRESS_UNAVAILABLE
    assert rules.retryable("failed", "SmtpDisabled") and not rules.retryable("failed", "MailboxUnknown")
    assert rules.can_mark_delivered("pending") and not rules.can_mark_delivered("sent")


def test_back_off_doubles_and_is_capped() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    delays = [rules.next_attempt(n, now, base_seconds=30, cap_seconds=600) - now for n in range(1, 8)]
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 600, 600)]
