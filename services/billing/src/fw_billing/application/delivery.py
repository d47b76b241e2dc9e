"""E-mail delivery of issued documents, with retries; a failure stays visible to the office.

The address was read from the vault by the handler that issued the invoice (retention erases
the vault entry on InvoiceIssued) and waits encrypted in ``deliveries`` until the mail is out.
Only the *type* of an error is recorded, never its message (it may quote the address).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from fw_billing.domain.formatting import date_de
from fw_billing.domain.issuer import Issuer
from fw_billing.domain.retention import next_attempt

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Sending failed. ``error_type`` is recorded; ``permanent`` stops the retries."""

    def __init__(self, error_type: str, *, permanent: bool) -> None:
        super().__init__(error_type)
        self.error_type = error_type
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    body: str
    attachment: bytes
    filename: str


@dataclass(frozen=True)
class DueDelivery:
    id: int
    document_number: str
    document_type: str
    issued_at: datetime
    attempts: int
    email: str
    pdf: bytes


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    cap_seconds: float


class DeliveryStore(Protocol):
    async def claim_due(self, now: datetime) -> DueDelivery | None:
        """The oldest due delivery, locked for this transaction (other instances skip it)."""

    async def mark_sent(self, delivery_id: int, attempts: int, now: datetime) -> None:
        """Sent: the address is deleted."""

    async def mark_attempt_failed(self, delivery_id: int, attempts: int, error_type: str,
                                  now: datetime, retry_at: datetime | None) -> None:
        """``retry_at`` None: failed for good (visible at ``GET /api/deliveries?status=failed``)."""

    async def purge_failed_addresses(self, failed_before: datetime) -> int:
        """Delete the addresses of deliveries that failed before ``failed_before``."""


class MailSender(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Send or raise :class:`DeliveryError`."""


def compose(due: DueDelivery, issuer: Issuer) -> OutgoingMail:
    """The German e-mail for a document (no personal data besides the address it goes to)."""
    what = "Stornorechnung" if due.document_type == "cancellation" else "Rechnung"
    body = (f"Guten Tag,\n\nim Anhang erhalten Sie unsere {what} {due.document_number} vom "
            f"{date_de(due.issued_at)} als PDF-Datei.\n\nMit freundlichen Grüßen\n{issuer.name}\n"
            f"{issuer.address_line}\n{issuer.email}\n")
    return OutgoingMail(to=due.email, subject=f"Ihre {what} {due.document_number}", body=body,
                        attachment=due.pdf, filename=f"{due.document_number}.pdf")


async def deliver_next(store: DeliveryStore, sender: MailSender, issuer: Issuer, policy: RetryPolicy,
                       now: datetime) -> bool:
    """Try the next due delivery; False when none is due. Runs inside one transaction."""
    due = await store.claim_due(now)
    if due is None:
        return False
    attempts = due.attempts + 1
    ids = {"delivery_id": due.id, "document_number": due.document_number, "attempts": attempts}
    try:
        await sender.send(compose(due, issuer))
    except DeliveryError as exc:
        final = exc.permanent or attempts >= policy.max_attempts
        retry_at = None if final else next_attempt(attempts, now, base_seconds=policy.base_seconds,
                                                   cap_seconds=policy.cap_seconds)
        await store.mark_attempt_failed(due.id, attempts, exc.error_type, now, retry_at)
        log.warning("delivery failed" + ("" if retry_at else " for good"),
                    extra={**ids, "error": exc.error_type})
        return True
    await store.mark_sent(due.id, attempts, now)
    log.info("delivery sent", extra=ids)
    return True


async def purge_failed(store: DeliveryStore, now: datetime, keep: timedelta) -> int:
    """Forget the addresses of deliveries that failed longer than ``keep`` ago."""
    return await store.purge_failed_addresses(now - keep)
