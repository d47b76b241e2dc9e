"""HTTP-driven use cases: create, read and withdraw a support request."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fw_contracts.events import CustomerType
from fw_contracts.vault import PersonalData, VaultError
from fw_intake.application.ports import PersonalDataVault, SupportRequestsFactory, UnitOfWorkFactory
from fw_intake.domain.download import download_hash, generate_download_code
from fw_intake.domain.request import (
    RequestStatus,
    SupportRequest,
    WithdrawRefused,
    decide_create,
    decide_withdraw,
    evolve,
)
from fw_intake.domain.terms import TermsDocument
from fw_intake.domain.ticket import generate_ticket
from fw_platform.vault_client import VaultRefused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateSupportRequest:
    """A validated request from the form. ``personal_data`` goes to the vault and nowhere else."""

    personal_data: PersonalData
    customer_type: CustomerType
    terms: TermsDocument
    withdrawal_waiver: bool


@dataclass(frozen=True)
class Created:
    request_id: uuid.UUID
    ticket: str
    #: The download code, given to the customer once (this reply); only its hash is kept.
    download_code: str


class RequestNotFound(Exception):
    """No request with that id (never existed here)."""


class TicketSpaceExhausted(RuntimeError):
    """Every ticket drawn was taken: practically impossible unless the generator is broken."""


async def create_support_request(
    cmd: CreateSupportRequest,
    *,
    vault: PersonalDataVault,
    unit_of_work: UnitOfWorkFactory,
    requests: SupportRequestsFactory,
    new_ticket: Callable[[], str] = generate_ticket,
    max_ticket_attempts: int = 10,
    new_download_code: Callable[[], str] = generate_download_code,
) -> Created:
    """Store the personal data in the vault, then record the request and its event together.

    The vault comes first: if it is away, ``VaultUnavailable`` propagates and nothing has been
    written anywhere, so the customer can simply try again. The request and its event are one
    statement (``repo.add``), so ``unit_of_work`` may be a connection without a transaction
    (``runtime.single_statement``: no BEGIN and COMMIT); a taken ticket writes nothing.
    """
    request_id = uuid.uuid4()
    code = new_download_code()
    await vault.put(request_id, cmd.personal_data)
    async with unit_of_work() as uow:
        repo = requests(uow.conn)
        for _ in range(max_ticket_attempts):
            event = decide_create(
                request_id=request_id, ticket=new_ticket(), customer_type=cmd.customer_type,
                terms=cmd.terms, withdrawal_waiver=cmd.withdrawal_waiver,
                has_billing_address=cmd.personal_data.address is not None,
                has_email=cmd.personal_data.email is not None, now=uow.now,
                download_sha256=download_hash(code))
            state = evolve(None, event)
            assert state is not None
            if await repo.add(state, event):
                break
        else:
            raise TicketSpaceExhausted("no free ticket found")
    log.info("support request created", extra={"request_id": str(request_id), "ticket": event.ticket})
    return Created(request_id=request_id, ticket=event.ticket, download_code=code)


async def get_support_request(request_id: uuid.UUID, *, unit_of_work: UnitOfWorkFactory,
                              requests: SupportRequestsFactory) -> SupportRequest:
    """The request's public status; raises :class:`RequestNotFound`."""
    async with unit_of_work() as uow:
        state = await requests(uow.conn).get(request_id)
    if state is None:
        raise RequestNotFound
    return state


async def withdraw_support_request(request_id: uuid.UUID, *, unit_of_work: UnitOfWorkFactory,
                                   requests: SupportRequestsFactory,
                                   vault: PersonalDataVault) -> SupportRequest:
    """Withdraw an open request; raises :class:`RequestNotFound` or ``WithdrawRefused``.

    Intake learns of a session start only from the stream, later. Who wins when a technician
    starts at the same moment is therefore decided at the vault (a claim on the request's
    outcome, docs/reliability.md): the withdrawal is recorded only if its claim won; otherwise
    it is refused as ``session_started``. ``VaultUnavailable`` propagates: nothing recorded.
    """
    async with unit_of_work() as uow:
        repo = requests(uow.conn)
        # The row lock serialises two withdrawals (and a concurrent SessionStarted handler).
        state = await repo.get(request_id, lock=True)
        if state is None:
            raise RequestNotFound
        event = decide_withdraw(state, uow.now)
        try:
            await vault.claim_withdrawal(request_id)
        except VaultRefused as exc:
            if exc.error is VaultError.CLAIMED:
                raise WithdrawRefused("session_started", RequestStatus.IN_SESSION) from None
            if exc.error is VaultError.ERASED:
                raise WithdrawRefused("request_closed", RequestStatus.ERASED) from None
            # not_found: the vault never stored the request, so no session can start either
            if exc.error is not VaultError.NOT_FOUND:
                raise
        new_state = evolve(state, event)
        assert new_state is not None
        await repo.save(new_state)
        uow.emit(event)
    log.info("support request withdrawn", extra={"request_id": str(request_id)})
    return new_state
