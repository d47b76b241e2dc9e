"""Erasure driven by real events in JetStream; PersonalDataErased leaves through the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from fw_contracts import Event, Header, decode
from fw_contracts.events import (
    BillingBlocked,
    ErasureReason,
    InvoiceIssued,
    NotBilledReason,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_contracts.vault import VaultError
from fw_devenv.testing import eventually
from fw_devenv.vault_callers import VaultCallers
from fw_platform.vault_client import VaultRefused
from fw_retention.application.service import RetentionService

from retention_testkit import Clock, invoice_issued, personal_data, read_subject, running


async def publish(nc: Client, event: Event, msg_id: str | None = None) -> None:
    """Publish like an outbox relay does: ``Nats-Msg-Id`` = event id (or a given id)."""
    await nc.jetstream().publish(event.subject(), event.to_json(), headers={
        Header.MSG_ID: msg_id or str(event.event_id), Header.EVENT_TYPE: event.event_type})


async def erased_events(nc: Client) -> list[PersonalDataErased]:
    return [decode(m.data, m.subject) for m in await read_subject(nc.jetstream(), PersonalDataErased.subject())]  # type: ignore[misc]


async def handled(admin: asyncpg.Connection, event: Event) -> bool:
    return bool(await admin.fetchval(
        "SELECT count(*) FROM retention.processed_events WHERE event_id = $1", event.event_id))


async def test_invoice_issued_erases_exactly_once(service: RetentionService, retention_app: Any, nc: Client,
                                                  admin: asyncpg.Connection, clock: Clock,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    vault = VaultCallers(nc)
    rid = uuid.uuid4()
    # without an e-mail address for the invoice: everything goes at once (the two steps with one:
    # test_delivery_erasure_pg.py)
    await vault.put(rid, personal_data(email=None))
    first = invoice_issued(rid)

    # The first delivery is handled and committed, but its ack is lost: the server redelivers.
    # (Both ack forms are patched: the platform acks without waiting, ``ack``, or with ``ack_sync``.)
    originals = {name: getattr(Msg, name) for name in ("ack", "ack_sync")}
    lost: list[str] = []

    def losing(name: str) -> Any:
        async def lose_first_ack(self: Msg, *args: Any, **kwargs: Any) -> Any:
            if not lost and self.subject == InvoiceIssued.subject():
                lost.append(self.subject)
                await self.nak()
                return self
            return await originals[name](self, *args, **kwargs)
        return lose_first_ack

    for name in originals:
        monkeypatch.setattr(Msg, name, losing(name))
    await publish(nc, first)
    await publish(nc, first)  # a relay retry within the duplicate window: dropped by JetStream
    events = await eventually(lambda: erased_events(nc))
    consumer = next(c for c in retention_app.runtime.consumers if c.durable == "retention--invoice_issued")
    await eventually(lambda: consumer.outcome.duplicates >= 1)  # the redelivery was seen
    for name, original in originals.items():
        monkeypatch.setattr(Msg, name, original)

    # Same invoice event again under another message id, and a second InvoiceIssued for the request.
    await publish(nc, first, msg_id=str(uuid.uuid4()))
    second = invoice_issued(rid)
    await publish(nc, second)
    await eventually(lambda: handled(admin, second))
    await eventually(lambda: consumer.outcome.duplicates >= 2)

    events = await erased_events(nc)
    assert len(events) == 1
    erased = events[0]
    assert (erased.request_id, erased.reason, erased.trigger_event_id, erased.had_data) == (
        rid, ErasureReason.INVOICE_ISSUED, first.event_id, True)
    assert (erased.correlation_id, erased.causation_id, erased.erased_at) == (
        first.correlation_id, first.event_id, clock.now)

    for table in ("vault_keys", "vault_entries", "vault_statements"):
        assert await admin.fetchval(f"SELECT count(*) FROM retention.{table} WHERE request_id = $1", rid) == 0
    with pytest.raises(VaultRefused) as got:
        await vault.get(rid, "billing")
    assert got.value.error is VaultError.ERASED and got.value.reply.erased_at == clock.now
    with pytest.raises(VaultRefused) as put:
        await vault.put(rid, personal_data())
    assert put.value.error is VaultError.ERASED


@pytest.mark.parametrize("make", [
    lambda rid: SessionNotBilled(session_id=uuid.uuid4(), request_id=rid, reason=NotBilledReason.FREE_THRESHOLD,
                                 tariff_version="2025-01", raw_seconds=20),
    lambda rid: SupportRequestWithdrawn(request_id=rid),
])
async def test_other_triggers_over_the_stream(service: RetentionService, nc: Client, make: Any) -> None:
    rid = uuid.uuid4()
    await VaultCallers(nc).put(rid, personal_data())
    trigger = make(rid)
    await publish(nc, trigger)
    (erased,) = await eventually(lambda: erased_events(nc))
    expected = ErasureReason.NOT_BILLED if isinstance(trigger, SessionNotBilled) else ErasureReason.WITHDRAWN
    assert (erased.request_id, erased.reason, erased.had_data) == (rid, expected, True)


async def test_withdrawn_before_put(service: RetentionService, nc: Client, admin: asyncpg.Connection) -> None:
    rid = uuid.uuid4()
    withdrawn = SupportRequestWithdrawn(request_id=rid)
    await publish(nc, withdrawn)
    (erased,) = await eventually(lambda: erased_events(nc))
    assert erased.had_data is False and erased.reason is ErasureReason.WITHDRAWN
    with pytest.raises(VaultRefused) as put:
        await VaultCallers(nc).put(rid, personal_data())
    assert put.value.error is VaultError.ERASED
    await publish(nc, invoice_issued(rid))  # later triggers change nothing
    await publish(nc, SupportRequestWithdrawn(request_id=rid))
    await eventually(lambda: _count_processed(admin, 3))
    assert len(await erased_events(nc)) == 1


async def _count_processed(admin: asyncpg.Connection, n: int) -> bool:
    return bool(await admin.fetchval("SELECT count(*) FROM retention.processed_events") >= n)


async def test_sweep_with_injected_clock(service: RetentionService, nc: Client, clock: Clock) -> None:
    vault = VaultCallers(nc)
    old, young = uuid.uuid4(), uuid.uuid4()
    await vault.put(old, personal_data())
    clock.advance(days=10)
    await vault.put(young, personal_data())
    clock.advance(days=4, seconds=1)
    assert await service.sweep() == 1
    (erased,) = await eventually(lambda: erased_events(nc))
    assert (erased.request_id, erased.reason, erased.trigger_event_id) == (old, ErasureReason.ABANDONED, None)
    assert (await vault.get(young, "queue")).data == personal_data()
    assert await service.sweep() == 0
    clock.advance(days=10)
    assert await service.sweep() == 1
    assert {e.request_id for e in await eventually(lambda: _at_least(nc, 2))} == {old, young}


async def _at_least(nc: Client, n: int) -> list[PersonalDataErased] | None:
    events = await erased_events(nc)
    return events if len(events) >= n else None


async def test_billing_blocked_over_the_stream_holds_the_request_until_the_hold_ends(
        service: RetentionService, nc: Client, clock: Clock, admin: asyncpg.Connection) -> None:
    vault = VaultCallers(nc)
    held, plain = uuid.uuid4(), uuid.uuid4()
    await vault.put(held, personal_data(address=None))
    await vault.put(plain, personal_data())
    blocked = BillingBlocked(session_id=uuid.uuid4(), request_id=held, missing=("billing_address",),
                             occurred_at=clock.advance(hours=1))
    await publish(nc, blocked)
    await eventually(lambda: handled(admin, blocked))
    assert await admin.fetchval("SELECT blocked_at FROM retention.billing_holds WHERE request_id = $1",
                                held) == blocked.occurred_at
    assert service.billing_hold == timedelta(days=90)

    clock.advance(days=14)  # the normal deadline: only the request billing does not wait on goes
    assert await service.sweep() == 1
    (first,) = await eventually(lambda: erased_events(nc))
    assert (first.request_id, first.reason) == (plain, ErasureReason.ABANDONED)
    assert (await vault.get(held, "billing")).data.company == personal_data().company

    clock.now = blocked.occurred_at + timedelta(days=60)  # day 60 of the hold: still held
    assert await service.sweep() == 0
    clock.now = blocked.occurred_at + timedelta(days=90)
    assert await service.sweep() == 1
    events = await eventually(lambda: _at_least(nc, 2))
    last = next(e for e in events if e.request_id == held)
    assert (last.reason, last.trigger_event_id, last.erased_at) == (ErasureReason.ABANDONED, None, clock.now)
    with pytest.raises(VaultRefused) as refused:
        await vault.get(held, "billing")
    assert refused.value.error is VaultError.ERASED


async def test_background_sweep_runs(fw_env: Any, nc: Client) -> None:
    clock = Clock(now=datetime.now(UTC))
    async with running(fw_env, clock, sweep_interval_s=0.1) as svc:
        rid = uuid.uuid4()
        await VaultCallers(nc).put(rid, personal_data())
        clock.advance(days=14)
        (erased,) = await eventually(lambda: erased_events(nc))
        assert erased.request_id == rid and erased.reason is ErasureReason.ABANDONED
        assert svc.service.abandon_after == timedelta(days=14)
