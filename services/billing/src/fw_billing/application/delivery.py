"""E-mail delivery of issued documents, with retries; a failure stays visible to the office.

The address is read from the vault at each attempt (purpose ``delivery``): retention keeps it,
and only it, after InvoiceIssued until the delivery is over (LEGAL.md L21), so billing keeps no
copy that could outlive the erasure. The outcome is announced through the outbox in the
attempt's transaction: ``InvoiceDelivered`` (sent, or handed over by hand) or
``InvoiceDeliveryFailed`` (given up), and retention then erases the kept address.
Only a label of an error is recorded, never its message (it may quote the address).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from fw_billing.domain import delivery as rules
from fw_billing.domain.formatting import date_de
from fw_billing.domain.issuer import Issuer
from fw_contracts import Event
from fw_contracts.events import DeliveryChannel, InvoiceDelivered, InvoiceDeliveryFailed
from fw_platform.handling import TransientError

log = logging.getLogger(__name__)

DocumentType = Literal["invoice", "cancellation"]


class DeliveryError(Exception):
    """Sending failed. ``error_type`` (a label) is recorded; ``permanent`` stops the retries."""

    def __init__(self, error_type: str, *, permanent: bool) -> None:
        super().__init__(error_type)
        self.error_type = error_type
        self.permanent = permanent


class AddressGone(Exception):
    """The vault has no e-mail address for the request (any more): erased, or never given."""


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
    document_type: DocumentType
    issued_at: datetime
    attempts: int
    request_id: uuid.UUID | None
    pdf: bytes
    created_at: datetime
    #: Only rows written before the address moved to the vault carry it themselves.
    email: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    cap_seconds: float
    #: Retry a server that is away for this long after the invoice (match the delivery hold).
    retry_window: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class DeliveryRef:
    """A delivery as the office acts on it (no address)."""

    id: int
    document_number: str
    document_type: DocumentType
    request_id: uuid.UUID | None
    status: str
    attempts: int
    last_error_type: str | None = None


class DeliveryStore(Protocol):
    async def claim_due(self, now: datetime) -> DueDelivery | None:
        """The oldest due delivery, locked for this transaction (other instances skip it)."""

    async def mark_sent(self, delivery_id: int, attempts: int, now: datetime,
                        channel: DeliveryChannel = DeliveryChannel.EMAIL) -> None:
        """Delivered (e-mail sent or handed over by hand); any address copy is deleted."""

    async def mark_attempt_failed(self, delivery_id: int, attempts: int, error_type: str,
                                  now: datetime, retry_at: datetime | None) -> None:
        """``retry_at`` None: failed for good (visible at ``GET /api/deliveries?status=failed``)."""

    async def purge_failed_addresses(self, failed_before: datetime) -> int:
        """Delete the address copies of older rows of deliveries that failed before ``failed_before``."""

    async def lock(self, delivery_id: int) -> DeliveryRef | None:
        """The delivery, locked for this transaction; None if unknown."""

    async def requeue(self, delivery_id: int, now: datetime) -> bool:
        """A failed delivery goes back to pending."""


class DeliveryAddresses(Protocol):
    async def delivery_email(self, request_id: uuid.UUID) -> str:
        """The address the customer gave for the invoice; raises :class:`AddressGone`, or a
        TransientError when the vault is away."""


class MailSender(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Send or raise :class:`DeliveryError`."""


Emit = Callable[[Event], None]


def compose(due: DueDelivery, issuer: Issuer, to: str) -> OutgoingMail:
    """The German e-mail for a document (no personal data besides the address it goes to)."""
    what = "Stornorechnung" if due.document_type == "cancellation" else "Rechnung"
    body = (f"Guten Tag,\n\nim Anhang erhalten Sie unsere {what} {due.document_number} vom "
            f"{date_de(due.issued_at)} als PDF-Datei.\n\nMit freundlichen Grüßen\n{issuer.name}\n"
            f"{issuer.address_line}\n{issuer.email}\n")
    return OutgoingMail(to=to, subject=f"Ihre {what} {due.document_number}", body=body,
                        attachment=due.pdf, filename=f"{due.document_number}.pdf")


async def _address(due: DueDelivery, addresses: DeliveryAddresses) -> str:
    if due.email is not None:
        return due.email
    if due.request_id is None:
        raise DeliveryError(rules.ADDRESS_UNAVAILABLE, permanent=True)
    try:
        return await addresses.delivery_email(due.request_id)
    except AddressGone:
        raise DeliveryError(rules.ADDRESS_UNAVAILABLE, permanent=True) from None
    except TransientError:
        raise DeliveryError(rules.VAULT_UNAVAILABLE, permanent=False) from None


def delivered_event(ref: DueDelivery | DeliveryRef, channel: DeliveryChannel, attempts: int,
                    now: datetime) -> InvoiceDelivered | None:
    if ref.request_id is None:
        return None  # a row from before deliveries knew their request: nothing to announce
    return InvoiceDelivered(document_number=ref.document_number, document_type=ref.document_type,
                            request_id=ref.request_id, channel=channel, delivered_at=now, attempts=attempts)


async def deliver_next(store: DeliveryStore, sender: MailSender, issuer: Issuer, policy: RetryPolicy,
                       now: datetime, *, addresses: DeliveryAddresses, emit: Emit) -> bool:
    """Try the next due delivery; False when none is due. Runs inside one transaction."""
    due = await store.claim_due(now)
    if due is None:
        return False
    attempts = due.attempts + 1
    ids = {"delivery_id": due.id, "document_number": due.document_number, "attempts": attempts}
    try:
        await sender.send(compose(due, issuer, await _address(due, addresses)))
    except DeliveryError as exc:
        final = rules.gives_up(permanent=exc.permanent, attempts=attempts, max_attempts=policy.max_attempts,
                               created_at=due.created_at, now=now, retry_window=policy.retry_window)
        retry_at = None if final else rules.next_attempt(attempts, now, base_seconds=policy.base_seconds,
                                                   cap_seconds=policy.cap_seconds)
        await store.mark_attempt_failed(due.id, attempts, exc.error_type, now, retry_at)
        if final and due.request_id is not None:
            emit(InvoiceDeliveryFailed(document_number=due.document_number, document_type=due.document_type,
                                       request_id=due.request_id, failure=rules.failure_of(exc.error_type),
                                       failed_at=now, attempts=attempts))
        log.warning("delivery failed%s", "" if retry_at else " for good",
                    extra={**ids, "error": exc.error_type})
        return True
    await store.mark_sent(due.id, attempts, now)
    event = delivered_event(due, DeliveryChannel.EMAIL, attempts, now)
    if event is not None:
        emit(event)
    log.info("delivery sent", extra=ids)
    return True


class DeliveryRefused(Exception):
    """An office action that does not apply to this delivery (``code`` says why)."""

    def __init__(self, code: Literal["delivery_not_found", "not_retryable", "already_delivered"]) -> None:
        super().__init__(code)
        self.code = code


async def retry(store: DeliveryStore, delivery_id: int, now: datetime) -> None:
    """Office: send a delivery again that was never tried because SMTP was off."""
    ref = await store.lock(delivery_id)
    if ref is None:
        raise DeliveryRefused("delivery_not_found")
    if not rules.retryable(ref.status, ref.last_error_type) or not await store.requeue(delivery_id, now):
        raise DeliveryRefused("not_retryable")


async def mark_delivered_by_hand(store: DeliveryStore, delivery_id: int, now: datetime, *, emit: Emit) -> None:
    """Office: the document was handed over another way (printed, in person): it counts as
    delivered (``InvoiceDelivered`` with channel ``manual``), so the kept address goes."""
    ref = await store.lock(delivery_id)
    if ref is None:
        raise DeliveryRefused("delivery_not_found")
    if not rules.can_mark_delivered(ref.status):
        raise DeliveryRefused("already_delivered")
    await store.mark_sent(delivery_id, ref.attempts, now, DeliveryChannel.MANUAL)
    event = delivered_event(ref, DeliveryChannel.MANUAL, ref.attempts, now)
    if event is not None:
        emit(event)
    log.info("delivery marked as handed over", extra={"delivery_id": delivery_id,
                                                      "document_number": ref.document_number})


async def purge_failed(store: DeliveryStore, now: datetime, keep: timedelta) -> int:
    """Forget the address copies (older rows) of deliveries that failed longer than ``keep`` ago."""
    return await store.purge_failed_addresses(now - keep)
