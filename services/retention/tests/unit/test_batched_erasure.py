"""The batched erasure (``erase_all``, the consumers' handlers for a chunk of events) decides and
writes exactly what erasing one request after the other does: same markers, same events (but
their ids and clock times), same rows left — for every kind of request and trigger, a request asked for twice
included."""

from __future__ import annotations

import copy
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fw_contracts import Event
from fw_contracts.events import (
    DeliveryChannel,
    ErasureReason,
    InvoiceDelivered,
    NotBilledReason,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_contracts.vault import PutRequest
from fw_contracts.wire import VaultCaller
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.application import vault
from fw_retention.application.erasure import Due, ErasureHandlers, erase, erase_all

from retention_testkit import FakeUnitsOfWork, FakeVaultStore, invoice_issued, personal_data

HOLD = timedelta(days=14)
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
CIPHER = EnvelopeCipher(os.urandom(32))


def delivered(rid: uuid.UUID) -> InvoiceDelivered:
    return InvoiceDelivered(document_number="RE-2025-0001", document_type="invoice", request_id=rid,
                            channel=DeliveryChannel.EMAIL, delivered_at=T0, attempts=1, occurred_at=T0)


async def _world() -> tuple[FakeVaultStore, dict[str, uuid.UUID]]:
    """Requests in every state an erasure can meet."""
    store = FakeVaultStore()
    uows = FakeUnitsOfWork(store, lambda: T0)
    ids = {name: uuid.uuid4() for name in (
        "with_email", "without_email", "not_billed", "partial", "partial_again", "unknown", "erased")}
    async with uows():
        for name in ("with_email", "without_email", "not_billed", "partial", "partial_again", "erased"):
            data = personal_data(email=None) if name == "without_email" else personal_data()
            assert (await vault.put(store, CIPHER, PutRequest(request_id=ids[name], data=data), T0,
                                    VaultCaller.INTAKE)).ok
    handlers = ErasureHandlers(store.for_conn, cipher=CIPHER, delivery_hold=HOLD)
    for name in ("partial", "partial_again"):  # the first step done: the address kept
        await uows.run_handler(handlers.on_invoice_issued, invoice_issued(ids[name]))
    await uows.run_handler(handlers.on_support_request_withdrawn, SupportRequestWithdrawn(
        request_id=ids["erased"], occurred_at=T0))
    return store, ids


def _asked(ids: dict[str, uuid.UUID]) -> list[tuple[Event, ErasureReason]]:
    return [
        (invoice_issued(ids["with_email"]), ErasureReason.INVOICE_ISSUED),  # keeps the address
        (invoice_issued(ids["without_email"]), ErasureReason.INVOICE_ISSUED),
        (SessionNotBilled(session_id=uuid.uuid4(), request_id=ids["not_billed"],
                          reason=NotBilledReason.FREE_THRESHOLD, tariff_version="2025-01", raw_seconds=30,
                          occurred_at=T0), ErasureReason.NOT_BILLED),
        (delivered(ids["partial"]), ErasureReason.INVOICE_DELIVERED),  # the second step
        (invoice_issued(ids["partial_again"]), ErasureReason.INVOICE_ISSUED),  # another invoice: the key stays
        (SupportRequestWithdrawn(request_id=ids["unknown"], occurred_at=T0),
         ErasureReason.WITHDRAWN),  # never stored: a marker without data
        (invoice_issued(ids["erased"]), ErasureReason.INVOICE_ISSUED),  # erased before: nothing
        (delivered(ids["with_email"]), ErasureReason.INVOICE_DELIVERED),  # asked twice: after its first step
    ]


def _rows(store: FakeVaultStore) -> dict[str, Any]:
    """What is left, without the random nonces of a newly sealed address."""
    s = store.s
    return {"keys": set(s.keys), "entries": set(s.entries), "statements": set(s.statements),
            "held": set(s.held), "claims": dict(s.claims), "erasures": dict(s.erasures)}


def _without_ids(events: list[PersonalDataErased]) -> list[dict[str, Any]]:
    return [e.model_dump(exclude={"event_id", "occurred_at"}) for e in events]


async def test_a_chunk_erases_as_one_request_after_the_other() -> None:
    batched, ids = await _world()
    single = FakeVaultStore()
    single.s = copy.deepcopy(batched.s)
    asked = _asked(ids)
    due = [Due(e.request_id, reason, e) for e, reason in asked]  # type: ignore[attr-defined]

    batched_uows, single_uows = FakeUnitsOfWork(batched, lambda: T0), FakeUnitsOfWork(single, lambda: T0)
    async with batched_uows() as uow:
        all_at_once = await erase_all(batched, uow, due, now=T0, cipher=CIPHER, delivery_hold=HOLD)
    async with single_uows() as uow:
        one_by_one = [await erase(single, uow, d.request_id, d.reason, now=T0, trigger=d.trigger,
                                  cipher=CIPHER, delivery_hold=HOLD) for d in due]

    assert all_at_once == one_by_one
    assert [d is None for d in all_at_once] == [False, False, False, False, True, False, True, False]
    assert _without_ids(batched_uows.outbox) == _without_ids(single_uows.outbox)
    assert len(batched_uows.outbox) == 6
    assert _rows(batched) == _rows(single)
    assert ids["partial_again"] in batched.s.keys and ids["partial_again"] in batched.s.held  # still kept
    assert ids["with_email"] not in batched.s.held  # kept by the invoice, gone with its delivery


async def test_the_handlers_hand_a_chunk_over_at_once() -> None:
    """The consumers' batched handler for InvoiceIssued: one lock-all for the chunk (the fake
    records the locks), every request erased, one event each."""
    store, ids = await _world()
    uows = FakeUnitsOfWork(store, lambda: T0)
    handlers = ErasureHandlers(store.for_conn, cipher=CIPHER, delivery_hold=HOLD)
    chunk = [invoice_issued(ids[name]) for name in ("with_email", "without_email", "not_billed")]
    store.locked.clear()
    async with uows() as uow:
        await handlers.on_invoices_issued(chunk, uow)
    assert store.locked == sorted(e.request_id for e in chunk)
    assert [e.request_id for e in uows.outbox] == [e.request_id for e in chunk]
    assert not {e.request_id for e in chunk} & set(store.s.entries)
