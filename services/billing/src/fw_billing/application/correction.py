"""Rechnungskorrektur (LEGAL.md L18): a cancelled invoice is replaced by a corrected invoice for
the same session, with a new number from the invoice series.

The office first cancels the wrong invoice (Storno, ``cancellation.py``), then asks for the
correction with a reason: a corrected billed duration, a corrected recipient (given anew, or the
cancelled invoice's archived recipient copy) and, following from the recipient, a corrected tax
case. The corrected invoice is priced by the session's tariff version like the original and
ends in its own ``InvoiceIssued`` (``corrects``, ``correction_reason``, ``priced_seconds``), so
every number still ends in exactly one terminal event. Only the newest invoice of a session
can be corrected: an invoice already corrected points to its correction (cancel that one and
correct it instead).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fw_billing.application.cancellation import CancelRefused, InvoiceNotFound
from fw_billing.application.ports import BillingDeps, NewInvoice, Recipient
from fw_billing.application.reference import publish_issuer, publish_tariff, tariff_hash
from fw_billing.domain.delivery import SMTP_DISABLED
from fw_billing.domain.documents import Correction, check_complete, issued_invoice_document
from fw_billing.domain.invoicing import Billable, assess, format_invoice_number, invoice_year
from fw_billing.domain.tax import InvalidVatId, decide_tax_case
from fw_contracts.events import CorrectionReason, CustomerType, InvoiceIssued, InvoiceKind
from fw_platform.handling import UnitOfWork

log = logging.getLogger(__name__)


class NotCorrectable(CancelRefused):
    """The number is a cancellation: a Storno is not corrected, the invoice it cancels is."""

    code = "not_correctable"


class NotCancelled(CancelRefused):
    """The invoice is still valid: cancel it first (one valid invoice per service)."""

    code = "not_cancelled"


class AlreadyCorrected(CancelRefused):
    code = "already_corrected"

    def __init__(self, correction_number: str) -> None:
        super().__init__(f"already corrected by {correction_number}")
        self.correction_number = correction_number


class RecipientRequired(CancelRefused):
    """A full invoice needs a recipient, and neither the request nor the original has one."""

    code = "recipient_required"


class NothingToInvoice(CancelRefused):
    """The corrected duration is below the tariff's free threshold."""

    code = "nothing_to_invoice"


class CorrectionIncomplete(CancelRefused):
    """The reason names a change the request does not contain (e.g. a duration without one)."""

    code = "correction_incomplete"


class CorrectionVatIdInvalid(CancelRefused):
    code = "vat_id_invalid"


@dataclass(frozen=True)
class CorrectionRequest:
    reason: CorrectionReason
    #: The corrected duration in seconds (priced like a session of that length).
    billed_seconds: int | None = None
    #: The corrected recipient; ``None``: the cancelled invoice's recipient copy.
    recipient: Recipient | None = None
    #: The office user's staff id (stored with the corrected invoice, not in the event).
    acted_by: str | None = None


async def correct_invoice(number: str, request: CorrectionRequest, uow: UnitOfWork, *,
                          deps: BillingDeps) -> InvoiceIssued:
    """Issue the corrected invoice replacing the cancelled invoice ``number``; raises
    :class:`CancelRefused` subclasses (nothing issued, no number drawn)."""
    if request.reason is CorrectionReason.WRONG_DURATION and request.billed_seconds is None:
        raise CorrectionIncomplete("a duration correction needs the corrected duration")
    if request.reason is not CorrectionReason.WRONG_DURATION and request.recipient is None:
        raise CorrectionIncomplete("a recipient or tax case correction needs the corrected recipient")
    repo = deps.repository(uow.conn)
    original = await repo.invoice_for_cancellation(number)  # locked: one correction wins
    if original is None:
        if await repo.is_cancellation(number):
            raise NotCorrectable("a cancellation is not corrected")
        raise InvoiceNotFound("no such invoice")
    existing = await repo.correction_of(number)
    if existing is not None:
        raise AlreadyCorrected(existing)
    cancellation = await repo.cancellation_of(number)
    if cancellation is None:
        raise NotCancelled("cancel the invoice before correcting it")
    assert original.session_id is not None
    session = await repo.find_session(original.session_id)
    assert session is not None  # an invoice exists only for a recorded session
    tariff = deps.tariffs.get(original.tariff_version)
    facts = await repo.request_facts(original.request_id)

    recipient = request.recipient or original.recipient
    priced = request.billed_seconds if request.billed_seconds is not None else original.priced_seconds
    seconds = priced if priced is not None else original.raw_seconds
    address = recipient.address if recipient is not None else None
    try:
        case = decide_tax_case(
            customer_type=facts.customer_type if facts is not None else None,
            country=address.get("country", "DE") if address else None,
            vat_id=recipient.vat_id if recipient is not None else None, tariff_vat_rate=tariff.vat_rate)
    except InvalidVatId:
        raise CorrectionVatIdInvalid("the corrected recipient's VAT id is invalid") from None
    decision = assess(seconds, session.started_at, tariff, case)
    if not isinstance(decision, Billable):
        raise NothingToInvoice("the corrected duration is below the free threshold")
    if decision.needs_recipient and recipient is None:
        raise RecipientRequired("a full invoice needs the recipient")
    if decision.kind is InvoiceKind.SMALL:
        recipient = None  # §33 UStDV: a Kleinbetragsrechnung names nobody
    customer_number = original.customer_number
    if recipient is not None and customer_number and recipient.customer_name is None:
        name = await repo.customer_name(customer_number)
        recipient = Recipient(company=recipient.company, contact_name=recipient.contact_name,
                              address=recipient.address, vat_id=recipient.vat_id,
                              buyer_reference=recipient.buyer_reference, customer_name=name)
    e_invoice = (decision.kind is InvoiceKind.FULL and deps.issuer.can_issue_e_invoices
                 and (facts is None or facts.customer_type is CustomerType.BUSINESS
                      or (recipient is not None and recipient.buyer_reference is not None)))

    # Drawn last, in this transaction, as for every invoice: gapless, never reused.
    year = invoice_year(uow.now)
    seq = await repo.next_invoice_seq(year)
    new_number = format_invoice_number(deps.number_format, year, seq)
    p = decision.pricing
    if deps.reference is not None:
        # the tariff and issuer the correction names are in the stream before it (once each)
        ledger = uow.repository(deps.reference)
        await publish_tariff(ledger, uow, tariff)
        await publish_issuer(ledger, uow, deps.issuer)
    event = InvoiceIssued(
        invoice_number=new_number, session_id=original.session_id, request_id=original.request_id,
        kind=decision.kind, issued_at=uow.now, service_date=original.service_date,
        tariff_version=p.tariff_version, raw_seconds=original.raw_seconds, billed_seconds=p.billed_seconds,
        lines=p.lines, net_total=p.net_total, vat_rate=p.vat_rate, vat_total=p.vat_total,
        gross_total=p.gross_total, customer_number=customer_number, tax_case=decision.tax_case,
        corrects=number, correction_reason=request.reason, priced_seconds=priced,
        tariff_sha256=tariff_hash(tariff))
    document = issued_invoice_document(
        event, issuer=deps.issuer, recipient=recipient.party() if recipient else None, e_invoice=e_invoice,
        customer_name=recipient.customer_name if recipient else None,
        correction=Correction(number=number, issued_at=original.issued_at, reason=request.reason.value),
        work_note=original.work_note)
    check_complete(document)
    rendered = await asyncio.to_thread(deps.renderer.render, document)
    await repo.add_invoice(NewInvoice.of(event, year=year, seq=seq, recipient=recipient,
                                         e_invoice=document.e_invoice, acted_by=request.acted_by))
    await repo.archive(new_number, "invoice", year, rendered, uow.now)
    if await repo.has_delivery(number):
        # The corrected invoice goes the way the invoice it replaces went, as its Storno does
        # (e-mail, the address from the vault while it is kept; otherwise the office hands it
        # over, and the customer's download code lists it).
        await repo.add_delivery(new_number, year, original.request_id, uow.now,
                                failed_because=None if deps.email_enabled else SMTP_DISABLED)
    uow.emit(event)
    log.info("corrected invoice issued", extra={"invoice_number": new_number, "corrects": number,
                                               "reason": request.reason.value, "kind": decision.kind.value})
    return event
