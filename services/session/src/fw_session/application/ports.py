"""What the use cases need from the outside world, as protocols (SQL and NATS implement them)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from fw_contracts.address import PostalAddress
from fw_contracts.vault import PersonalData, PromotionStatement, VaultError
from fw_platform.handling import UnitOfWork
from fw_session.domain.billing import BillingBlock
from fw_session.domain.requests import QueueEntry
from fw_session.domain.session import Session, SessionEvent, SessionStatus, SessionSummary

Clock = Callable[[], datetime]
UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


class ConcurrentChange(Exception):
    """Someone else changed the same session or request in between; the command may be retried."""


class VaultRejected(Exception):
    """The vault answered but refused (the reason is a code, never data)."""

    def __init__(self, error: VaultError) -> None:
        super().__init__(f"vault refused: {error.value}")
        self.error = error


class RequestStore(Protocol):
    """Queue entries, inside the unit of work's transaction."""

    async def lock_or_placeholder(self, request_id: uuid.UUID) -> QueueEntry:
        """The entry, locked for this transaction; a placeholder is created if none exists."""

    async def lock_or_placeholders(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, QueueEntry]:
        """:meth:`lock_or_placeholder` for each id, by id (one statement)."""

    async def save_many(self, entries: Sequence[QueueEntry]) -> None:
        """:meth:`save` for each entry (one statement; none for no entries)."""

    async def lock(self, request_id: uuid.UUID) -> QueueEntry | None:
        """The entry, locked for this transaction, or None."""

    async def get(self, request_id: uuid.UUID) -> QueueEntry | None:
        """The entry without a lock (read-only views), or None."""

    async def save(self, entry: QueueEntry) -> None: ...

    async def in_queue(self, limit: int) -> Sequence[QueueEntry]:
        """Waiting, not erased entries, oldest first."""


class SessionStore(Protocol):
    """The session's own events (the source of its state), inside the transaction."""

    async def load(self, session_id: uuid.UUID, *, for_update: bool = False) -> Session | None: ...

    async def append(self, before: Session | None, events: Sequence[SessionEvent]) -> Session:
        """Store new events after ``before`` (None: a new session) and write them to the outbox,
        in one statement (the caller declares them with ``uow.written``); raises
        ConcurrentChange, nothing written."""

    async def of_technician(self, technician: str, status: SessionStatus, limit: int) -> Sequence[SessionSummary]:
        """The technician's sessions in ``status``: running oldest first, ended most recent first."""


class BillingBlockStore(Protocol):
    """Billing blocks per session, inside the transaction."""

    async def lock(self, session_id: uuid.UUID) -> BillingBlock | None:
        """The block, locked for this transaction, or None if billing never blocked the session."""

    async def save(self, block: BillingBlock) -> None:
        """Insert or update (an upsert: two first deliveries cannot both insert)."""

    async def get(self, session_id: uuid.UUID) -> BillingBlock | None: ...


class Stores(Protocol):
    @property
    def requests(self) -> RequestStore: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def blocks(self) -> BillingBlockStore: ...


StoresFactory = Callable[[UnitOfWork], Stores]


class Vault(Protocol):
    """The personal-data vault. Raises ``VaultUnavailable`` when it cannot be reached."""

    async def personal_data(self, request_id: uuid.UUID) -> PersonalData | None:
        """The caller's data for the queue; None when erased or unknown to the vault."""

    async def add_statement(self, request_id: uuid.UUID, statement: PromotionStatement) -> None:
        """Store the promotion statement; raises :class:`VaultRejected` if refused."""

    async def set_address(self, request_id: uuid.UUID, address: PostalAddress) -> None:
        """Add or replace the billing address; raises :class:`VaultRejected` if refused."""

    async def claim_start(self, request_id: uuid.UUID) -> None:
        """Decide the request's outcome as started at the vault (first claim wins against the
        customer's withdrawal); raises :class:`VaultRejected` (``claimed``: withdrawn first)."""
