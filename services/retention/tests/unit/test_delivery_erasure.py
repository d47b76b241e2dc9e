"""Erasure in two steps when the invoice is e-mailed (LEGAL.md L21, issue 21): the rules and the
handlers with the in-memory store."""

from __future__ import annotations

import copy
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fw_contracts.events import (
    DeliveryChannel,
    DeliveryFailure,
    ErasureReason,
    ErasureScope,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
    PersonalDataErased,
    SupportRequestWithdrawn,
)
from fw_contracts.vault import GetRequest, PutRequest, VaultError
from fw_contracts.wire import VaultCaller
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.application import vault
from fw_retention.application.erasure import ErasureHandlers, sweep_delivery_holds
from fw_retention.application.export import export_request
from fw_retention.application.restore import reapply_erasure_log
from fw_retention.domain.rules import decide_erasure, delivery_hold_end, erasure_scope

from retention_testkit import MARKERS, Clock, FakeUnitsOfWork, FakeVaultStore, invoice_issued, personal_data

HOLD = timedelta(days=14)
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


# ------------------------------------------------------------------ rules
@pytest.mark.parametrize(("reason", "partial", "email", "scope"), [
    (ErasureReason.INVOICE_ISSUED, False, True, ErasureScope.ALL_BUT_DELIVERY_EMAIL),
    (ErasureReason.INVOICE_ISSUED, False, False, ErasureScope.ALL),  # no e-mail: nothing changes
    (ErasureReason.NOT_BILLED, False, True, ErasureScope.ALL),  # only an invoice keeps it
    (ErasureReason.WITHDRAWN, False, True, ErasureScope.ALL),
    (ErasureReason.ABANDONED, False, True, ErasureScope.ALL),
    (ErasureReason.INVOICE_DELIVERED, False, True, ErasureScope.ALL),  # delivered before the 1st step
    (ErasureReason.INVOICE_DELIVERED, True, True, ErasureScope.DELIVERY_EMAIL),
    (ErasureReason.INVOICE_DELIVERY_FAILED, True, True, ErasureScope.DELIVERY_EMAIL),
    (ErasureReason.DELIVERY_HOLD_ENDED, True, True, ErasureScope.DELIVERY_EMAIL),
    (ErasureReason.WITHDRAWN, True, False, ErasureScope.DELIVERY_EMAIL),  # any later trigger ends it
])
def test_erasure_scope(reason: ErasureReason, partial: bool, email: bool, scope: ErasureScope) -> None:
    assert erasure_scope(reason=reason, partially_erased=partial, delivery_email_given=email) is scope


def test_first_step_carries_the_hold_counted_from_the_invoice() -> None:
    rid = uuid.uuid4()
    d = decide_erasure(request_id=rid, already_erased=False, had_data=True,
                       reason=ErasureReason.INVOICE_ISSUED, trigger_event_id=None, now=T0 + timedelta(minutes=3),
                       delivery_email_given=True, delivery_hold=HOLD, due_since=T0)
    assert d is not None and d.scope is ErasureScope.ALL_BUT_DELIVERY_EMAIL
    assert d.delivery_hold_until == delivery_hold_end(T0, HOLD) == T0 + HOLD
    full = decide_erasure(request_id=rid, already_erased=False, had_data=True,
                          reason=ErasureReason.INVOICE_ISSUED, trigger_event_id=None, now=T0,
                          delivery_email_given=False, delivery_hold=HOLD)
    assert full is not None and full.scope is ErasureScope.ALL and full.delivery_hold_until is None
    # erased for good: nothing more
    assert decide_erasure(request_id=rid, already_erased=True, had_data=False,
                          reason=ErasureReason.INVOICE_DELIVERED, trigger_event_id=None, now=T0,
                          partially_erased=False) is None


# ------------------------------------------------------------------ handlers (fake store)
@pytest.fixture
def store() -> FakeVaultStore:
    return FakeVaultStore()


@pytest.fixture
def uows(store: FakeVaultStore, clock: Clock) -> FakeUnitsOfWork:
    return FakeUnitsOfWork(store, clock)


@pytest.fixture
def clock() -> Clock:
    return Clock(now=T0)


@pytest.fixture
def cipher() -> EnvelopeCipher:
    return EnvelopeCipher(os.urandom(32))


@pytest.fixture
def handlers(store: FakeVaultStore, clock: Clock, cipher: EnvelopeCipher) -> ErasureHandlers:
    return ErasureHandlers(store.for_conn, cipher=cipher, delivery_hold=HOLD)


async def _stored(uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
                  **changes: object) -> uuid.UUID:
    rid = uuid.uuid4()
    async with uows():
        assert (await vault.put(store, cipher, PutRequest(request_id=rid, data=personal_data(**changes)),
                                clock(), VaultCaller.INTAKE)).ok
    return rid


async def _delivery_email(uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher,
                          rid: uuid.UUID, now: datetime) -> tuple[bool, str | None, VaultError | None]:
    async with uows():
        reply = await vault.get(store, cipher, GetRequest(request_id=rid, purpose="delivery"), now,
                               VaultCaller.BILLING)
    return reply.ok, (str(reply.delivery_email) if reply.delivery_email else None), reply.error


def _sealed_blobs(store: FakeVaultStore) -> bytes:
    rows = [*store.s.entries.values(), *store.s.statements.values(), *store.s.held.values()]
    return b"".join(s.nonce + s.ciphertext for s, _ in rows)


def delivered(rid: uuid.UUID) -> InvoiceDelivered:
    return InvoiceDelivered(document_number="RE-2025-0001", document_type="invoice", request_id=rid,
                            channel=DeliveryChannel.EMAIL, delivered_at=T0, attempts=1)


def failed(rid: uuid.UUID) -> InvoiceDeliveryFailed:
    return InvoiceDeliveryFailed(document_number="RE-2025-0001", document_type="invoice", request_id=rid,
                                 failure=DeliveryFailure.MAILBOX_UNKNOWN, failed_at=T0, attempts=1)


async def test_invoice_keeps_only_the_email_then_delivery_erases_it(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    rid = await _stored(uows, store, cipher, clock)
    trigger = invoice_issued(rid, occurred_at=T0)
    [first] = await uows.run_handler(handlers.on_invoice_issued, trigger)
    assert isinstance(first, PersonalDataErased)
    assert (first.scope, first.reason, first.trigger_event_id, first.delivery_hold_until) == (
        ErasureScope.ALL_BUT_DELIVERY_EMAIL, ErasureReason.INVOICE_ISSUED, trigger.event_id, T0 + HOLD)
    assert rid not in store.s.entries and rid not in store.s.statements and rid in store.s.held
    # a second invoice of the request keeps the address for its own delivery
    assert await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0)) == []
    assert rid in store.s.held
    # everything but the address is refused, the address is served for the delivery only
    async with uows():
        full = await vault.get(store, cipher, GetRequest(request_id=rid, purpose="billing"), clock(),
                               VaultCaller.BILLING)
    assert not full.ok and full.error is VaultError.ERASED
    assert await _delivery_email(uows, store, cipher, rid, clock()) == (True, MARKERS[3], None)

    done = delivered(rid)
    [second] = await uows.run_handler(handlers.on_invoice_delivered, done)
    assert (second.scope, second.reason, second.trigger_event_id, second.delivery_hold_until) == (
        ErasureScope.DELIVERY_EMAIL, ErasureReason.INVOICE_DELIVERED, done.event_id, None)
    assert rid not in store.s.held and rid not in store.s.keys
    ok, email, error = await _delivery_email(uows, store, cipher, rid, clock())
    assert (ok, email, error) == (False, None, VaultError.ERASED)
    # a redelivery or the hold's end change nothing
    assert await uows.run_handler(handlers.on_invoice_delivered, done) == []
    assert await uows.run_handler(handlers.on_invoice_delivery_failed, failed(rid)) == []
    clock.advance(days=15)
    assert await sweep_delivery_holds(uows, store.for_conn, now=clock()) == 0


async def test_without_email_an_invoice_erases_everything_at_once(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    rid = await _stored(uows, store, cipher, clock, email=None)
    [only] = await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0))
    assert only.scope is ErasureScope.ALL and only.delivery_hold_until is None
    assert rid not in store.s.keys and rid not in store.s.held
    assert await uows.run_handler(handlers.on_invoice_delivered, delivered(rid)) == []
    assert (await _delivery_email(uows, store, cipher, rid, clock()))[2] is VaultError.ERASED


async def test_failed_delivery_erases_the_email(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    rid = await _stored(uows, store, cipher, clock)
    await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0))
    [second] = await uows.run_handler(handlers.on_invoice_delivery_failed, failed(rid))
    assert (second.scope, second.reason) == (ErasureScope.DELIVERY_EMAIL, ErasureReason.INVOICE_DELIVERY_FAILED)
    assert store.s.keys == {} and store.s.held == {}


async def test_hold_end_erases_the_email_whatever_happened(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    rid = await _stored(uows, store, cipher, clock)
    other = await _stored(uows, store, cipher, clock)
    await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0))
    clock.advance(days=13, hours=23)
    assert await sweep_delivery_holds(uows, store.for_conn, now=clock()) == 0
    assert rid in store.s.held
    clock.advance(hours=1)
    assert await sweep_delivery_holds(uows, store.for_conn, now=clock()) == 1
    last = uows.outbox[-1]
    assert (last.request_id, last.scope, last.reason, last.trigger_event_id) == (
        rid, ErasureScope.DELIVERY_EMAIL, ErasureReason.DELIVERY_HOLD_ENDED, None)
    assert rid not in store.s.held and rid not in store.s.keys
    assert other in store.s.entries  # an untouched request is not the hold's business
    assert await sweep_delivery_holds(uows, store.for_conn, now=clock()) == 0
    assert MARKERS[3].encode() not in _sealed_blobs(store)


async def test_other_triggers_after_the_first_step_take_the_email(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    rid = await _stored(uows, store, cipher, clock)
    await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0))
    [second] = await uows.run_handler(handlers.on_support_request_withdrawn, SupportRequestWithdrawn(request_id=rid))
    assert second.scope is ErasureScope.DELIVERY_EMAIL
    assert store.s.held == {}


async def test_writes_are_refused_after_the_first_step(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    rid = await _stored(uows, store, cipher, clock)
    await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0))
    async with uows():
        reply = await vault.put(store, cipher, PutRequest(request_id=rid, data=personal_data()), clock(),
                                  VaultCaller.INTAKE)
    assert not reply.ok and reply.error is VaultError.ERASED
    assert rid not in store.s.entries


async def test_restore_keeps_the_first_step_and_the_hold_still_ends(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    """A backup from before the invoice comes back: the first step's marker from the stream takes
    the entry (and the address in it) again, and the sweep still closes the request at the hold's
    end although no kept row exists."""
    rid = await _stored(uows, store, cipher, clock)
    backup = FakeVaultStore()
    backup.s = copy.deepcopy(store.s)
    [first] = await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0))
    restored_uows = FakeUnitsOfWork(backup)
    result = await reapply_erasure_log(restored_uows, backup.for_conn, [first])
    assert result.markers_restored == 1
    assert rid not in backup.s.entries
    assert (await _delivery_email(restored_uows, backup, cipher, rid, clock()))[2] is VaultError.ERASED
    clock.advance(days=14)
    assert await sweep_delivery_holds(restored_uows, backup.for_conn, now=clock()) == 1
    assert backup.s.keys == {} and restored_uows.outbox[-1].scope is ErasureScope.DELIVERY_EMAIL


async def test_the_art15_export_shows_the_kept_email_and_then_nothing(
        uows: FakeUnitsOfWork, store: FakeVaultStore, cipher: EnvelopeCipher, clock: Clock,
        handlers: ErasureHandlers) -> None:
    rid = await _stored(uows, store, cipher, clock)
    await uows.run_handler(handlers.on_invoice_issued, invoice_issued(rid, occurred_at=T0))
    async with uows():
        kept = await export_request(store, cipher, rid, clock(), timedelta(days=14), billing_hold=timedelta(days=90))
    assert kept.state == "erased" and kept.personal_data is None
    assert kept.delivery_email == MARKERS[3] and kept.delivery_email_erased_by == T0 + HOLD
    assert "bis auf die E-Mail-Adresse" in kept.note_de and "15.03.2025" in kept.note_de
    await uows.run_handler(handlers.on_invoice_delivered, delivered(rid))
    async with uows():
        gone = await export_request(store, cipher, rid, clock(), timedelta(days=14), billing_hold=timedelta(days=90))
    assert gone.delivery_email is None and gone.erasure is not None
    assert gone.erasure.reason is ErasureReason.INVOICE_DELIVERED and "Rechnung zugestellt" in gone.note_de
    assert MARKERS[3] not in gone.model_dump_json()
