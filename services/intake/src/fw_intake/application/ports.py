"""What the use cases need from the outside world, as protocols (fakes in unit tests)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from fw_contracts import Event
from fw_contracts.vault import PersonalData
from fw_intake.domain.request import SupportRequest
from fw_platform.handling import UnitOfWork


class SupportRequests(Protocol):
    """Intake's table of requests, bound to one transaction's connection."""

    async def add(self, request: SupportRequest, event: Event) -> bool:
        """Insert the request and write ``event`` to the outbox with it (one statement); False
        (and nothing written) if the ticket is already taken."""
        ...

    async def get(self, request_id: uuid.UUID, *, lock: bool = False) -> SupportRequest | None:
        """The request, or None; ``lock`` holds its row until the transaction ends."""
        ...

    async def save(self, request: SupportRequest) -> None:
        """Write the status of an existing request."""
        ...

    async def get_many(self, request_ids: Sequence[uuid.UUID], *, lock: bool = False,
                       ) -> dict[uuid.UUID, SupportRequest]:
        """The known ones of these requests by id (one statement); ``lock`` as in :meth:`get`."""
        ...

    async def save_many(self, requests: Sequence[SupportRequest]) -> None:
        """Write the status of existing requests (one statement)."""
        ...


#: Builds the repository on a transaction's connection (``uow.conn``).
#: ``(conn)``, or ``(conn, at_commit=UnitOfWork.write_at_commit)`` for a consumer's run, whose
#: ``save_many`` then goes with the COMMIT.
SupportRequestsFactory = Callable[..., SupportRequests]

#: ``runtime.unit_of_work`` or a fake: a transaction whose emitted events go to the outbox; or
#: ``runtime.single_statement``: a connection for a command that is one statement (create).
UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


class PersonalDataVault(Protocol):
    async def put(self, request_id: uuid.UUID, data: PersonalData) -> None:
        """Store the data; raises ``VaultUnavailable`` or ``VaultRefused``."""
        ...

    async def claim_withdrawal(self, request_id: uuid.UUID) -> None:
        """Decide the request's outcome as withdrawn at the vault (first claim wins against a
        session start); raises ``VaultRefused`` (``claimed``: a session started) or
        ``VaultUnavailable``."""
        ...
