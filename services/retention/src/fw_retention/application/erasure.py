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
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from fw_contracts import Event
from fw_contracts.events import (
    BillingBlocked,
    ErasureReason,
    InvoiceIssued,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_platform import metrics
from fw_platform.handling import Handler, UnitOfWork

from fw_retention.application.ports import StoreFactory, VaultStore
from fw_retention.domain.rules import Erasure, abandoned_before, decide_erasure, erasure_deadline

log = logging.getLogger(__name__)

#: ``runtime.unit_of_work`` or a fake: opens a transaction whose emitted events go to the outbox.
UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


async def erase(store: VaultStore, uow: UnitOfWork, request_id: uuid.UUID, reason: ErasureReason,
                *, now: datetime, trigger: Event | None = None,
                due_since: datetime | None = None) -> Erasure | None:
    """Erase one request inside ``uow``; returns the erasure, or None if it was erased before.

    ``due_since`` is when the erasure became due (the trigger's ``occurred_at`` or the deadline);
    the delay until now goes to the ERASURE_DELAY histogram.
    """
    await store.lock(request_id)
    marker = await store.erasure(request_id)
    # Delete also when a marker exists: rows can reappear only through a restored backup.
    had_data = await store.delete_data(request_id)
    decision = decide_erasure(request_id=request_id, already_erased=marker is not None,
                              had_data=had_data, reason=reason,
                              trigger_event_id=trigger.event_id if trigger else None, now=now)
    if decision is None or not await store.insert_erasure(decision):
        return None
    caused = trigger.caused() if trigger else {}
    uow.emit(PersonalDataErased(request_id=request_id, reason=reason,
                                trigger_event_id=decision.trigger_event_id,
                                erased_at=decision.erased_at, had_data=had_data, **caused))
    since = due_since or (trigger.occurred_at if trigger else now)
    metrics.ERASURE_DELAY.observe(max(0.0, (now - since).total_seconds()))
    log.info("personal data erased", extra={"request_id": str(request_id),
                                            "erasure_reason": reason.value})
    return decision


class ErasureHandlers:
    """The consumed-event handlers (``on_<event>(event, uow)``), bound to a store factory."""

    def __init__(self, store_for: StoreFactory) -> None:
        self._store_for = store_for

    async def _erase(self, event: InvoiceIssued | SessionNotBilled | SupportRequestWithdrawn,
                     uow: UnitOfWork, reason: ErasureReason) -> None:
        await erase(self._store_for(uow.conn), uow, event.request_id, reason,
                    now=uow.now, trigger=event)

    async def on_invoice_issued(self, event: InvoiceIssued, uow: UnitOfWork) -> None:
        """The invoice is out: its personal data are no longer needed (the archive keeps the copy)."""
        await self._erase(event, uow, ErasureReason.INVOICE_ISSUED)

    async def on_session_not_billed(self, event: SessionNotBilled, uow: UnitOfWork) -> None:
        """No invoice will be issued: nothing justifies keeping the data."""
        await self._erase(event, uow, ErasureReason.NOT_BILLED)

    async def on_support_request_withdrawn(self, event: SupportRequestWithdrawn, uow: UnitOfWork) -> None:
        """The customer withdrew (or it was a duplicate): erase at once."""
        await self._erase(event, uow, ErasureReason.WITHDRAWN)

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

    def consumers(self) -> dict[str, dict[type[Event], Handler]]:
        """``{consumer name: {event class: handler}}`` for ``runtime.consume``."""
        return {
            "invoice_issued": {InvoiceIssued: self.on_invoice_issued},
            "session_not_billed": {SessionNotBilled: self.on_session_not_billed},
            "support_request_withdrawn": {SupportRequestWithdrawn: self.on_support_request_withdrawn},
            # its own durable (not added to another one): a new durable reads the stream from the
            # start, so blocks announced before this consumer existed are held as well
            "billing_blocked": {BillingBlocked: self.on_billing_blocked},
        }


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
