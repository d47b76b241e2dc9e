"""Handlers for events intake consumes: they move the request's status, nothing else."""

from __future__ import annotations

import logging

from fw_contracts.events import PersonalDataErased, SessionStarted
from fw_intake.application.ports import SupportRequestsFactory
from fw_intake.domain.request import evolve
from fw_platform.handling import PermanentError, UnitOfWork

log = logging.getLogger(__name__)


async def on_session_started(event: SessionStarted, uow: UnitOfWork, *,
                             requests: SupportRequestsFactory) -> None:
    """A technician started working on the request: it can no longer be withdrawn."""
    repo = requests(uow.conn)
    state = await repo.get(event.request_id, lock=True)
    if state is None:
        # Intake commits a request before its event leaves the outbox, so a session for an
        # unknown request is an inconsistency someone must look at: park it.
        raise PermanentError("session started for a request unknown to intake")
    new_state = evolve(state, event)
    if new_state != state and new_state is not None:
        await repo.save(new_state)
        log.info("support request in session", extra={"request_id": str(event.request_id)})


async def on_personal_data_erased(event: PersonalDataErased, uow: UnitOfWork, *,
                                  requests: SupportRequestsFactory) -> None:
    """Retention erased the request's personal data: the request is closed for good."""
    repo = requests(uow.conn)
    state = await repo.get(event.request_id, lock=True)
    if state is None:
        # Retention may erase vault entries intake never recorded (a put whose commit failed).
        log.info("erasure of a request unknown to intake", extra={"request_id": str(event.request_id)})
        return
    new_state = evolve(state, event)
    if new_state != state and new_state is not None:
        await repo.save(new_state)
        log.info("support request erased", extra={"request_id": str(event.request_id)})
