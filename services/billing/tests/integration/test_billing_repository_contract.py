"""One contract for billing's repository, run against the in-memory ``FakeRepository`` the
handler tests use and against ``SqlBillingRepository`` on the fixture PostgreSQL.

What the handlers rely on: a session is claimed once (first seen wins) and its case saved; blocked
sessions are found by request; numbers run 1, 2, … per year and roll back with a savepoint;
invoices, recipients, documents, deliveries, request facts, customer accounts and cancellations
read back as written. Each PostgreSQL case runs in a transaction that is rolled back.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from fw_billing.adapters.keys import KeyPurpose, KeyRing, open_sealed
from fw_billing.adapters.repository import SqlBillingRepository
from fw_billing.adapters.sealed import archive_pdf_aad, archive_xml_aad
from fw_billing.application.ports import (
    BillingRepository,
    NewCancellation,
    NewCustomerAccount,
    NewInvoice,
    Recipient,
    RenderedDocument,
    RequestFacts,
    SessionRecord,
)
from fw_billing.bootstrap import MIGRATIONS
from fw_contracts.billing_case import BillingStatus
from fw_contracts.events import BlockReason, CustomerType, InvoiceKind, InvoiceLine, TaxCase
from fw_devenv.provision import provision
from fw_devenv.pytest_plugin import TEST_DB_PASSWORDS
from fw_platform.db import create_pool, migrate

from ..unit.fakes import FakeRepository

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
_databases = itertools.count(1)
#: Any 32-byte archive master key (base64).
TEST_ARCHIVE_KEY = base64.b64encode(b"k" * 32).decode()


@pytest_asyncio.fixture(scope="module")
async def billing_pool(pg_server: Any) -> AsyncIterator[asyncpg.Pool]:
    """A database of its own with billing's schema migrated (once for the module)."""
    database = f"fwrc{os.getpid()}_{next(_databases)}"
    dsns = await provision(pg_server.admin_dsn, database, {"billing": TEST_DB_PASSWORDS["billing"]})
    pool = await create_pool(dsns["billing"], "billing", min_size=1, max_size=2)
    await migrate(pool, "billing", MIGRATIONS)
    try:
        yield pool
    finally:
        await pool.close()


class Rollback(Exception):
    """Ends a PostgreSQL case: everything it wrote is rolled back."""


@pytest_asyncio.fixture(params=["fake", "postgres"])
async def repo(request: pytest.FixtureRequest, billing_pool: asyncpg.Pool) -> AsyncIterator[BillingRepository]:
    if request.param == "fake":
        yield FakeRepository()
        return
    pool = billing_pool
    keys = KeyRing(base64.b64decode(TEST_ARCHIVE_KEY))
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            yield SqlBillingRepository(conn, keys)
        finally:
            await tx.rollback()


def pending(**changes: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "session_id": uuid.uuid4(), "request_id": uuid.uuid4(), "started_at": STARTED,
        "ended_at": STARTED + timedelta(seconds=1800), "raw_seconds": 1800, "promoted": False,
        "tariff_version": "2026-01", "status": BillingStatus.PENDING, "source_event_id": uuid.uuid4()}
    return SessionRecord(**{**values, **changes})


LINE = InvoiceLine(description="Fernwartung je angefangene 15 Min.", quantity=Decimal(2), unit="C62",
                   unit_price=Decimal("24.00"), net=Decimal("48.00"))
RECIPIENT = Recipient(company="Beispiel AG", contact_name="Max Beispiel",
                      address={"street": "Ring 5", "postal_code": "80331", "city": "München", "country": "DE"},
                      vat_id=None, buyer_reference=None, customer_name=None)


def invoice(case: SessionRecord, number: str, seq: int, *, kind: InvoiceKind = InvoiceKind.SMALL,
            recipient: Recipient | None = None, **changes: Any) -> NewInvoice:
    values: dict[str, Any] = {
        "number": number, "year": 2026, "seq": seq, "session_id": case.session_id,
        "request_id": case.request_id, "kind": kind, "issued_at": AT, "service_date": case.ended_at,
        "tariff_version": "2026-01", "raw_seconds": 1800, "billed_seconds": 1800, "lines": (LINE,),
        "net_total": Decimal("48.00"), "vat_rate": Decimal("0.19"), "vat_total": Decimal("9.12"),
        "gross_total": Decimal("57.12"), "customer_number": None, "event_id": uuid.uuid4(),
        "recipient": recipient, "e_invoice": False, "tax_case": TaxCase.DOMESTIC}
    return NewInvoice(**{**values, **changes})


# ------------------------------------------------------------------ sessions
async def test_a_session_is_claimed_once_and_the_first_seen_wins(repo: BillingRepository) -> None:
    first = pending()
    assert await repo.claim_session(first) == first
    again = replace(first, tariff_version="2099-01", source_event_id=uuid.uuid4())
    assert await repo.claim_session(again) == first
    assert await repo.find_session(first.session_id) == first
    assert await repo.find_session(uuid.uuid4()) is None


async def test_a_saved_case_reads_back_as_saved(repo: BillingRepository) -> None:
    case = await repo.claim_session(pending())
    blocked = replace(case, status=BillingStatus.BLOCKED, block_reason=BlockReason.DOCUMENT_RENDER_FAILED)
    await repo.save_case(blocked, AT)
    assert await repo.find_session(case.session_id) == blocked
    closed = replace(blocked, status=BillingStatus.NOT_BILLED)  # a lost claim keeps why it was blocked
    await repo.save_case(closed, AT)
    assert await repo.find_session(case.session_id) == closed
    assert closed.outcome.block_reason is None  # the fold shows a reason only while blocked


async def test_blocked_sessions_are_found_by_request_in_session_order(repo: BillingRepository) -> None:
    request_id = uuid.uuid4()
    cases = [await repo.claim_session(pending(request_id=request_id)) for _ in range(3)]
    blocked = [replace(c, status=BillingStatus.BLOCKED, block_reason=BlockReason.BILLING_ADDRESS_MISSING)
               for c in cases[:2]]
    for c in blocked:
        await repo.save_case(c, AT)
    await repo.save_case(replace(cases[2], status=BillingStatus.INVOICED), AT)
    assert await repo.blocked_sessions_for([request_id]) == sorted(blocked, key=lambda c: c.session_id)
    assert await repo.blocked_sessions_for([uuid.uuid4()]) == []
    other = await repo.claim_session(pending(request_id=uuid.uuid4()))
    other = replace(other, status=BillingStatus.BLOCKED, block_reason=BlockReason.BILLING_ADDRESS_MISSING)
    await repo.save_case(other, AT)
    assert await repo.blocked_sessions_for([request_id, other.request_id, uuid.uuid4()]) == sorted(
        [*blocked, other], key=lambda c: c.session_id)


# ------------------------------------------------------------------ numbers
async def test_numbers_run_per_year_and_a_savepoint_gives_them_back(repo: BillingRepository) -> None:
    assert [await repo.next_invoice_seq(2026) for _ in range(3)] == [1, 2, 3]
    assert await repo.next_invoice_seq(2027) == 1
    drawn: list[int] = []

    async def issue_and_fail() -> None:
        async with repo.savepoint():
            drawn.append(await repo.next_invoice_seq(2026))
            raise RuntimeError("issuing failed")

    with pytest.raises(RuntimeError, match="issuing failed"):
        await issue_and_fail()
    assert drawn == [4]
    assert await repo.next_invoice_seq(2026) == 4
    assert [await repo.next_cancellation_seq(2026) for _ in range(2)] == [1, 2]


async def test_issuing_draws_the_number_with_the_note_and_gives_the_number_back_on_failure(
        repo: BillingRepository) -> None:
    session_id = uuid.uuid4()

    async def issue_and_fail() -> None:
        async with repo.issuing(session_id):
            assert await repo.next_invoice_seq_with_note(2030, session_id) == (1, None)
            raise RuntimeError("issuing failed")

    with pytest.raises(RuntimeError, match="issuing failed"):
        await issue_and_fail()
    async with repo.issuing(session_id):
        assert await repo.next_invoice_seq_with_note(2030, session_id) == (1, None)
    assert await repo.next_invoice_seq(2030) == 2


# ------------------------------------------------------------------ invoices
async def test_an_invoice_reads_back_as_written_with_its_recipient(repo: BillingRepository) -> None:
    case = await repo.claim_session(pending())
    small = await repo.claim_session(pending())
    full = invoice(case, "FW-2026-000001", 1, kind=InvoiceKind.FULL, recipient=RECIPIENT,
                   gross_total=Decimal("285.60"), net_total=Decimal("240.00"), vat_total=Decimal("45.60"),
                   lines=(replace_line(Decimal(10), Decimal("240.00")),), e_invoice=True)
    await repo.add_invoice(full)
    await repo.add_invoice(invoice(small, "FW-2026-000002", 2))
    stored = await repo.invoice_for_cancellation("FW-2026-000001")
    assert stored is not None
    assert (stored.number, stored.year, stored.request_id, stored.kind, stored.issued_at, stored.service_date) == (
        full.number, 2026, case.request_id, InvoiceKind.FULL, AT, case.ended_at)
    assert (stored.lines, stored.net_total, stored.vat_rate, stored.vat_total, stored.gross_total) == (
        full.lines, full.net_total, full.vat_rate, full.vat_total, full.gross_total)
    assert (stored.recipient, stored.e_invoice, stored.tax_case, stored.session_id) == (
        RECIPIENT, True, TaxCase.DOMESTIC, case.session_id)
    kleinbetrag = await repo.invoice_for_cancellation("FW-2026-000002")
    assert kleinbetrag is not None and kleinbetrag.kind is InvoiceKind.SMALL and kleinbetrag.recipient is None
    assert await repo.invoice_for_cancellation("FW-2026-999999") is None


def replace_line(quantity: Decimal, net: Decimal) -> InvoiceLine:
    return InvoiceLine(description=LINE.description, quantity=quantity, unit="C62", unit_price=LINE.unit_price,
                       net=net)


async def test_a_correction_names_the_invoice_it_corrects(repo: BillingRepository) -> None:
    case = await repo.claim_session(pending())
    await repo.add_invoice(invoice(case, "FW-2026-000001", 1))
    assert await repo.correction_of("FW-2026-000001") is None
    await repo.add_invoice(invoice(case, "FW-2026-000002", 2, corrects="FW-2026-000001",
                                   correction_reason="wrong_duration", priced_seconds=900))
    assert await repo.correction_of("FW-2026-000001") == "FW-2026-000002"
    corrected = await repo.invoice_for_cancellation("FW-2026-000002")
    assert corrected is not None
    assert (corrected.corrects, corrected.correction_reason, corrected.priced_seconds, corrected.corrects_issued_at) == (
        "FW-2026-000001", "wrong_duration", 900, AT)


async def test_cancellations_are_known_by_both_numbers(repo: BillingRepository) -> None:
    case = await repo.claim_session(pending())
    await repo.add_invoice(invoice(case, "FW-2026-000001", 1))
    assert await repo.cancellation_of("FW-2026-000001") is None
    await repo.add_cancellation(NewCancellation(
        number="FW-S-2026-000001", year=2026, seq=1, invoice_number="FW-2026-000001",
        request_id=case.request_id, reason_code="wrong_amount", issued_at=AT, lines=(LINE,),
        net_total=Decimal("-48.00"), vat_rate=Decimal("0.19"), vat_total=Decimal("-9.12"),
        gross_total=Decimal("-57.12"), e_invoice=False, event_id=uuid.uuid4()))
    assert await repo.cancellation_of("FW-2026-000001") == "FW-S-2026-000001"
    assert await repo.is_cancellation("FW-S-2026-000001")
    assert not await repo.is_cancellation("FW-2026-000001")
    assert await repo.invoice_for_cancellation("FW-S-2026-000001") is None


async def test_documents_and_deliveries(repo: BillingRepository) -> None:
    case = await repo.claim_session(pending())
    await repo.add_invoice(invoice(case, "FW-2026-000001", 1))
    await repo.archive("FW-2026-000001", "invoice", 2026, RenderedDocument(pdf=b"%PDF-1.7 test"), AT)
    assert not await repo.has_delivery("FW-2026-000001")
    await repo.add_delivery("FW-2026-000001", 2026, case.request_id, AT)
    assert await repo.has_delivery("FW-2026-000001")


# ------------------------------------------------------------------ requests and customers
async def test_request_facts_first_seen_wins(repo: BillingRepository) -> None:
    facts = RequestFacts(request_id=uuid.uuid4(), customer_type=CustomerType.CONSUMER, has_email=True,
                         has_billing_address=False, recorded_at=AT, download_sha256="e" * 64, ticket="K7MQ-3XA")
    await repo.record_requests([facts])
    await repo.record_requests([replace(facts, customer_type=CustomerType.BUSINESS, has_email=False)])
    assert await repo.request_facts(facts.request_id) == facts
    assert await repo.request_facts(uuid.uuid4()) is None
    # a run: each request's first copy wins, in the run too
    run = [replace(facts, request_id=uuid.uuid4(), download_sha256=None) for _ in range(3)]
    await repo.record_requests([run[0], run[1], replace(run[0], has_email=False), run[2], facts])
    assert [await repo.request_facts(f.request_id) for f in run] == run
    assert await repo.request_facts(facts.request_id) == facts


async def test_billing_inputs_after_a_claim_are_those_read_alone(repo: BillingRepository) -> None:
    # (the PostgreSQL repository reads them with the claim's statement)
    facts = RequestFacts(request_id=uuid.uuid4(), customer_type=CustomerType.CONSUMER, has_email=True,
                         has_billing_address=False, recorded_at=AT, download_sha256=None, ticket="K7MQ-3XA")
    await repo.record_requests([facts])
    await repo.claim_session(pending(request_id=facts.request_id))
    assert await repo.billing_inputs(facts.request_id) == (None, facts)
    assert await repo.billing_inputs(facts.request_id) == (None, facts)  # and again, read alone
    unknown = uuid.uuid4()
    await repo.claim_session(pending(request_id=unknown))
    assert await repo.billing_inputs(unknown) == (None, None)
    # an account of the request, without facts recorded
    regular = uuid.uuid4()
    await repo.lock_customer(regular)
    number = await repo.add_customer(NewCustomerAccount(
        request_id=regular, session_id=uuid.uuid4(), company="Beispiel AG", contact_name="Max Beispiel",
        phone="+4989123456", email=None, address=None, statement="Wir möchten Stammkunde werden.",
        stated_at=AT, technician="tech-03", created_at=AT))
    await repo.claim_session(pending(request_id=regular))
    assert await repo.billing_inputs(regular) == (number, None)


async def test_customer_accounts_get_new_numbers_and_their_company(repo: BillingRepository) -> None:
    def account(company: str) -> NewCustomerAccount:
        return NewCustomerAccount(
            request_id=uuid.uuid4(), session_id=uuid.uuid4(), company=company, contact_name="Max Beispiel",
            phone="+4989123456", email=None, address=None, statement="Wir möchten Stammkunde werden.",
            stated_at=AT, technician="tech-03", created_at=AT)

    first, second = account("Beispiel AG"), account("Muster GmbH")
    await repo.lock_customer(first.request_id)
    one = await repo.add_customer(first)
    two = await repo.add_customer(second)
    # numbers are never given back (a sequence): only their form and order are the contract
    assert re.fullmatch(r"K[0-9]{5,}", one) and re.fullmatch(r"K[0-9]{5,}", two) and two > one
    assert await repo.customer_number_for(first.request_id) == one
    assert await repo.customer_number_for(uuid.uuid4()) is None
    facts = RequestFacts(request_id=first.request_id, customer_type=CustomerType.BUSINESS, has_email=False,
                         has_billing_address=True, recorded_at=AT, download_sha256=None, ticket="K7MQ-3XA")
    assert await repo.billing_inputs(first.request_id) == (one, None)
    await repo.record_requests([facts])
    assert await repo.billing_inputs(first.request_id) == (one, facts)
    await repo.record_requests([replace(facts, request_id=second.request_id)])
    assert await repo.billing_inputs(second.request_id) == (two, replace(facts, request_id=second.request_id))
    alone = replace(facts, request_id=uuid.uuid4())
    await repo.record_requests([alone])
    assert await repo.billing_inputs(alone.request_id) == (None, alone)
    assert await repo.billing_inputs(uuid.uuid4()) == (None, None)
    assert await repo.customer_name(two) == "Muster GmbH"
    assert await repo.customer_name("K99999") is None


# ------------------------------------------------------------------ statements (PostgreSQL only)
async def _logged(queries: list[str]) -> list[str]:
    """The statements logged so far (asyncpg calls its query loggers soon after, not during)."""
    for _ in range(3):
        await asyncio.sleep(0)
    return queries


async def test_issuing_takes_one_statement_per_step_and_reads_back(billing_pool: asyncpg.Pool) -> None:
    """Claim, number, invoice (with the year's archive key) and archive: one round trip each; the
    recipient copy and both archived documents are sealed with the key read along."""
    keys = KeyRing(base64.b64decode(TEST_ARCHIVE_KEY))
    async with billing_pool.acquire() as conn:
        queries: list[str] = []
        conn.add_query_logger(lambda q: queries.append(q.query) if "pg_type" not in q.query else None)
        tx = conn.transaction()
        await tx.start()
        try:
            first = SqlBillingRepository(conn, keys)
            case = await first.claim_session(pending())
            await first.add_invoice(invoice(case, "FW-2026-000001", await first.next_invoice_seq(2026)))
            await first.archive("FW-2026-000001", "invoice", 2026, RenderedDocument(pdf=b"%PDF-1"), AT)
            (await _logged(queries)).clear()  # the year's key exists from here on

            repo = SqlBillingRepository(conn, keys)
            case = await repo.claim_session(pending())
            seq = await repo.next_invoice_seq(2026)
            full = invoice(case, "FW-2026-000002", seq, kind=InvoiceKind.FULL, recipient=RECIPIENT)
            await repo.add_invoice(full)
            await repo.archive(full.number, "invoice", 2026, RenderedDocument(pdf=b"%PDF-2", xml=b"<x/>"), AT)
            assert len(await _logged(queries)) == 5, queries  # claim, number, invoice, recipient, archive
            assert seq == 2
            stored = await repo.invoice_for_cancellation(full.number)
            assert stored is not None and stored.recipient == RECIPIENT
            row = await conn.fetchrow("SELECT pdf_enc, xml_enc FROM invoice_archive WHERE document_number = $1",
                                      full.number)
            key = await keys.existing_key(conn, KeyPurpose.ARCHIVE, 2026)
            assert open_sealed(key, archive_pdf_aad(full.number), bytes(row["pdf_enc"])) == b"%PDF-2"
            assert open_sealed(key, archive_xml_aad(full.number), bytes(row["xml_enc"])) == b"<x/>"
        finally:
            await tx.rollback()
