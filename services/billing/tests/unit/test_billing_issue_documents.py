"""Handlers with fakes: documents archived at issue, e-mail read before erasure, Storno."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import facturx
import pytest

from fw_billing.application.cancellation import (
    AlreadyCancelled,
    InvoiceNotFound,
    NotCancellable,
    cancel_invoice,
)
from fw_billing.application.handlers import on_session_ended, on_support_request_created
from fw_contracts.events import (
    CustomerType,
    InvoiceCancelled,
    InvoiceIssued,
    SessionEnded,
    SupportRequestCreated,
    TermsAcceptance,
)

from .documents_support import contains, pdf_text

STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
FULL = 10 * 900


def ended(seconds: int) -> SessionEnded:
    return SessionEnded(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-07",
                        started_at=STARTED, ended_at=STARTED + timedelta(seconds=seconds),
                        duration_seconds=seconds)


def created(request_id: uuid.UUID, *, email: bool = True, address: bool = True,
            customer_type: CustomerType = CustomerType.BUSINESS) -> SupportRequestCreated:
    return SupportRequestCreated(
        request_id=request_id, ticket="K7MQ-3XA", customer_type=customer_type,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=STARTED),
        has_billing_address=address, has_email=email)


async def issue(world: Any, event: SessionEnded, **facts: Any) -> InvoiceIssued:
    if facts.get("known", True):
        facts.pop("known", None)
        await on_support_request_created([created(event.request_id, **facts)], world.uow(), deps=world.deps)
    uow = world.uow()
    await on_session_ended(event, uow, deps=world.deps)
    (issued,) = [e for e in uow.emitted if isinstance(e, InvoiceIssued)]
    return issued


async def test_full_b2b_invoice_is_archived_with_its_e_invoice(world: Any) -> None:
    event = ended(FULL)
    world.vault.store(event.request_id)
    issued = await issue(world, event)
    doc_type, year, rendered = world.repo.archived[issued.invoice_number]
    assert (doc_type, year) == ("invoice", 2026) and world.repo.invoices[issued.invoice_number].e_invoice
    assert rendered.xml is not None and facturx.get_facturx_xml_from_pdf(rendered.pdf)[1] == rendered.xml
    assert contains(pdf_text(rendered.pdf), "Muster GmbH")
    # Queued without the address: the worker reads it from the vault, which keeps it (alone)
    # after InvoiceIssued until the delivery is over. The vault was read for the recipient only.
    assert world.repo.deliveries[issued.invoice_number] == (event.request_id, None)
    assert world.vault.calls == [(event.request_id, "billing")]


async def test_consumer_gets_no_e_invoice_and_an_unknown_request_counts_as_business(world: Any) -> None:
    consumer, unknown = ended(FULL), ended(FULL)
    world.vault.store(consumer.request_id)
    world.vault.store(unknown.request_id)
    a = await issue(world, consumer, customer_type=CustomerType.CONSUMER, email=False)
    b = await issue(world, unknown, known=False)
    assert world.repo.archived[a.invoice_number][2].xml is None
    assert world.repo.archived[b.invoice_number][2].xml is not None
    assert world.repo.deliveries == {}  # no e-mail given (or not known to be given)


async def test_small_invoice_queues_the_e_mail_without_reading_the_vault(world: Any) -> None:
    """Without an address the recipient is not abroad: no vault read at all; the e-mail address
    is read by the delivery worker. (With an address, the vault is read for the tax case: see
    test_billing_tax_cases.)"""
    quiet, mailed, erased = ended(1800), ended(1800), ended(1800)
    world.vault.store(mailed.request_id)
    world.vault.erased.add(erased.request_id)
    a = await issue(world, quiet, email=False, address=False)
    b = await issue(world, mailed, address=False)
    c = await issue(world, erased, address=False)  # the invoice is not held up: the worker finds out
    assert world.vault.calls == []
    assert a.invoice_number not in world.repo.deliveries
    assert world.repo.deliveries[b.invoice_number] == (mailed.request_id, None)
    assert world.repo.deliveries[c.invoice_number] == (erased.request_id, None)
    assert "Muster" not in pdf_text(world.repo.archived[b.invoice_number][2].pdf)


async def test_email_off_records_a_visible_failure_without_reading_the_vault(world: Any) -> None:
    world.deps = replace(world.deps, email_enabled=False)
    event = ended(1800)
    issued = await issue(world, event, address=False)
    assert world.repo.deliveries[issued.invoice_number] == (event.request_id, "SmtpDisabled")
    assert world.vault.calls == []


async def test_storno_flow(world: Any) -> None:
    event = ended(FULL)
    world.vault.store(event.request_id)
    issued = await issue(world, event)
    uow = world.uow(now=datetime(2026, 3, 12, 8, 0, tzinfo=UTC))
    cancelled = await cancel_invoice(issued.invoice_number, "wrong_amount", uow, deps=world.deps)
    assert uow.emitted == [cancelled] and isinstance(cancelled, InvoiceCancelled)
    assert cancelled.cancellation_number == "FW-S-2026-000001"
    assert cancelled.invoice_number == issued.invoice_number and cancelled.request_id == event.request_id
    assert (cancelled.net_total, cancelled.vat_total, cancelled.gross_total) == \
        (Decimal("-240.00"), Decimal("-45.60"), Decimal("-285.60"))
    stored = world.repo.cancellations["FW-S-2026-000001"]
    assert stored.e_invoice and all(line.net < 0 for line in stored.lines)
    doc_type, _, rendered = world.repo.archived["FW-S-2026-000001"]
    assert doc_type == "cancellation" and rendered.xml is not None and b"<ram:TypeCode>381<" in rendered.xml
    text = pdf_text(rendered.pdf)
    assert contains(text, "Muster GmbH") and contains(text, f"Storno zu Rechnung: {issued.invoice_number}")
    # The original is untouched, and it can be cancelled only once.
    assert world.repo.invoices[issued.invoice_number].gross_total == Decimal("285.60")
    with pytest.raises(AlreadyCancelled) as again:
        await cancel_invoice(issued.invoice_number, "other", world.uow(), deps=world.deps)
    assert again.value.cancellation_number == "FW-S-2026-000001"
    with pytest.raises(NotCancellable):
        await cancel_invoice("FW-S-2026-000001", "other", world.uow(), deps=world.deps)
    with pytest.raises(InvoiceNotFound):
        await cancel_invoice("FW-2026-999999", "other", world.uow(), deps=world.deps)
    assert world.repo.cancel_counters == {2026: 1}  # refusals draw no number
    # the Storno goes the way the invoice went (e-mail, the address from the vault)
    assert world.repo.deliveries["FW-S-2026-000001"] == (event.request_id, None)


async def test_storno_of_a_small_invoice_names_no_recipient(world: Any) -> None:
    issued = await issue(world, ended(1800), email=False, address=False)
    cancelled = await cancel_invoice(issued.invoice_number, "goodwill", world.uow(), deps=world.deps)
    assert cancelled.gross_total == -issued.gross_total
    assert world.repo.deliveries == {}  # no e-mail for the invoice: none for its Storno
    rendered = world.repo.archived[cancelled.cancellation_number][2]
    assert rendered.xml is None and "Rechnungsempfänger" not in pdf_text(rendered.pdf)
