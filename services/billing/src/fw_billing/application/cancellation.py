"""Cancellation (Storno): the only way to correct an issued invoice (GoBD, §146 Abs. 4 AO).

A cancellation is a document of its own: its number comes from the cancellation series, it
references the original, every amount is negated, and it ends in ``InvoiceCancelled``. The
original invoice is never touched.
"""

from __future__ import annotations

import asyncio
import logging

from fw_billing.application.ports import BillingDeps, NewCancellation, StoredInvoice
from fw_billing.domain.delivery import SMTP_DISABLED
from fw_billing.domain.documents import (
    Correction,
    Document,
    cancellation_document,
    check_complete,
    invoice_document,
)
from fw_billing.domain.invoicing import format_invoice_number, invoice_year
from fw_contracts.events import InvoiceCancelled, InvoiceKind
from fw_platform.handling import UnitOfWork

log = logging.getLogger(__name__)


class CancelRefused(Exception):
    """The cancellation cannot be made; ``code`` names why (no personal data)."""

    code = "cancel_refused"


class InvoiceNotFound(CancelRefused):
    code = "invoice_not_found"


class NotCancellable(CancelRefused):
    """The number is itself a cancellation."""

    code = "not_cancellable"


class AlreadyCancelled(CancelRefused):
    code = "already_cancelled"

    def __init__(self, cancellation_number: str) -> None:
        super().__init__(f"already cancelled by {cancellation_number}")
        self.cancellation_number = cancellation_number


class RecipientUnavailable(CancelRefused):
    """A full invoice's recipient copy is gone (its archive year was destroyed)."""

    code = "recipient_unavailable"


def stored_invoice_document(invoice: StoredInvoice, deps: BillingDeps) -> Document:
    """The original invoice as a document (for its cancellation)."""
    return invoice_document(
        kind=invoice.kind, number=invoice.number, issued_at=invoice.issued_at,
        service_date=invoice.service_date, issuer=deps.issuer,
        recipient=invoice.recipient.party() if invoice.recipient else None, lines=invoice.lines,
        net_total=invoice.net_total, vat_rate=invoice.vat_rate, vat_total=invoice.vat_total,
        gross_total=invoice.gross_total, customer_number=invoice.customer_number,
        raw_seconds=invoice.raw_seconds, billed_seconds=invoice.billed_seconds,
        tariff_version=invoice.tariff_version, e_invoice=invoice.e_invoice, tax_case=invoice.tax_case,
        customer_name=invoice.recipient.customer_name if invoice.recipient else None,
        correction=Correction(number=invoice.corrects, issued_at=invoice.corrects_issued_at,
                              reason=invoice.correction_reason)
        if invoice.corrects and invoice.corrects_issued_at and invoice.correction_reason else None,
        work_note=invoice.work_note)


async def cancel_invoice(number: str, reason_code: str, uow: UnitOfWork, *,
                         deps: BillingDeps, acted_by: str | None = None) -> InvoiceCancelled:
    """Issue the cancellation of invoice ``number``; raises :class:`CancelRefused`.

    ``acted_by``: the office user's staff id, stored with the cancellation (not in the event,
    which carries no actor)."""
    repo = deps.repository(uow.conn)
    original = await repo.invoice_for_cancellation(number)  # locked: one cancellation wins
    if original is None:
        if await repo.is_cancellation(number):
            raise NotCancellable("a cancellation cannot be cancelled")
        raise InvoiceNotFound("no such invoice")
    existing = await repo.cancellation_of(number)
    if existing is not None:
        raise AlreadyCancelled(existing)
    if original.kind is InvoiceKind.FULL and original.recipient is None:
        raise RecipientUnavailable("the recipient copy of this invoice no longer exists")

    # As with invoices, the number is drawn in the transaction that stores the document.
    year = invoice_year(uow.now)
    seq = await repo.next_cancellation_seq(year)
    cancellation_number = format_invoice_number(deps.cancellation_format, year, seq)
    document = cancellation_document(stored_invoice_document(original, deps), number=cancellation_number,
                                     issued_at=uow.now, reason_code=reason_code)
    check_complete(document)
    rendered = await asyncio.to_thread(deps.renderer.render, document)
    event = InvoiceCancelled(
        cancellation_number=cancellation_number, invoice_number=number,
        request_id=original.request_id, cancelled_at=uow.now, reason_code=reason_code,  # type: ignore[arg-type]
        net_total=document.net_total, vat_total=document.vat_total, gross_total=document.gross_total)
    await repo.add_cancellation(NewCancellation(
        number=cancellation_number, year=year, seq=seq, invoice_number=number,
        request_id=original.request_id, reason_code=reason_code, issued_at=uow.now,
        lines=document.lines, net_total=document.net_total, vat_rate=document.vat_rate,
        vat_total=document.vat_total, gross_total=document.gross_total,
        e_invoice=document.e_invoice, event_id=event.event_id, acted_by=acted_by))
    await repo.archive(cancellation_number, "cancellation", year, rendered, uow.now)
    if await repo.has_delivery(number):
        # The Storno goes the way the invoice went (e-mail; the address from the vault while it is
        # kept; otherwise the office hands it over, and the customer's download link shows it).
        await repo.add_delivery(cancellation_number, year, original.request_id, uow.now,
                                failed_because=None if deps.email_enabled else SMTP_DISABLED)
    uow.emit(event)
    log.info("invoice cancelled", extra={"invoice_number": number,
                                         "cancellation_number": cancellation_number,
                                         "reason_code": reason_code})
    return event
