"""Billing blocked for want of the address: retention's billing hold, the lost claim, the audit.

Retention and billing run in-process on real NATS and PostgreSQL, each with its own NATS user
(its real permissions, including the new durables ``retention--billing_blocked`` and
``billing--personal_data_erased``); retention's sweep runs on an injected clock. The test plays
intake (vault put, ``SupportRequestCreated``) and session (``SessionEnded``,
``BillingAddressProvided``) by publishing their events.

* a request billing waits on survives the 14-day sweep and day 60 of the hold, and is erased
  when the hold ends (reason ``abandoned``); a request nobody waits on is erased at 14 days;
* billing then closes the blocked session as not billed (``recipient_data_erased``); retention
  erases nothing twice (no loop); a late ``BillingAddressProvided`` is ignored, not parked;
* ``fernwartung audit verify`` passes this history with the 90-day hold and reports the erasure
  as late when told the hold is 30 days.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio

from fw_audit.runner import Conn, verify_stream
from fw_audit.verifier import VerifyOptions
from fw_contracts import Event
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
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
from fw_contracts.vault import PersonalData
from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.vault_callers import VaultCallers
from fw_platform.vault_client import VaultRefused
from fw_retention.application import queries

sys.path.insert(0, str(Path(__file__).parent))
from inprocess_office import Clock, running_office, until
from inprocess_office import Office as InProcessOffice

Office = InProcessOffice[Clock]
E = TypeVar("E", bound=Event)
HOLD = timedelta(days=90)
FULL_SECONDS = 10 * 900  # 240.00 EUR net, 285.60 gross with the shipped tariff: a full invoice


@pytest_asyncio.fixture
async def office(fw_env: FwEnv) -> AsyncIterator[Office]:
    # three hours ago, so that the session below has ended before billing prices it
    clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
    async with running_office(fw_env, clock, "e2e-billing-hold") as run:
        yield Office(fw_env, run.nc, clock, run.retention, run.billing, run.billing_pool)


def created(request_id: uuid.UUID, at: datetime) -> SupportRequestCreated:
    return SupportRequestCreated(
        request_id=request_id, ticket="HOLD-" + request_id.hex[:3].upper().replace("0", "A"),
        customer_type=CustomerType.BUSINESS, has_billing_address=False, has_email=False,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=at), occurred_at=at)


def caller(company: str) -> PersonalData:
    return PersonalData(company=company, contact_name="Erika Musterfrau", phone="+4930123456")


async def test_blocked_billing_holds_the_data_until_the_hold_ends_then_the_claim_is_lost(office: Office) -> None:
    t0 = office.clock.now
    held, plain = uuid.uuid4(), uuid.uuid4()
    vault = VaultCallers(office.nc)  # puts as intake, reads as billing
    await vault.put(held, caller("Zurückhalt GmbH"))  # no billing address
    await vault.put(plain, caller("Nurgefragt KG"))
    await office.publish(created(held, t0))
    await office.publish(created(plain, t0))
    start = t0 + timedelta(minutes=5)
    session = SessionEnded(session_id=uuid.uuid4(), request_id=held, technician="tech-04", started_at=start,
                           ended_at=start + timedelta(seconds=FULL_SECONDS), duration_seconds=FULL_SECONDS,
                           occurred_at=start + timedelta(seconds=FULL_SECONDS))
    await office.publish(session)

    # billing needs the address for a full invoice: blocked; retention records the hold
    [blocked] = await until(lambda: office.events(BillingBlocked), "BillingBlocked")
    assert blocked.session_id == session.session_id
    await until(lambda: office.sql("retention", "SELECT blocked_at FROM billing_holds WHERE request_id = $1",
                                   held), "the billing hold in retention")

    # day 14 (+1 s): the normal request is erased as always, the held one is not
    office.clock.now = t0 + timedelta(days=14, seconds=1)
    assert await office.retention.sweep() == 1
    [first] = await until(lambda: office.events(PersonalDataErased), "the 14-day erasure")
    assert (first.request_id, first.reason) == (plain, ErasureReason.ABANDONED)
    assert (await vault.get(held, "billing")).data.company == "Zurückhalt GmbH"

    # day 60 of the hold: still held; retention says until when (the office's "gelöscht am")
    office.clock.now = blocked.occurred_at + timedelta(days=60)
    assert await office.retention.sweep() == 0
    async with office.retention.unit_of_work() as uow:
        status = await queries.request_status(office.retention.store_for(uow.conn), held,
                                              abandon_after=timedelta(days=14), billing_hold=HOLD)
    assert status["state"] == "stored" and status["erase_by"] == blocked.occurred_at + HOLD

    # the hold ends: erased (abandoned, no trigger)
    office.clock.now = blocked.occurred_at + HOLD
    assert await office.retention.sweep() == 1
    erasures = await until(lambda: _at_least(office, PersonalDataErased, 2), "the erasure at the hold's end")
    last = next(e for e in erasures if e.request_id == held)
    assert (last.reason, last.trigger_event_id, last.had_data) == (ErasureReason.ABANDONED, None, True)
    with pytest.raises(VaultRefused) as refused:
        await vault.get(held, "billing")
    assert refused.value.error.value == "erased"

    # billing closes the session: a lost claim the office sees
    [lost] = await until(lambda: office.events(SessionNotBilled), "SessionNotBilled")
    assert (lost.session_id, lost.reason, lost.raw_seconds) == (
        session.session_id, NotBilledReason.RECIPIENT_DATA_ERASED, FULL_SECONDS)
    assert lost.causation_id == last.event_id
    view = (await office.billing.get(f"/api/sessions/{session.session_id}")).json()
    assert view["status"] == "not_billed" and view["invoice_number"] is None

    # retention erases on every SessionNotBilled: here a no-op, no second event (no loop)
    await until(lambda: office.sql("retention", "SELECT count(*) FROM processed_events WHERE event_id = $1",
                                   lost.event_id), "retention to handle the SessionNotBilled")
    assert len(await office.events(PersonalDataErased)) == 2

    # the technician's address comes too late: ignored with a log line, not parked
    late = BillingAddressProvided(session_id=session.session_id, request_id=held)
    await office.publish(late)
    await until(lambda: office.sql("billing", "SELECT count(*) FROM processed_events WHERE event_id = $1",
                                   late.event_id), "billing to handle the late address")
    assert await office.sql("billing", "SELECT count(*) FROM dead_letters") == 0
    assert await office.sql("retention", "SELECT count(*) FROM dead_letters") == 0
    assert await office.events(InvoiceIssued) == []

    # the audit: on time with the office's 90-day hold, late if the hold were 30 days
    as_of = office.clock.now + timedelta(hours=2)
    report = await verify_stream(Conn(url=office.env.nats_url),
                                 VerifyOptions(), as_of=as_of)
    assert report.failed_checks == [], [c.to_dict() for c in report.checks if not c.ok]
    assert report.check("erasure").checked == 2 and not report.check("erasure").pending
    assert "1 sessions not billed because" in " ".join(report.check("invoice_totals").notes)
    shorter = await verify_stream(Conn(url=office.env.nats_url),
                                  VerifyOptions(billing_hold=timedelta(days=30)), as_of=as_of)
    assert shorter.failed_checks == ["erasure"]
    (failure,) = shorter.check("erasure").failures
    assert "after the end of the billing hold" in failure.reason and failure.ids["request_id"] == str(held)


async def _at_least(office: Office, kind: type[E], n: int) -> list[E] | None:
    found = await office.events(kind)
    return found if len(found) >= n else None
