"""Handlers of the consumed events that feed the technician's queue.

Each handler runs inside the consumer's transaction (with the platform's idempotency record).
It is idempotent also by state: the entry is locked, evolved and written back, so a redelivered
or late event never duplicates an entry nor fails on a missing one.
"""

from __future__ import annotations

import logging

from fw_contracts.events import PersonalDataErased, SupportRequestCreated, SupportRequestWithdrawn
from fw_platform.handling import UnitOfWork
from fw_session.application.ports import StoresFactory
from fw_session.domain.requests import evolve_request

log = logging.getLogger(__name__)

QueueEvent = SupportRequestCreated | SupportRequestWithdrawn | PersonalDataErased


class QueueEventHandlers:
    """``on_<event>(event, uow)`` handlers, bound to the store implementation by bootstrap."""

    def __init__(self, stores: StoresFactory) -> None:
        self._stores = stores

    async def _apply(self, event: QueueEvent, uow: UnitOfWork) -> None:
        requests = self._stores(uow).requests
        entry = await requests.lock_or_placeholder(event.request_id)
        updated = evolve_request(entry, event)
        if updated != entry:
            await requests.save(updated)
        log.info("queue entry updated", extra={
            "request_id": str(event.request_id), "event_type": event.event_type,
            "status": updated.status.value})

    async def on_support_request_created(self, event: SupportRequestCreated, uow: UnitOfWork) -> None:
        """A caller created a request: it waits in the queue (unless withdrawn/erased earlier)."""
        await self._apply(event, uow)

    async def on_support_request_withdrawn(self, event: SupportRequestWithdrawn, uow: UnitOfWork) -> None:
        """The caller withdrew: the request leaves the queue (also if the creation comes later)."""
        await self._apply(event, uow)

    async def on_personal_data_erased(self, event: PersonalDataErased, uow: UnitOfWork) -> None:
        """The caller's data are gone: a waiting request can no longer be started."""
        await self._apply(event, uow)
