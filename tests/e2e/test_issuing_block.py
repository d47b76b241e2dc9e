"""Issue 14, finding 1 / deliverable 2 over real NATS and PostgreSQL: a document that cannot be
rendered blocks billing with a reason; nothing is parked; retention holds, then erases; billing
records the lost claim.

Retention and billing run in-process, each with its own NATS user (as in ``test_billing_hold``);
retention's sweep runs on an injected clock. The test plays intake by writing straight into the
vault (intake's edge now refuses the issue's ``"A\\u0000B"``, but a vault may hold such data from
before) and publishing ``SupportRequestCreated``, and plays session by publishing ``SessionEnded``.
The CII renderer's last line of defence (``xml_text``) is switched off, so that lxml refuses the
NUL character for real, as it did when the issue was found.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from fw_audit.runner import Conn, verify_stream
from fw_audit.verifier import VerifyOptions
from fw_billing.adapters import cii
from fw_contracts.events import (
    BillingBlocked,
    BlockReason,
    CustomerType,
    ErasureReason,
    InvoiceIssued,
    NotBilledReason,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
    SupportRequestCreated,
    TermsAcceptance,
)
from fw_contracts.vault import Address, PersonalData
from fw_contracts.wire import VaultCaller
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.vault_client import VaultClient, VaultRefused
from fw_retention.application import queries

sys.path.insert(0, str(Path(__file__).parent))
from inprocess_office import Clock, running_office, until
from inprocess_office import Office as InProcessOffice

Office = InProcessOffice[Clock]
HOLD = timedelta(days=90)
FULL_SECONDS = 10 * 900  # 285.60 EUR gross with the shipped tariff: a full invoice with the CII XML


@pytest_asyncio.fixture
async def office(fw_env: FwEnv, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Office]:
    monkeypatch.setattr(cii, "xml_text", lambda text: text)  # as before the renderer's hardening
    clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
    async with running_office(fw_env, clock, "e2e-issuing-block") as run:
        yield Office(fw_env, run.nc, clock, run.retention, run.billing, run.billing_pool)


async def test_a_document_that_cannot_be_rendered_blocks_billing_then_the_hold_ends(office: Office) -> None:
    t0 = office.clock.now
    request_id = uuid.uuid4()
    # the repro, written past the edge as an older intake would have stored it
    data = PersonalData(company="Steuerzeichen GmbH", contact_name="A\u0000B", phone="+4930123456",
                        address=Address(street="Hauptstr. 1", postal_code="10115", city="Berlin"))
    vault = VaultClient(office.nc, VaultCaller.INTAKE)  # admin, writing as intake would
    await vault.put(request_id, data)
    await office.publish(SupportRequestCreated(
        request_id=request_id, ticket="BLCK-" + request_id.hex[:3].upper().replace("0", "A"),
        customer_type=CustomerType.BUSINESS, has_billing_address=True, has_email=False,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=t0), occurred_at=t0))
    start = t0 + timedelta(minutes=5)
    session = SessionEnded(session_id=uuid.uuid4(), request_id=request_id, technician="tech-04", started_at=start,
                           ended_at=start + timedelta(seconds=FULL_SECONDS), duration_seconds=FULL_SECONDS,
                           occurred_at=start + timedelta(seconds=FULL_SECONDS))
    await office.publish(session)

    # billing: blocked with the reason, published through the outbox; nothing parked
    [blocked] = await until(lambda: office.events(BillingBlocked), "BillingBlocked")
    assert (blocked.session_id, blocked.request_id) == (session.session_id, request_id)
    assert (blocked.reason, blocked.missing) == (BlockReason.DOCUMENT_RENDER_FAILED, ())
    assert blocked.causation_id == session.event_id
    await until(lambda: office.sql("billing", "SELECT count(*) FROM processed_events WHERE event_id = $1",
                                   session.event_id), "billing to ack the session's end")
    assert await office.sql("billing", "SELECT count(*) FROM dead_letters") == 0
    assert await office.sql("billing", "SELECT count(*) FROM invoices") == 0
    assert await office.sql("billing", "SELECT coalesce(max(last_seq), 0) FROM invoice_counters") == 0
    view = (await office.billing.get(f"/api/sessions/{session.session_id}")).json()
    assert (view["status"], view["block_reason"], view["invoice_number"]) == (
        "blocked", "document_render_failed", None)
    assert "A\\u0000B" not in str(view) and "Steuerzeichen" not in str(view)

    # retention holds the request for the billing hold (the same rule as the address hold)
    await until(lambda: office.sql("retention", "SELECT blocked_at FROM billing_holds WHERE request_id = $1",
                                   request_id), "the billing hold in retention")
    office.clock.now = t0 + timedelta(days=14, seconds=1)
    assert await office.retention.sweep() == 0  # not erased as abandoned after 14 days
    async with office.retention.unit_of_work() as uow:
        status = await queries.request_status(office.retention.store_for(uow.conn), request_id,
                                              abandon_after=timedelta(days=14), billing_hold=HOLD)
    assert status["state"] == "stored" and status["erase_by"] == blocked.occurred_at + HOLD

    # the hold ends: erased, and billing records the lost claim
    office.clock.now = blocked.occurred_at + HOLD
    assert await office.retention.sweep() == 1
    [erased] = await until(lambda: office.events(PersonalDataErased), "the erasure at the hold's end")
    assert (erased.request_id, erased.reason, erased.had_data) == (request_id, ErasureReason.ABANDONED, True)
    with pytest.raises(VaultRefused):
        await VaultClient(office.nc, VaultCaller.BILLING).get(request_id, "billing")
    [lost] = await until(lambda: office.events(SessionNotBilled), "SessionNotBilled")
    assert (lost.session_id, lost.reason) == (session.session_id, NotBilledReason.RECIPIENT_DATA_ERASED)
    view = (await office.billing.get(f"/api/sessions/{session.session_id}")).json()
    assert view["status"] == "not_billed" and view["block_reason"] == "document_render_failed"
    await until(lambda: office.sql("retention", "SELECT count(*) FROM processed_events WHERE event_id = $1",
                                   lost.event_id), "retention to handle the SessionNotBilled")
    assert len(await office.events(PersonalDataErased)) == 1  # no second erasure, no loop
    assert await office.sql("billing", "SELECT count(*) FROM dead_letters") == 0
    assert await office.sql("retention", "SELECT count(*) FROM dead_letters") == 0
    assert await office.events(InvoiceIssued) == []

    # the audit reads the v2 block like the address hold: erased on time, a lost claim explained
    report = await verify_stream(Conn(url=office.env.nats_url),
                                 VerifyOptions(),
                                 as_of=office.clock.now + timedelta(hours=2))
    assert report.failed_checks == [], [c.to_dict() for c in report.checks if not c.ok]
