"""Erasure handlers, the deadline sweep and restore safety with an in-memory store."""

from __future__ import annotations

import copy
import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fw_contracts.events import (
    ErasureReason,
    InvoiceIssued,
    InvoiceKind,
    NotBilledReason,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_contracts.vault import PutRequest
from fw_platform import metrics

from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.application import queries, vault
from fw_retention.application.erasure import ErasureHandlers, sweep_abandoned
from fw_retention.application.ports import ErasureRecord
from fw_retention.application.restore import reapply_erasure_log

from retention_testkit import Clock, FakeUnitsOfWork, FakeVaultStore, personal_data

ABANDON = timedelta(days=14)


def invoice_issued(rid: uuid.UUID, **changes: object) -> InvoiceIssued:
    t = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    fields: dict[str, object] = dict(
        invoice_number="RE-2025-0001", session_id=uuid.uuid4(), request_id=rid, kind=InvoiceKind.SMALL,
        issued_at=t, service_date=t, tariff_version="2025-01", raw_seconds=600, billed_seconds=900,
        lines=(), net_total=Decimal("25.00"), vat_rate=Decimal("0.19"), vat_total=Decimal("4.75"),
        gross_total=Decimal("29.75"))
    fields.update(changes)
    return InvoiceIssued(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store() -> FakeVaultStore:
    return FakeVaultStore()


@pytest.fixture
def uows(store: FakeVaultStore) -> FakeUnitsOfWork:
    return FakeUnitsOfWork(store)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handlers(store: FakeVaultStore, clock: Clock) -> ErasureHandlers:
    return ErasureHandlers(store.for_conn, clock)


async def stored(uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock) -> uuid.UUID:
    rid = uuid.uuid4()
    async with uows():
        reply = await vault.put(store, EnvelopeCipher(os.urandom(32)),
                                PutRequest(request_id=rid, data=personal_data()), clock())
    assert reply.ok
    return rid


async def test_invoice_issued_erases_and_emits_once(uows: FakeUnitsOfWork, store: FakeVaultStore,
                                                    handlers: ErasureHandlers, clock: Clock) -> None:
    rid = await stored(uows, store, clock)
    trigger = invoice_issued(rid)
    emitted = await uows.run_handler(handlers.on_invoice_issued, trigger)
    assert len(emitted) == 1
    event = emitted[0]
    assert isinstance(event, PersonalDataErased)
    assert (event.request_id, event.reason, event.trigger_event_id, event.erased_at, event.had_data) == (
        rid, ErasureReason.INVOICE_ISSUED, trigger.event_id, clock.now, True)
    assert (event.correlation_id, event.causation_id) == (trigger.correlation_id, trigger.event_id)
    assert rid not in store.s.entries and rid not in store.s.keys and rid not in store.s.statements
    # A second trigger with another event id (e.g. a repeated invoice event): no second erasure.
    assert await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid)) == []
    assert await uows.run_handler(handlers.on_session_not_billed, SessionNotBilled(
        session_id=uuid.uuid4(), request_id=rid, reason=NotBilledReason.GOODWILL,
        tariff_version="2025-01", raw_seconds=10)) == []
    assert store.s.erasures[rid].reason is ErasureReason.INVOICE_ISSUED


@pytest.mark.parametrize(("make", "reason"), [
    (lambda rid: SessionNotBilled(session_id=uuid.uuid4(), request_id=rid, reason=NotBilledReason.FREE_THRESHOLD,
                                  tariff_version="2025-01", raw_seconds=30), ErasureReason.NOT_BILLED),
    (lambda rid: SupportRequestWithdrawn(request_id=rid), ErasureReason.WITHDRAWN),
])
async def test_other_triggers(uows: FakeUnitsOfWork, store: FakeVaultStore, handlers: ErasureHandlers,
                              clock: Clock, make: object, reason: ErasureReason) -> None:
    rid = await stored(uows, store, clock)
    event = make(rid)  # type: ignore[operator]
    handler = {ErasureReason.NOT_BILLED: handlers.on_session_not_billed,
               ErasureReason.WITHDRAWN: handlers.on_support_request_withdrawn}[reason]
    (erased,) = await uows.run_handler(handler, event)
    assert erased.reason is reason and erased.had_data is True


async def test_withdrawn_before_put_marks_without_data(uows: FakeUnitsOfWork, store: FakeVaultStore,
                                                       handlers: ErasureHandlers, clock: Clock) -> None:
    rid = uuid.uuid4()
    (erased,) = await uows.run_handler(handlers.on_support_request_withdrawn, SupportRequestWithdrawn(request_id=rid))
    assert erased.had_data is False
    async with uows():
        reply = await vault.put(store, EnvelopeCipher(os.urandom(32)),
                                PutRequest(request_id=rid, data=personal_data()), clock())
    assert reply.error is not None and reply.error.value == "erased"
    assert rid not in store.s.entries


async def test_handler_uses_transaction_time_without_clock(uows: FakeUnitsOfWork, store: FakeVaultStore) -> None:
    handlers = ErasureHandlers(store.for_conn)
    (erased,) = await uows.run_handler(handlers.on_support_request_withdrawn,
                                       SupportRequestWithdrawn(request_id=uuid.uuid4()))
    assert abs(erased.erased_at - datetime.now(UTC)) < timedelta(seconds=5)


async def test_erasure_delay_is_recorded(uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock,
                                         handlers: ErasureHandlers) -> None:
    before = next(iter(metrics.ERASURE_DELAY.collect()))
    count = next(s.value for s in before.samples if s.name.endswith("_count"))
    total = next(s.value for s in before.samples if s.name.endswith("_sum"))
    trigger = invoice_issued(uuid.uuid4(), occurred_at=clock.now - timedelta(seconds=3))
    await uows.run_handler(handlers.on_invoice_issued, trigger)
    after = next(iter(metrics.ERASURE_DELAY.collect()))
    assert next(s.value for s in after.samples if s.name.endswith("_count")) == count + 1
    assert next(s.value for s in after.samples if s.name.endswith("_sum")) == pytest.approx(total + 3)


async def test_sweep_erases_only_past_deadline(uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock) -> None:
    old = await stored(uows, store, clock)
    clock.advance(days=7)
    young = await stored(uows, store, clock)
    clock.advance(days=7)  # old is exactly 14 days old now
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON) == 1
    assert [e.request_id for e in uows.outbox] == [old]
    assert uows.outbox[0].reason is ErasureReason.ABANDONED
    assert uows.outbox[0].trigger_event_id is None
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON) == 0
    assert young in store.s.entries
    pending = await queries.pending_erasures(store, 10, ABANDON)
    assert pending == [{"request_id": young, "stored_at": clock.now - timedelta(days=7),
                        "deadline": clock.now + timedelta(days=7)}]
    status = await queries.request_status(store, old)
    assert status["state"] == "erased" and status["reason"] == "abandoned"


async def test_sweep_batch_limit(uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock) -> None:
    for _ in range(3):
        await stored(uows, store, clock)
    clock.advance(days=15)
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, batch=2) == 2
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, batch=2) == 1


async def test_failed_erasure_rolls_back(uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock,
                                         handlers: ErasureHandlers, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = await stored(uows, store, clock)

    async def broken(*_: object) -> bool:
        raise RuntimeError("database gone")

    monkeypatch.setattr(store, "insert_erasure", broken)
    with pytest.raises(RuntimeError):
        await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid))
    assert rid in store.s.entries and uows.outbox == []


async def test_reapply_restores_markers_and_deletes_resurrected_rows(
        uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock, handlers: ErasureHandlers) -> None:
    a = await stored(uows, store, clock)
    b = await stored(uows, store, clock)
    backup = copy.deepcopy(store.s)  # a backup taken while both were stored
    (erased_a,) = await uows.run_handler(handlers.on_invoice_issued, invoice_issued(a))
    (erased_b,) = await uows.run_handler(handlers.on_invoice_issued, invoice_issued(b))
    # Restore: a's marker survived somewhere (say, a later backup of the log), b's did not.
    store.s = backup
    store.s.erasures[a] = ErasureRecord(request_id=a, reason=ErasureReason.INVOICE_ISSUED,
                                        trigger_event_id=None, erased_at=clock.now, had_data=True)
    result = await reapply_erasure_log(uows, store.for_conn, [erased_b])
    assert (result.markers_restored, result.requests_purged) == (1, 2)
    assert a not in store.s.entries and b not in store.s.entries and b in store.s.erasures
    assert uows.outbox.count(erased_a) == 1  # reapply emits nothing new
    again = await reapply_erasure_log(uows, store.for_conn, [erased_a, erased_b])
    assert (again.markers_restored, again.requests_purged) == (0, 0)
