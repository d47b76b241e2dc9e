"""Whom a technician helps: the caller's company, contact and phone for a session, read from the
vault while it still has them (the same vault call and purpose as the queue). Nothing read is
stored or logged; once the data are erased the answer says so, with the time of the erasure."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fw_contracts.vault import PersonalData
from fw_platform.vault_client import VaultUnavailable
from fw_session.application.ports import UowFactory, Vault
from fw_session.domain.errors import NotYourSession, UnknownSession


@dataclass(frozen=True)
class SessionRef:
    """A session with its request's ticket and erasure time (no personal data)."""

    session_id: uuid.UUID
    request_id: uuid.UUID
    ticket: str | None
    technician: str
    started_at: datetime
    ended_at: datetime | None
    erased_at: datetime | None


@dataclass(frozen=True)
class SessionContact:
    """``data`` is None when the vault no longer has the request (``erased``) or could not be
    asked (``unavailable``)."""

    ref: SessionRef
    data: PersonalData | None
    state: str  # "available" | "erased" | "unavailable"


class ContactReads(Protocol):
    async def one(self, session_id: uuid.UUID) -> SessionRef | None: ...
    async def running(self, technician: str | None, limit: int) -> Sequence[SessionRef]: ...
    async def tickets(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]: ...


class SessionContacts:
    """Use cases of the technician's and the lead's views."""

    def __init__(self, *, uow: UowFactory, reads: Callable[[object], ContactReads], vault: Vault) -> None:
        self._uow = uow
        self._reads = reads
        self._vault = vault

    async def _with_data(self, ref: SessionRef) -> SessionContact:
        try:
            data = await self._vault.personal_data(ref.request_id)
        except VaultUnavailable:
            return SessionContact(ref, None, "unavailable")
        return SessionContact(ref, data, "available" if data is not None else "erased")

    async def contact(self, session_id: uuid.UUID, technician: str) -> SessionContact:
        """The session's caller, as far as the vault still has them; only for the session's own
        technician (another one takes the session over first)."""
        async with self._uow() as uow:
            ref = await self._reads(uow.conn).one(session_id)
        if ref is None:
            raise UnknownSession
        if ref.technician != technician:
            raise NotYourSession
        if ref.erased_at is not None:  # erased: do not even ask the vault
            return SessionContact(ref, None, "erased")
        return await self._with_data(ref)

    async def running(self, technician: str | None, limit: int) -> list[SessionContact]:
        """Running sessions (of one technician, or all for the lead), oldest first, with company."""
        async with self._uow() as uow:
            refs = await self._reads(uow.conn).running(technician, limit)
        # Read outside the transaction: a slow vault must not hold a database connection.
        jobs: list[Awaitable[SessionContact]] = [
            self._with_data(r) if r.erased_at is None else _erased(r) for r in refs]
        return list(await asyncio.gather(*jobs))

    async def tickets(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The ticket code of each known request (pseudonymous; for lists that show ids)."""
        async with self._uow() as uow:
            return await self._reads(uow.conn).tickets(request_ids)


async def _erased(ref: SessionRef) -> SessionContact:
    return SessionContact(ref, None, "erased")
