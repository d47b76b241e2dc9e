"""Fakes for intake's unit tests: vault, repository and unit of work, all in memory."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from fw_contracts import Event, utcnow
from fw_contracts.vault import PersonalData, VaultError, VaultReply
from fw_intake.domain.request import SupportRequest
from fw_platform.handling import UnitOfWork
from fw_platform.vault_client import VaultRefused, VaultUnavailable


class FakeVault:
    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, PersonalData] = {}
        self.available = True
        #: request id -> the outcome claimed first (``withdrawn`` or ``session_started``)
        self.claims: dict[uuid.UUID, str] = {}

    async def put(self, request_id: uuid.UUID, data: PersonalData) -> None:
        if not self.available:
            raise VaultUnavailable("no responders")
        self.stored[request_id] = data

    async def claim_withdrawal(self, request_id: uuid.UUID) -> None:
        """Like the vault's claim: the first outcome wins (``claims`` may be preset by a test)."""
        if not self.available:
            raise VaultUnavailable("no responders")
        won = self.claims.setdefault(request_id, "withdrawn")
        if won != "withdrawn":
            raise VaultRefused(VaultError.CLAIMED, VaultReply(ok=False, error=VaultError.CLAIMED))


class FakeStore:
    """The table plus the published outbox; a failed unit of work leaves both untouched."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, SupportRequest] = {}
        self.published: list[Event] = []
        self.transactions = 0
        #: statements that wrote statuses (save, save_many)
        self.writes = 0

    def repo(self, conn: Any, **_: Any) -> FakeRequests:
        return FakeRequests(self)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        before = copy.copy(self.rows)
        uow = UnitOfWork(conn=None, now=utcnow())  # type: ignore[arg-type]
        try:
            yield uow
        except BaseException:
            self.rows = before
            raise
        self.transactions += 1
        self.published.extend(uow.emitted)


class FakeRequests:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def add(self, request: SupportRequest, event: Event) -> bool:
        """Like the one statement: the row and its event, or (ticket taken) nothing."""
        if any(r.ticket == request.ticket for r in self._store.rows.values()):
            return False
        assert request.request_id not in self._store.rows
        self._store.rows[request.request_id] = request
        self._store.published.append(event)
        return True

    async def get(self, request_id: uuid.UUID, *, lock: bool = False) -> SupportRequest | None:
        return self._store.rows.get(request_id)

    async def save(self, request: SupportRequest) -> None:
        assert request.request_id in self._store.rows
        self._store.rows[request.request_id] = request
        self._store.writes += 1

    async def get_many(self, request_ids: Sequence[uuid.UUID], *, lock: bool = False,
                       ) -> dict[uuid.UUID, SupportRequest]:
        return {i: self._store.rows[i] for i in request_ids if i in self._store.rows}

    async def save_many(self, requests: Sequence[SupportRequest]) -> None:
        for request in requests:
            assert request.request_id in self._store.rows
            self._store.rows[request.request_id] = request
        self._store.writes += 1 if requests else 0


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def scripted_tickets(*tickets: str) -> Callable[[], str]:
    """A ticket generator that returns the given codes in order."""
    it = iter(tickets)
    return lambda: next(it)


@pytest.fixture
def tickets() -> Callable[..., Callable[[], str]]:
    return scripted_tickets
