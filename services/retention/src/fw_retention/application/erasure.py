"""Erasure: on an issued invoice, an unbilled session, a withdrawn request, or a passed deadline.

The deadline is ``abandon_after`` after the data were stored, unless billing is blocked for
want of the recipient's address (``BillingBlocked``): then the purpose "billing" is still
pending and the request is held until ``billing_hold`` after the first block (see
:func:`fw_retention.domain.rules.erasure_deadline`); at the end of the hold it is erased with
reason ``abandoned`` like any other request whose purpose was not completed in time.

Every erasure DELETEs the request's key, data and statement rows, writes the permanent marker
(the erasure log) and emits ``PersonalDataErased`` — all in the caller's transaction, so the
event leaves through the outbox exactly when the deletion is committed. A request that already
carries the marker is not erased twice and gets no second event.

Delivery (LEGAL.md L21): an issued invoice erases everything at once *except* the e-mail address
the customer gave for receiving it (scope ``all_but_delivery_email``; the address is re-sealed
into its own row under the request's key). That address goes in a second step (scope
``delivery_email``) on billing's ``InvoiceDelivered`` or ``InvoiceDeliveryFailed``, and at the
latest when the delivery hold (``delivery_hold`` after the InvoiceIssued) ends — the sweep.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from fw_contracts import Event
from fw_contracts.events import (
    BillingBlocked,
    ErasureReason,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
    InvoiceIssued,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_platform import metrics
from fw_platform.handling import UnitOfWork
from fw_retention.application.ports import Cipher, Part, Sealed, SealedEntry, StoreFactory, VaultStore
from fw_retention.application.vault import open_data
from fw_retention.domain.rules import Erasure, abandoned_before, decide_erasure, erasure_deadline

log = logging.getLogger(__name__)

#: ``runtime.unit_of_work`` or a fake: opens a transaction whose emitted events go to the outbox.
UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


def _sealed_delivery_email(cipher: Cipher, request_id: uuid.UUID, entry: SealedEntry | None) -> Sealed | None:
    """The entry's e-mail address sealed for its own row (the first step keeps it); None when the
    customer gave none (or there is no entry)."""
    if entry is None:
        return None
    key, data = open_data(cipher, entry)
    if data.email is None:
        return None
    nonce, ct = cipher.seal(key, request_id, str(data.email).encode(), Part.DELIVERY_EMAIL)
    return Sealed(nonce, ct)


@dataclass(frozen=True)
class Due:
    """One erasure asked for: the request, why, and what caused it (see :func:`erase`)."""

    request_id: uuid.UUID
    reason: ErasureReason
    trigger: Event | None = None
    due_since: datetime | None = None


async def erase(store: VaultStore, uow: UnitOfWork, request_id: uuid.UUID, reason: ErasureReason,
                *, now: datetime, trigger: Event | None = None,
                due_since: datetime | None = None, cipher: Cipher | None = None,
                delivery_hold: timedelta | None = None) -> Erasure | None:
    """Erase one request inside ``uow``; returns the erasure, or None if it was erased before.

    ``due_since`` is when the erasure became due (the trigger's ``occurred_at`` or the deadline);
    the delay until now goes to the ERASURE_DELAY histogram. With ``cipher`` and
    ``delivery_hold``, an ``invoice_issued`` erasure keeps the delivery e-mail address (first
    step); a request erased but for that address loses it now (second step).
    """
    [done] = await erase_all(store, uow, [Due(request_id, reason, trigger, due_since)], now=now,
                             cipher=cipher, delivery_hold=delivery_hold)
    return done


async def erase_all(store: VaultStore, uow: UnitOfWork, due: Sequence[Due], *, now: datetime,
                    cipher: Cipher | None = None, delivery_hold: timedelta | None = None,
                    ) -> list[Erasure | None]:
    """:func:`erase` for each of ``due``, in order, with one statement per step for a run of
    different requests (a request asked for twice starts a new run, so the second sees the
    first). Returns the erasures (None: erased before), in the order of ``due``."""
    done: list[Erasure | None] = []
    run: list[Due] = []
    for d in due:
        if d.request_id in {r.request_id for r in run}:
            done += await _erase_run(store, uow, run, now=now, cipher=cipher, delivery_hold=delivery_hold)
            run = []
        run.append(d)
    if run:
        done += await _erase_run(store, uow, run, now=now, cipher=cipher, delivery_hold=delivery_hold)
    return done


async def _erase_run(store: VaultStore, uow: UnitOfWork, due: Sequence[Due], *, now: datetime,
                     cipher: Cipher | None, delivery_hold: timedelta | None) -> list[Erasure | None]:
    """Erase different requests: lock all, read all, keep the delivery addresses, delete, write
    the markers with their events — each step one statement for the whole run."""
    ids = [d.request_id for d in due]
    await store.lock_all(ids)
    # the marker and (without one) the entry of each in one look-up
    current = await store.current_all(ids)
    kept: list[tuple[uuid.UUID, Sealed]] = []
    keep_key: list[tuple[uuid.UUID, bool]] = []
    for d in due:
        marker, entry = current[d.request_id]
        keep = False
        if (marker is None and d.reason is ErasureReason.INVOICE_ISSUED and cipher is not None
                and delivery_hold is not None):
            email = _sealed_delivery_email(cipher, d.request_id, entry)
            if email is not None:
                kept.append((d.request_id, email))
                keep = True
        # Delete also when a marker exists: rows can reappear only through a restored backup. The
        # key stays while the delivery e-mail address is kept (another invoice does not end that).
        still_kept = marker is not None and marker.partial and d.reason is ErasureReason.INVOICE_ISSUED
        keep_key.append((d.request_id, keep or still_kept))
    if kept:
        await store.insert_delivery_emails(kept, now)
    had_data = await store.delete_data_all(keep_key)
    kept_ids = {rid for rid, _ in kept}
    decided: list[tuple[Due, Erasure, PersonalDataErased] | None] = []
    for d in due:
        marker = current[d.request_id][0]
        partial = marker is not None and marker.partial
        decision = decide_erasure(
            request_id=d.request_id, already_erased=marker is not None and not partial,
            had_data=had_data[d.request_id], reason=d.reason,
            trigger_event_id=d.trigger.event_id if d.trigger else None, now=now,
            partially_erased=partial, delivery_email_given=d.request_id in kept_ids,
            delivery_hold=delivery_hold, due_since=_since(d, now))
        if decision is None:
            decided.append(None)
            continue
        caused = d.trigger.caused() if d.trigger else {}
        decided.append((d, decision, PersonalDataErased(
            request_id=d.request_id, reason=d.reason, trigger_event_id=decision.trigger_event_id,
            erased_at=decision.erased_at, had_data=had_data[d.request_id], scope=decision.scope,
            delivery_hold_until=decision.delivery_hold_until, **caused)))
    # the markers and their events' outbox rows are one statement (a row only with a new marker)
    writes = [(decision, event) for _, decision, event in filter(None, decided)]
    new = await store.insert_erasures(writes) if writes else set()
    done: list[Erasure | None] = []
    for item in decided:
        if item is None or item[1].request_id not in new:
            done.append(None)
            continue
        d, decision, event = item
        uow.written(event)
        metrics.ERASURE_DELAY.observe(max(0.0, (now - _since(d, now)).total_seconds()))
        log.info("personal data erased", extra={"request_id": str(d.request_id),
                                                "erasure_reason": d.reason.value,
                                                "kind": decision.scope.value})
        done.append(decision)
    return done


def _since(d: Due, now: datetime) -> datetime:
    return d.due_since or (d.trigger.occurred_at if d.trigger else now)


#: The events that erase a request's data.
ErasureTrigger = InvoiceIssued | SessionNotBilled | SupportRequestWithdrawn | InvoiceDelivered | InvoiceDeliveryFailed


class ErasureHandlers:
    """The consumed-event handlers (``on_<event>(event, uow)``), bound to a store factory."""

    def __init__(self, store_for: StoreFactory, *, cipher: Cipher | None = None,
                 delivery_hold: timedelta | None = None) -> None:
        self._store_for = store_for
        # Without them (older tests, tools) an invoice erases everything at once, as before.
        self._cipher = cipher
        self._delivery_hold = delivery_hold

    async def _erase(self, events: Sequence[ErasureTrigger], uow: UnitOfWork, reason: ErasureReason) -> None:
        await erase_all(self._store_for(uow.conn), uow, [Due(e.request_id, reason, e) for e in events],
                        now=uow.now, cipher=self._cipher, delivery_hold=self._delivery_hold)

    # The consumers hand each handler the consecutive events of its type in a chunk
    # (``fw_platform.handling.batched``): one statement per erasure step for all of them. The
    # ``on_<event>`` forms take one event (tools, tests).

    async def on_invoices_issued(self, events: list[InvoiceIssued], uow: UnitOfWork) -> None:
        """The invoice is issued: its personal data are no longer needed (the archive keeps the
        copy) — except the e-mail address it is still to be delivered to (LEGAL.md L21)."""
        await self._erase(events, uow, ErasureReason.INVOICE_ISSUED)

    async def on_invoices_delivered(self, events: list[InvoiceDelivered], uow: UnitOfWork) -> None:
        """The invoice (or Storno) reached the customer: the kept e-mail address goes."""
        await self._erase(events, uow, ErasureReason.INVOICE_DELIVERED)

    async def on_invoice_deliveries_failed(self, events: list[InvoiceDeliveryFailed], uow: UnitOfWork) -> None:
        """Billing gave the delivery up: the kept e-mail address serves nothing any more (the
        customer still has the download link)."""
        await self._erase(events, uow, ErasureReason.INVOICE_DELIVERY_FAILED)

    async def on_sessions_not_billed(self, events: list[SessionNotBilled], uow: UnitOfWork) -> None:
        """No invoice will be issued: nothing justifies keeping the data."""
        await self._erase(events, uow, ErasureReason.NOT_BILLED)

    async def on_support_requests_withdrawn(self, events: list[SupportRequestWithdrawn], uow: UnitOfWork) -> None:
        """The customer withdrew (or it was a duplicate): erase at once."""
        await self._erase(events, uow, ErasureReason.WITHDRAWN)

    async def on_invoice_issued(self, event: InvoiceIssued, uow: UnitOfWork) -> None:
        await self.on_invoices_issued([event], uow)

    async def on_invoice_delivered(self, event: InvoiceDelivered, uow: UnitOfWork) -> None:
        await self.on_invoices_delivered([event], uow)

    async def on_invoice_delivery_failed(self, event: InvoiceDeliveryFailed, uow: UnitOfWork) -> None:
        await self.on_invoice_deliveries_failed([event], uow)

    async def on_session_not_billed(self, event: SessionNotBilled, uow: UnitOfWork) -> None:
        await self.on_sessions_not_billed([event], uow)

    async def on_support_request_withdrawn(self, event: SupportRequestWithdrawn, uow: UnitOfWork) -> None:
        await self.on_support_requests_withdrawn([event], uow)

    async def on_billing_blocked(self, event: BillingBlocked, uow: UnitOfWork) -> None:
        """Billing waits for the recipient's address: hold the request (no erasure as abandoned
        before ``billing_hold`` after the first block). Nothing is erased or emitted here."""
        store = self._store_for(uow.conn)
        await store.lock(event.request_id)  # the sweep re-checks the hold under the same lock
        held = await store.record_billing_block(event.request_id, event.session_id, event.occurred_at,
                                                event.event_id)
        log.info("billing hold recorded" if held else "billing hold already known",
                 extra={"request_id": str(event.request_id), "session_id": str(event.session_id),
                        "event_id": str(event.event_id)})


async def sweep_abandoned(unit_of_work: UnitOfWorkFactory, store_for: StoreFactory, *,
                          now: datetime, abandon_after: timedelta, billing_hold: timedelta,
                          batch: int = 500) -> int:
    """Erase (reason ``abandoned``) up to ``batch`` entries past their deadline.

    The deadline is ``abandon_after`` after storing, or for a request billing is blocked on,
    ``billing_hold`` after the first block (:func:`erasure_deadline`). One transaction per
    request, so one failure does not hold back the others' erasure; the hold is read again under
    the request's lock, so a block recorded since the selection is respected. Returns how many
    requests were erased.
    """
    async with unit_of_work() as uow:
        due = await store_for(uow.conn).due_for_erasure(
            abandoned_before(now, abandon_after), abandoned_before(now, billing_hold), batch)
    erased = held_erased = 0
    for ref in due:
        async with unit_of_work() as uow:
            store = store_for(uow.conn)
            await store.lock(ref.request_id)
            blocked_at = await store.billing_blocked_at(ref.request_id)
            until = erasure_deadline(ref.stored_at, abandon_after, billing_blocked_at=blocked_at,
                                     billing_hold=billing_hold)
            if until > now:
                log.info("erasure deferred: billing hold recorded meanwhile",
                         extra={"request_id": str(ref.request_id)})
                continue
            done = await erase(store, uow, ref.request_id, ErasureReason.ABANDONED, now=now, due_since=until)
        if done is None:
            continue
        erased += 1
        if blocked_at is not None:
            held_erased += 1
            log.info("billing hold ended; personal data erased", extra={"request_id": str(ref.request_id)})
    if erased:
        log.info("abandoned requests erased", extra={"count": erased, "billing_hold_ended": held_erased})
    return erased


async def sweep_delivery_holds(unit_of_work: UnitOfWorkFactory, store_for: StoreFactory, *,
                               now: datetime, batch: int = 500) -> int:
    """Erase (reason ``delivery_hold_ended``, scope ``delivery_email``) the kept delivery e-mail
    addresses whose hold ended, whatever happened to the delivery. Driven by the erasure log (the
    first step's marker and its ``delivery_hold_until``), so it also closes a request whose kept
    row a restored backup lacks. One transaction per request; returns how many were erased."""
    async with unit_of_work() as uow:
        due = await store_for(uow.conn).due_delivery_holds(now, batch)
    erased = 0
    for marker in due:
        async with unit_of_work() as uow:
            done = await erase(store_for(uow.conn), uow, marker.request_id,
                               ErasureReason.DELIVERY_HOLD_ENDED, now=now,
                               due_since=marker.delivery_hold_until)
        erased += done is not None
    if erased:
        log.info("delivery holds ended; kept e-mail addresses erased", extra={"count": erased})
    return erased
