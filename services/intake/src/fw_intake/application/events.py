"""Handlers for events intake consumes: they move the request's status, nothing else.

Both take the consumer's run of consecutive events of their type (:func:`fw_platform.handling.batched`):
the requests are read and locked with one statement and written back with one, however many
events the run holds; each event is decided in stream order as before.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from fw_contracts.events import PersonalDataErased, SessionStarted
from fw_intake.application.ports import SupportRequestsFactory
from fw_intake.domain.request import SupportRequest, evolve
from fw_platform.handling import PermanentError, UnitOfWork

log = logging.getLogger(__name__)


async def on_session_started(events: Sequence[SessionStarted], uow: UnitOfWork, *,
                             requests: SupportRequestsFactory) -> None:
    """A technician started working on the request: it can no longer be withdrawn."""
    await _apply(events, uow, requests)


async def on_personal_data_erased(events: Sequence[PersonalDataErased], uow: UnitOfWork, *,
                                  requests: SupportRequestsFactory) -> None:
    """Retention erased the request's personal data: the request is closed for good."""
    await _apply(events, uow, requests)


async def _apply(events: Sequence[SessionStarted | PersonalDataErased], uow: UnitOfWork,
                 requests: SupportRequestsFactory) -> None:
    # the run's one write goes with the COMMIT (nothing after it reads the rows)
    repo = requests(uow.conn, at_commit=uow.write_at_commit)
    states: dict[uuid.UUID, SupportRequest] = await repo.get_many([e.request_id for e in events], lock=True)
    changed: dict[uuid.UUID, SupportRequest] = {}
    for event in events:
        state = states.get(event.request_id)
        if state is None:
            if isinstance(event, SessionStarted):
                # Intake commits a request before its event leaves the outbox, so a session for an
                # unknown request is an inconsistency someone must look at: park it (a run with it
                # is rolled back and its events handled one by one, so only this one is parked).
                raise PermanentError("session started for a request unknown to intake")
            # Retention may erase vault entries intake never recorded (a put whose commit failed).
            log.info("erasure of a request unknown to intake", extra={"request_id": str(event.request_id)})
            continue
        new_state = evolve(state, event)
        if new_state != state and new_state is not None:
            states[event.request_id] = changed[event.request_id] = new_state
            log.info("support request in session" if isinstance(event, SessionStarted)
                     else "support request erased", extra={"request_id": str(event.request_id)})
    await repo.save_many(list(changed.values()))
