"""Handlers of the consumed events that feed the technician's queue.

Each handler runs inside the consumer's transaction (with the platform's idempotency record).
It is idempotent also by state: the entry is locked, evolved and written back, so a redelivered
or late event never duplicates an entry nor fails on a missing one. The consumers hand over runs
of consecutive events (:meth:`QueueEventHandlers.apply_run`, :func:`fw_platform.handling.batched`):
their entries are locked with one statement and written back with one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from fw_contracts.events import PersonalDataErased, SupportRequestCreated, SupportRequestWithdrawn
from fw_platform.handling import UnitOfWork
from fw_session.application.ports import StoresFactory
from fw_session.domain.requests import QueueEntry, evolve_request

log = logging.getLogger(__name__)

QueueEvent = SupportRequestCreated | SupportRequestWithdrawn | PersonalDataErased


class QueueEventHandlers:
    """``on_<event>(event, uow)`` handlers, bound to the store implementation by bootstrap."""

    def __init__(self, stores: StoresFactory) -> None:
        self._stores = stores

    async def apply_run(self, events: Sequence[QueueEvent], uow: UnitOfWork) -> None:
        """Any run of queue events, in stream order (the consumers' handler for all three)."""
        requests = self._stores(uow).requests
        entries = await requests.lock_or_placeholders([e.request_id for e in events])
        changed: dict[uuid.UUID, QueueEntry] = {}
        for event in events:
            entry = entries[event.request_id]
            updated = evolve_request(entry, event)
            if updated != entry:
                entries[event.request_id] = changed[event.request_id] = updated
            log.info("queue entry updated", extra={
                "request_id": str(event.request_id), "event_type": event.event_type,
                "status": updated.status.value})
        await requests.save_many(list(changed.values()))

    async def _apply(self, event: QueueEvent, uow: UnitOfWork) -> None:
        await self.apply_run([event], uow)

    async def on_support_request_created(self, event: SupportRequestCreated, uow: UnitOfWork) -> None:
        """A caller created a request: it waits in the queue (unless withdrawn/erased earlier)."""
        await self._apply(event, uow)

    async def on_support_request_withdrawn(self, event: SupportRequestWithdrawn, uow: UnitOfWork) -> None:
        """The caller withdrew: the request leaves the queue (also if the creation comes later)."""
        await self._apply(event, uow)

    async def on_personal_data_erased(self, event: PersonalDataErased, uow: UnitOfWork) -> None:
        """The caller's data are gone: a waiting request can no longer be started."""
        await self._apply(event, uow)
