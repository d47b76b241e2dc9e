"""Retention's own use cases beside the consumers and the vault: the deadline sweep, pruning
the protocol rows, and restoring safety after a database restore.

Each runs in its own transaction(s) at the injected clock's now; bootstrap wires the
adapters in (store, AVV register, the stream's history), the sweeper loop and tests call them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fw_contracts.events import BillingBlocked, PersonalDataErased
from fw_retention.application.avv import AvvRegister, prune_requests
from fw_retention.application.erasure import UnitOfWorkFactory, sweep_abandoned, sweep_delivery_holds
from fw_retention.application.ports import Clock, StoreFactory
from fw_retention.application.restore import ReapplyResult, reapply_erasure_log, restore_billing_holds
from fw_retention.domain.rules import records_cutoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionService:
    """The use cases, bound to their ports and the deadlines from the settings."""

    unit_of_work: UnitOfWorkFactory
    store_for: StoreFactory
    register_for: Callable[[Any], AvvRegister]
    clock: Clock
    #: Every ``PersonalDataErased`` / ``BillingBlocked`` in the stream, oldest first.
    erasure_history: Callable[[], AsyncIterator[PersonalDataErased]]
    billing_block_history: Callable[[], AsyncIterator[BillingBlocked]]
    abandon_after: timedelta
    billing_hold: timedelta
    sweep_batch: int
    records_keep_years: int

    async def sweep(self) -> int:
        """Run the deadline sweep once at the injected clock's now: abandoned requests, then
        kept delivery e-mail addresses whose hold ended."""
        erased = await sweep_abandoned(self.unit_of_work, self.store_for, now=self.clock(),
                                       abandon_after=self.abandon_after,
                                       billing_hold=self.billing_hold,
                                       batch=self.sweep_batch)
        return erased + await sweep_delivery_holds(self.unit_of_work, self.store_for,
                                                   now=self.clock(), batch=self.sweep_batch)

    async def prune_records(self) -> int:
        """Delete access-log rows and AVV requests past their deletion date; returns how many."""
        now, years = self.clock(), self.records_keep_years
        async with self.unit_of_work() as uow:
            pruned = await self.store_for(uow.conn).prune_access_log(records_cutoff(now, years))
            pruned += await prune_requests(self.register_for(uow.conn), now=now, keep_years=years)
        if pruned:
            log.info("protocol rows past their deletion date deleted", extra={"count": pruned})
        return pruned

    async def reapply(self, *, from_stream: bool = True) -> ReapplyResult:
        """Restore safety (see :mod:`fw_retention.application.restore`): erasures, then holds."""
        history = [e async for e in self.erasure_history()] if from_stream else []
        result = await reapply_erasure_log(self.unit_of_work, self.store_for, history)
        if not from_stream:
            return result
        blocks = [b async for b in self.billing_block_history()]
        holds = await restore_billing_holds(self.unit_of_work, self.store_for, blocks)
        return ReapplyResult(result.markers_restored, result.requests_purged, holds)

    async def reapply_at_start(self) -> None:
        """The erasure log re-applied before the vault subscribes: after a database restore not
        even the first request can read data erased since the backup, and the billing holds are
        taken from the stream before the sweep runs. If the stream cannot be read, this raises
        and the service does not start (nothing would guard the restored rows)."""
        result = await self.reapply()
        log.info("erasure log re-applied at start", extra={"count": result.requests_purged,
                                                           "billing_holds": result.holds_restored})
