"""In-memory fakes of the session service's ports, for handler-level tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fw_contracts import Event
from fw_contracts.events import SupportRequestCreated, TermsAcceptance
from fw_contracts.vault import Address, PersonalData, PromotionStatement, VaultError
from fw_platform.handling import UnitOfWork
from fw_platform.vault_client import VaultUnavailable
from fw_session.application.billing import BillingAddressService, BillingEventHandlers
from fw_session.application.ports import ConcurrentChange, VaultRejected
from fw_session.application.queue_events import QueueEventHandlers
from fw_session.application.service import SessionService
from fw_session.domain.billing import BillingBlock
from fw_session.domain.requests import QueueEntry
from fw_session.domain.session import Session, SessionEvent, SessionStatus, SessionSummary, replay

T0 = datetime(2025, 3, 3, 9, 0, 0, 250_000, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class FakeRequestStore:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, QueueEntry] = {}
        #: statements of save_many that wrote
        self.batch_writes = 0

    async def lock_or_placeholder(self, request_id: uuid.UUID) -> QueueEntry:
        return self.rows.setdefault(request_id, QueueEntry.placeholder(request_id))

    async def lock_or_placeholders(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, QueueEntry]:
        return {i: await self.lock_or_placeholder(i) for i in sorted(set(request_ids))}

    async def save_many(self, entries: Sequence[QueueEntry]) -> None:
        for entry in entries:
            await self.save(entry)
        self.batch_writes += 1 if entries else 0

    async def lock(self, request_id: uuid.UUID) -> QueueEntry | None:
        return self.rows.get(request_id)

    async def get(self, request_id: uuid.UUID) -> QueueEntry | None:
        return self.rows.get(request_id)

    async def save(self, entry: QueueEntry) -> None:
        self.rows[entry.request_id] = entry

    async def in_queue(self, limit: int) -> Sequence[QueueEntry]:
        waiting = [e for e in self.rows.values() if e.in_queue]
        return sorted(waiting, key=lambda e: (e.created_at or T0, e.request_id))[:limit]


class FakeSessionStore:
    def __init__(self) -> None:
        self.events: dict[uuid.UUID, list[SessionEvent]] = {}

    async def load(self, session_id: uuid.UUID, *, for_update: bool = False) -> Session | None:
        return replay(self.events.get(session_id, []))

    async def append(self, before: Session | None, events: Sequence[SessionEvent]) -> Session:
        after = replay(events, before)
        assert after is not None
        stored = self.events.setdefault(after.session_id, [])
        if len(stored) != (before.version if before else 0):
            raise ConcurrentChange
        stored.extend(events)
        return after

    async def of_technician(self, technician: str, status: SessionStatus, limit: int) -> Sequence[SessionSummary]:
        states = [s for s in (replay(e) for e in self.events.values())
                  if s is not None and s.technician == technician and s.status is status]
        if status is SessionStatus.RUNNING:
            states.sort(key=lambda s: (s.started_at, s.session_id))
        else:
            states.sort(key=lambda s: (s.ended_at, s.session_id), reverse=True)
        return [SessionSummary(session_id=s.session_id, request_id=s.request_id, ticket=None,
                               technician=s.technician, started_at=s.started_at, ended_at=s.ended_at,
                               duration_seconds=s.duration_seconds) for s in states[:limit]]


class FakeBillingBlockStore:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, BillingBlock] = {}

    async def lock(self, session_id: uuid.UUID) -> BillingBlock | None:
        return self.rows.get(session_id)

    async def get(self, session_id: uuid.UUID) -> BillingBlock | None:
        return self.rows.get(session_id)

    async def save(self, block: BillingBlock) -> None:
        self.rows[block.session_id] = block


@dataclass
class FakeStores:
    requests: FakeRequestStore = field(default_factory=FakeRequestStore)
    sessions: FakeSessionStore = field(default_factory=FakeSessionStore)
    blocks: FakeBillingBlockStore = field(default_factory=FakeBillingBlockStore)


class FakeVault:
    def __init__(self) -> None:
        self.data: dict[uuid.UUID, PersonalData] = {}
        self.statements: dict[uuid.UUID, PromotionStatement] = {}
        self.addresses: dict[uuid.UUID, Address] = {}
        self.refuse_address: VaultError | None = None
        self.available = True
        self.refuse_statement: VaultError | None = None
        #: request id -> the outcome claimed first (``session_started`` or ``withdrawn``)
        self.claims: dict[uuid.UUID, str] = {}

    async def personal_data(self, request_id: uuid.UUID) -> PersonalData | None:
        if not self.available:
            raise VaultUnavailable("NoRespondersError")
        return self.data.get(request_id)

    async def add_statement(self, request_id: uuid.UUID, statement: PromotionStatement) -> None:
        if not self.available:
            raise VaultUnavailable("TimeoutError")
        if self.refuse_statement:
            raise VaultRejected(self.refuse_statement)
        self.statements[request_id] = statement

    async def set_address(self, request_id: uuid.UUID, address: Address) -> None:
        if not self.available:
            raise VaultUnavailable("TimeoutError")
        if self.refuse_address:
            raise VaultRejected(self.refuse_address)
        self.addresses[request_id] = address

    async def claim_start(self, request_id: uuid.UUID) -> None:
        """Like the vault's claim: the first outcome wins (a test may preset ``claims``)."""
        if not self.available:
            raise VaultUnavailable("TimeoutError")
        if self.claims.setdefault(request_id, "session_started") != "session_started":
            raise VaultRejected(VaultError.CLAIMED)


class FakeUow:
    """Commits the emitted events to ``published`` only when the block ends without error."""

    def __init__(self) -> None:
        self.published: list[Event] = []

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        uow = UnitOfWork(conn=None, now=T0)  # type: ignore[arg-type]
        yield uow
        self.published.extend(uow.emitted + uow.outboxed)


@dataclass
class World:
    clock: FakeClock
    stores: FakeStores
    vault: FakeVault
    uow: FakeUow
    service: SessionService
    handlers: QueueEventHandlers
    billing: BillingAddressService
    billing_handlers: BillingEventHandlers

    @staticmethod
    def created(request_id: uuid.UUID | None = None, at: datetime = T0) -> SupportRequestCreated:
        """A valid ``SupportRequestCreated`` as intake would publish it."""
        return SupportRequestCreated(
            request_id=request_id or uuid.uuid4(), ticket="K7MQ-3XA", occurred_at=at,
            terms=TermsAcceptance(terms_version="2025-01", terms_sha256="a" * 64, accepted_at=at))

    async def waiting_request(self, at: datetime = T0, company: str = "Muster GmbH") -> uuid.UUID:
        """A request in the queue with its data in the (fake) vault."""
        event = self.created(at=at)
        await self.deliver(event)
        self.vault.data[event.request_id] = PersonalData(
            company=company, contact_name="Erika Mustermann", phone="+4930123456")
        return event.request_id

    def new_uow(self) -> UnitOfWork:
        return UnitOfWork(conn=None, now=self.clock())  # type: ignore[arg-type]

    async def deliver(self, event: Any) -> list[Event]:
        """Run the matching consumer handler as the platform would; returns what it emitted."""
        uow = self.new_uow()
        name = "on_" + type(event).subject().split(".")[2]
        target = self.handlers if hasattr(self.handlers, name) else self.billing_handlers
        await getattr(target, name)(event, uow)
        return uow.emitted


@pytest.fixture
def world() -> World:
    clock, stores, vault, uow = FakeClock(), FakeStores(), FakeVault(), FakeUow()
    service = SessionService(uow=uow, stores=lambda _: stores, vault=vault, now=clock)
    billing = BillingAddressService(uow=uow, stores=lambda _: stores, vault=vault, now=clock)
    return World(clock, stores, vault, uow, service, QueueEventHandlers(lambda _: stores), billing,
                 BillingEventHandlers(lambda _: stores))
