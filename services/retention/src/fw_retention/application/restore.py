"""Restore safety: after a database backup is restored, erased data must not come back.

A backup may hold vault rows of requests that were erased after it was taken, and its own
erasure log is as old as the backup. So the log is first completed from the event stream
(every ``PersonalDataErased`` ever published; the stream is not part of the database backup),
then every request in the log loses its vault rows again (BayLfD: re-deletion on restore).

Likewise the billing holds recorded since the backup are missing (the durable consumer does not
deliver those ``BillingBlocked`` again): they are taken from the stream too, before the sweep
runs, so a request billing waits on is not erased as abandoned after 14 days.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from fw_contracts.events import BillingBlocked, PersonalDataErased
from fw_retention.application.erasure import UnitOfWorkFactory
from fw_retention.application.ports import ErasureRecord, StoreFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReapplyResult:
    """How many markers came back from the stream, how many requests lost rows again, and how
    many billing holds came back from the stream."""

    markers_restored: int
    requests_purged: int
    holds_restored: int = 0


def _record(event: PersonalDataErased) -> ErasureRecord:
    return ErasureRecord(request_id=event.request_id, reason=event.reason,
                         trigger_event_id=event.trigger_event_id, erased_at=event.erased_at,
                         had_data=event.had_data, scope=event.scope,
                         delivery_hold_until=event.delivery_hold_until)


async def reapply_erasure_log(unit_of_work: UnitOfWorkFactory, store_for: StoreFactory,
                              history: Iterable[PersonalDataErased] = ()) -> ReapplyResult:
    """Complete the erasure log from ``history``, then delete the vault rows of every erased id.

    ``history`` is the stream's ``PersonalDataErased`` events (read them with
    :func:`fw_retention.adapters.history.erasure_history`); empty = the database's log only.

    Two transactions on purpose: once the markers are committed, no new put can store data for
    those ids (puts check the marker), and the purge then removes what is left.
    """
    records = [_record(e) for e in history]
    restored = 0
    if records:
        async with unit_of_work() as uow:
            restored = await store_for(uow.conn).add_markers(records)
    async with unit_of_work() as uow:
        purged = await store_for(uow.conn).purge_erased()
    log.info("erasure markers restored from the stream", extra={"count": restored})
    log.info("erasure log reapplied", extra={"count": purged})
    return ReapplyResult(markers_restored=restored, requests_purged=purged)


async def restore_billing_holds(unit_of_work: UnitOfWorkFactory, store_for: StoreFactory,
                                blocks: Iterable[BillingBlocked]) -> int:
    """Record every ``BillingBlocked`` of ``blocks`` as a billing hold (the earliest block of a
    request stays; known ones change nothing); returns how many holds were added or moved."""
    restored = 0
    async with unit_of_work() as uow:
        store = store_for(uow.conn)
        for b in blocks:
            restored += await store.record_billing_block(b.request_id, b.session_id, b.occurred_at, b.event_id)
    log.info("billing holds restored from the stream", extra={"count": restored})
    return restored
