"""Erasure handlers, the deadline sweep and restore safety with an in-memory store."""

from __future__ import annotations

import copy
import os
import uuid
from datetime import datetime, timedelta

import pytest

from fw_contracts.events import (
    BillingBlocked,
    ErasureReason,
    ErasureScope,
    NotBilledReason,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_contracts.vault import PutRequest
from fw_contracts.wire import VaultCaller
from fw_platform import metrics
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.application import queries, vault
from fw_retention.application.erasure import ErasureHandlers, sweep_abandoned
from fw_retention.application.ports import ErasureRecord
from fw_retention.application.restore import reapply_erasure_log

from retention_testkit import Clock, FakeUnitsOfWork, FakeVaultStore, invoice_issued, personal_data

ABANDON = timedelta(days=14)
HOLD = timedelta(days=90)


@pytest.fixture
def store() -> FakeVaultStore:
    return FakeVaultStore()


@pytest.fixture
def uows(store: FakeVaultStore, clock: Clock) -> FakeUnitsOfWork:
    return FakeUnitsOfWork(store, clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handlers(store: FakeVaultStore) -> ErasureHandlers:
    return ErasureHandlers(store.for_conn)


async def stored(uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock) -> uuid.UUID:
    rid = uuid.uuid4()
    async with uows():
        reply = await vault.put(store, EnvelopeCipher(os.urandom(32)),
                                PutRequest(request_id=rid, data=personal_data()), clock(), VaultCaller.INTAKE)
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
    assert store.s.erasures[rid, ErasureScope.ALL].reason is ErasureReason.INVOICE_ISSUED


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
                                PutRequest(request_id=rid, data=personal_data()), clock(), VaultCaller.INTAKE)
    assert reply.error is not None and reply.error.value == "erased"
    assert rid not in store.s.entries


async def test_handler_uses_the_unit_of_work_time(uows: FakeUnitsOfWork, store: FakeVaultStore,
                                                  clock: Clock) -> None:
    handlers = ErasureHandlers(store.for_conn)
    clock.advance(days=3)
    (erased,) = await uows.run_handler(handlers.on_support_request_withdrawn,
                                       SupportRequestWithdrawn(request_id=uuid.uuid4()))
    assert erased.erased_at == clock.now


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
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD) == 1
    assert [e.request_id for e in uows.outbox] == [old]
    assert uows.outbox[0].reason is ErasureReason.ABANDONED
    assert uows.outbox[0].trigger_event_id is None
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD) == 0
    assert young in store.s.entries
    pending = await queries.pending_erasures(store, 10, ABANDON, billing_hold=HOLD)
    assert pending == [{"request_id": young, "stored_at": clock.now - timedelta(days=7),
                        "billing_blocked_at": None, "deadline": clock.now + timedelta(days=7)}]
    status = await queries.request_status(store, old, abandon_after=ABANDON, billing_hold=HOLD)
    assert status["state"] == "erased" and status["reason"] == "abandoned"


def billing_blocked(rid: uuid.UUID, at: datetime) -> BillingBlocked:
    return BillingBlocked(session_id=uuid.uuid4(), request_id=rid, missing=("billing_address",), occurred_at=at)


async def test_a_request_billing_waits_on_is_held_until_the_hold_ends(
        uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock, handlers: ErasureHandlers) -> None:
    held = await stored(uows, store, clock)
    plain = await stored(uows, store, clock)
    blocked_at = clock.advance(hours=2)
    assert await uows.run_handler(handlers.on_billing_blocked, billing_blocked(held, blocked_at)) == []
    # a redelivered or repeated block neither erases nor moves the hold
    assert await uows.run_handler(handlers.on_billing_blocked, billing_blocked(held, blocked_at + timedelta(1))) == []
    clock.advance(days=14)
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD) == 1
    assert [e.request_id for e in uows.outbox] == [plain]  # the normal request: erased at 14 days
    assert held in store.s.entries
    status = await queries.request_status(store, held, abandon_after=ABANDON, billing_hold=HOLD)
    assert status["state"] == "stored" and status["billing_blocked_at"] == blocked_at
    assert status["erase_by"] == blocked_at + HOLD
    [pending] = await queries.pending_erasures(store, 10, ABANDON, billing_hold=HOLD)
    assert pending["request_id"] == held and pending["deadline"] == blocked_at + HOLD

    clock.now = blocked_at + HOLD - timedelta(seconds=1)  # day 90 minus a second: still held
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD) == 0
    clock.now = blocked_at + HOLD
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD) == 1
    last = uows.outbox[-1]
    assert (last.request_id, last.reason, last.trigger_event_id) == (held, ErasureReason.ABANDONED, None)
    assert held not in store.s.entries and held not in store.s.keys


async def test_the_sweep_rechecks_the_hold_under_the_lock(
        uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock, handlers: ErasureHandlers,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rid = await stored(uows, store, clock)
    clock.advance(days=15)
    selected = store.due_for_erasure

    async def block_after_selection(*args: object) -> object:
        refs = await selected(*args)  # type: ignore[arg-type]
        # billing's block is handled between the sweep's selection and its erasure
        await store.record_billing_block(rid, uuid.uuid4(), clock.now - timedelta(days=1), uuid.uuid4())
        return refs

    monkeypatch.setattr(store, "due_for_erasure", block_after_selection)
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD) == 0
    assert rid in store.s.entries and uows.outbox == []


async def test_a_shorter_hold_never_shortens_the_normal_deadline(
        uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock, handlers: ErasureHandlers) -> None:
    rid = await stored(uows, store, clock)
    await uows.run_handler(handlers.on_billing_blocked, billing_blocked(rid, clock.now))
    clock.advance(days=3)
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON,
                                 billing_hold=timedelta(days=2)) == 0
    clock.advance(days=11)
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON,
                                 billing_hold=timedelta(days=2)) == 1


async def test_a_lost_claim_after_the_hold_erases_nothing_twice(
        uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock, handlers: ErasureHandlers) -> None:
    """Billing answers the hold's erasure with SessionNotBilled(recipient_data_erased); retention
    erases on every SessionNotBilled, which must be a no-op here (no second event, no loop)."""
    rid = await stored(uows, store, clock)
    await uows.run_handler(handlers.on_billing_blocked, billing_blocked(rid, clock.now))
    clock.advance(days=90)
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD) == 1
    lost = SessionNotBilled(session_id=uuid.uuid4(), request_id=rid, reason=NotBilledReason.RECIPIENT_DATA_ERASED,
                            tariff_version="2025-01", raw_seconds=3600)
    assert await uows.run_handler(handlers.on_session_not_billed, lost) == []
    assert len(uows.outbox) == 1 and store.s.erasures[rid, ErasureScope.ALL].reason is ErasureReason.ABANDONED


async def test_sweep_batch_limit(uows: FakeUnitsOfWork, store: FakeVaultStore, clock: Clock) -> None:
    for _ in range(3):
        await stored(uows, store, clock)
    clock.advance(days=15)
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD, batch=2) == 2
    assert await sweep_abandoned(uows, store.for_conn, now=clock(), abandon_after=ABANDON, billing_hold=HOLD, batch=2) == 1


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
    store.s.erasures[a, ErasureScope.ALL] = ErasureRecord(request_id=a, reason=ErasureReason.INVOICE_ISSUED,
                                        trigger_event_id=None, erased_at=clock.now, had_data=True)
    result = await reapply_erasure_log(uows, store.for_conn, [erased_b])
    assert (result.markers_restored, result.requests_purged) == (1, 2)
    assert a not in store.s.entries and b not in store.s.entries and b in store.erased_ids()
    assert uows.outbox.count(erased_a) == 1  # reapply emits nothing new
    again = await reapply_erasure_log(uows, store.for_conn, [erased_a, erased_b])
    assert (again.markers_restored, again.requests_purged) == (0, 0)
