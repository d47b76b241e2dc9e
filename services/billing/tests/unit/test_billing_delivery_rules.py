"""deliver_next against a fake store and sender: retries, back-off, final failure, error type only."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fw_billing.adapters.smtp import _permanent
from fw_billing.application.delivery import (
    DeliveryError,
    DueDelivery,
    OutgoingMail,
    RetryPolicy,
    compose,
    deliver_next,
)
from fw_billing.domain.issuer import EXAMPLE_ISSUER

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_seconds=10, cap_seconds=100)


@dataclass
class Store:
    due: DueDelivery | None
    log: list[tuple[Any, ...]] = field(default_factory=list)

    async def claim_due(self, now: datetime) -> DueDelivery | None:
        return self.due

    async def mark_sent(self, delivery_id: int, attempts: int, now: datetime) -> None:
        self.log.append(("sent", attempts))

    async def mark_attempt_failed(self, delivery_id: int, attempts: int, error_type: str, now: datetime,
                                  retry_at: datetime | None) -> None:
        self.log.append(("failed", attempts, error_type, retry_at))

    async def purge_failed_addresses(self, failed_before: datetime) -> int:
        return 0


@dataclass
class Sender:
    error: DeliveryError | None = None
    sent: list[OutgoingMail] = field(default_factory=list)

    async def send(self, mail: OutgoingMail) -> None:
        if self.error:
            raise self.error
        self.sent.append(mail)


def due(attempts: int = 0) -> DueDelivery:
    return DueDelivery(id=1, document_number="FW-2026-000007", document_type="invoice", issued_at=NOW,
                       attempts=attempts, email="kunde@example.org", pdf=b"%PDF-1.7")


async def test_nothing_due() -> None:
    assert await deliver_next(Store(None), Sender(), EXAMPLE_ISSUER, POLICY, NOW) is False


async def test_sent_mail_is_german_and_carries_the_pdf() -> None:
    store, sender = Store(due(attempts=1)), Sender()
    assert await deliver_next(store, sender, EXAMPLE_ISSUER, POLICY, NOW)
    (mail,) = sender.sent
    assert mail.subject == "Ihre Rechnung FW-2026-000007" and mail.filename == "FW-2026-000007.pdf"
    assert mail.attachment == b"%PDF-1.7" and "10.03.2026" in mail.body and mail.to == "kunde@example.org"
    assert store.log == [("sent", 2)]
    assert compose(DueDelivery(**{**due().__dict__, "document_type": "cancellation"}),
                   EXAMPLE_ISSUER).subject == "Ihre Stornorechnung FW-2026-000007"


async def test_temporary_failure_is_retried_with_back_off_then_fails_for_good() -> None:
    temporary = DeliveryError("SMTPDataError", permanent=False)
    store = Store(due(attempts=0))
    await deliver_next(store, Sender(temporary), EXAMPLE_ISSUER, POLICY, NOW)
    store.due = due(attempts=1)
    await deliver_next(store, Sender(temporary), EXAMPLE_ISSUER, POLICY, NOW)
    store.due = due(attempts=2)
    await deliver_next(store, Sender(temporary), EXAMPLE_ISSUER, POLICY, NOW)
    assert store.log == [("failed", 1, "SMTPDataError", NOW + timedelta(seconds=10)),
                         ("failed", 2, "SMTPDataError", NOW + timedelta(seconds=20)),
                         ("failed", 3, "SMTPDataError", None)]


async def test_permanent_failure_is_not_retried() -> None:
    store = Store(due())
    await deliver_next(store, Sender(DeliveryError("SMTPRecipientsRefused", permanent=True)),
                       EXAMPLE_ISSUER, POLICY, NOW)
    assert store.log == [("failed", 1, "SMTPRecipientsRefused", None)]


def test_smtp_errors_5xx_are_permanent_4xx_and_network_are_not() -> None:
    assert _permanent(smtplib.SMTPDataError(550, b"no"))
    assert not _permanent(smtplib.SMTPDataError(451, b"later"))
    assert _permanent(smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"unknown")}))
    assert not _permanent(smtplib.SMTPRecipientsRefused({"a@b.example": (452, b"full")}))
    assert not _permanent(ConnectionRefusedError())
