"""Rechnungskorrektur at handler level: cancel, then a corrected invoice for the same session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fw_billing.application.cancellation import InvoiceNotFound, cancel_invoice
from fw_billing.application.correction import (
    AlreadyCorrected,
    CorrectionIncomplete,
    CorrectionRequest,
    NotCancelled,
    NotCorrectable,
    NothingToInvoice,
    RecipientRequired,
    correct_invoice,
)
from fw_billing.application.handlers import on_session_ended, on_support_request_created
from fw_billing.application.ports import Recipient
from fw_contracts.events import (
    CorrectionReason,
    CustomerType,
    InvoiceIssued,
    InvoiceKind,
    SessionEnded,
    SupportRequestCreated,
    TaxCase,
    TermsAcceptance,
)

from .documents_support import cen_failures, contains, pdf_text

STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
AUSTRIA = Recipient(company="Muster GmbH", contact_name="Erika Mustermann",
                    address={"street": "Ringstraße 1", "postal_code": "1010", "city": "Wien", "country": "AT"},
                    vat_id="ATU12345678")


async def issue(world: Any, seconds: int, *, address: bool = True) -> InvoiceIssued:
    event = SessionEnded(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-07",
                         started_at=STARTED, ended_at=STARTED + timedelta(seconds=seconds),
                         duration_seconds=seconds)
    if address:
        world.vault.store(event.request_id)
    await on_support_request_created([SupportRequestCreated(
        request_id=event.request_id, ticket="K7MQ-3XA", customer_type=CustomerType.BUSINESS,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=STARTED),
        has_billing_address=address, has_email=False)], world.uow(), deps=world.deps)
    uow = world.uow()
    await on_session_ended(event, uow, deps=world.deps)
    (issued,) = [e for e in uow.emitted if isinstance(e, InvoiceIssued)]
    return issued


async def correct(world: Any, number: str, request: CorrectionRequest) -> InvoiceIssued:
    uow = world.uow(now=LATER)
    event = await correct_invoice(number, request, uow, deps=world.deps)
    assert uow.emitted == [event]
    return event


async def test_a_duration_correction_replaces_the_cancelled_invoice_with_a_new_number(world: Any) -> None:
    original = await issue(world, 10 * 900)
    await cancel_invoice(original.invoice_number, "wrong_amount", world.uow(), deps=world.deps)
    fixed = await correct(world, original.invoice_number,
                          CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=12 * 900))
    assert fixed.invoice_number == "FW-2026-000002" and fixed.session_id == original.session_id
    assert (fixed.corrects, fixed.correction_reason, fixed.priced_seconds) == \
        (original.invoice_number, CorrectionReason.WRONG_DURATION, 12 * 900)
    assert fixed.raw_seconds == original.raw_seconds and fixed.billed_seconds == 12 * 900
    # priced by the same published tariff version, named by its hash (fw_contracts.reference)
    assert fixed.tariff_sha256 is not None and fixed.tariff_sha256 == original.tariff_sha256
    assert (fixed.kind, fixed.net_total, fixed.gross_total) == (InvoiceKind.FULL, Decimal("288.00"), Decimal("342.72"))
    stored = world.repo.invoices[fixed.invoice_number]
    assert stored.recipient is not None and stored.recipient.company == "Muster GmbH"  # from the archived copy
    rendered = world.repo.archived[fixed.invoice_number][2]
    text = pdf_text(rendered.pdf)
    assert contains(text, f"Korrektur zu Rechnung: {original.invoice_number} vom 10.03.2026")
    assert contains(text, "Abgerechnete Dauer berichtigt") and contains(text, "Muster GmbH")
    assert rendered.xml is not None and cen_failures(rendered.xml) == []
    assert f"<ram:IssuerAssignedID>{original.invoice_number}</ram:IssuerAssignedID>".encode() in rendered.xml


async def test_a_recipient_correction_can_change_the_tax_case_and_the_kind(world: Any) -> None:
    original = await issue(world, 1800)  # small: 57.12 EUR with German VAT
    assert original.kind is InvoiceKind.SMALL
    await cancel_invoice(original.invoice_number, "wrong_recipient", world.uow(), deps=world.deps)
    fixed = await correct(world, original.invoice_number,
                          CorrectionRequest(CorrectionReason.WRONG_TAX_CASE, recipient=AUSTRIA))
    assert (fixed.tax_case, fixed.kind, fixed.vat_total, fixed.gross_total) == \
        (TaxCase.REVERSE_CHARGE, InvoiceKind.FULL, Decimal("0.00"), Decimal("48.00"))
    assert "ATU12345678" not in fixed.model_dump_json()
    text = pdf_text(world.repo.archived[fixed.invoice_number][2].pdf)
    assert contains(text, "Steuerschuldnerschaft des Leistungsempfängers") and contains(text, "ATU12345678")


async def test_a_chain_of_corrections_and_every_refusal_draws_no_number(world: Any) -> None:
    original = await issue(world, 10 * 900)
    number = original.invoice_number
    with pytest.raises(NotCancelled):
        await correct(world, number, CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=900))
    with pytest.raises(CorrectionIncomplete):
        await correct(world, number, CorrectionRequest(CorrectionReason.WRONG_DURATION))
    with pytest.raises(CorrectionIncomplete):
        await correct(world, number, CorrectionRequest(CorrectionReason.WRONG_RECIPIENT))
    with pytest.raises(InvoiceNotFound):
        await correct(world, "FW-2026-999999", CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=900))
    storno = await cancel_invoice(number, "wrong_amount", world.uow(), deps=world.deps)
    with pytest.raises(NotCorrectable):
        await correct(world, storno.cancellation_number,
                      CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=900))
    with pytest.raises(NothingToInvoice):
        await correct(world, number, CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=60))
    assert world.repo.counters == {2026: 1}  # nothing issued, no number used

    first = await correct(world, number, CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=11 * 900))
    with pytest.raises(AlreadyCorrected) as again:
        await correct(world, number, CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=9 * 900))
    assert again.value.correction_number == first.invoice_number
    # the correction is cancelled in turn and corrected: the newest invoice of the session
    await cancel_invoice(first.invoice_number, "wrong_amount", world.uow(), deps=world.deps)
    second = await correct(world, first.invoice_number,
                           CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=9 * 900))
    assert (second.corrects, second.invoice_number) == (first.invoice_number, "FW-2026-000003")
    assert world.repo.counters == {2026: 3}


async def test_a_small_invoice_corrected_to_a_full_one_needs_the_recipient(world: Any) -> None:
    original = await issue(world, 1800, address=False)
    await cancel_invoice(original.invoice_number, "wrong_amount", world.uow(), deps=world.deps)
    with pytest.raises(RecipientRequired):
        await correct(world, original.invoice_number,
                      CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=20 * 900))
    given = Recipient(company="Muster GmbH", contact_name="Erika Mustermann",
                      address={"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE"})
    fixed = await correct(world, original.invoice_number, CorrectionRequest(
        CorrectionReason.WRONG_RECIPIENT, billed_seconds=20 * 900, recipient=given))
    assert fixed.kind is InvoiceKind.FULL and world.repo.invoices[fixed.invoice_number].recipient == given


async def test_the_corrected_invoice_is_delivered_the_way_the_original_was(world: Any) -> None:
    """Issue 21: like its Storno, a corrected invoice follows the original's delivery (e-mail
    while the vault keeps the address); without an e-mail delivery none is queued."""
    mailed, handed = await issue(world, 10 * 900), await issue(world, 10 * 900)
    world.repo.deliveries[mailed.invoice_number] = (mailed.request_id, None)  # it was e-mailed
    for original in (mailed, handed):
        await cancel_invoice(original.invoice_number, "wrong_amount", world.uow(), deps=world.deps)
    fixed = await correct(world, mailed.invoice_number,
                          CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=12 * 900))
    other = await correct(world, handed.invoice_number,
                          CorrectionRequest(CorrectionReason.WRONG_DURATION, billed_seconds=12 * 900))
    assert world.repo.deliveries[fixed.invoice_number] == (mailed.request_id, None)
    assert other.invoice_number not in world.repo.deliveries
