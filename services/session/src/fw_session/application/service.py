"""The technician's use cases: see the queue, start, record a promotion, end, take over, look up.

Every use case on a session names the acting technician (who is signed in); only the session's
technician may read or change it, others get :class:`NotYourSession` until they take it over.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fw_contracts.vault import PersonalData, PromotionStatement, VaultError
from fw_platform.vault_client import VaultUnavailable
from fw_session.application.ports import Clock, ConcurrentChange, StoresFactory, UowFactory, Vault, VaultRejected
from fw_session.domain.errors import RequestErased, RequestWithdrawn
from fw_session.domain.requests import QueueEntry, ensure_startable, evolve_request, waiting_seconds
from fw_session.domain.session import (
    Command,
    EndSession,
    RecordPromotion,
    Session,
    SessionStatus,
    SessionSummary,
    StartSession,
    TakeOverSession,
    decide,
    ensure_owner,
    to_second,
)

log = logging.getLogger(__name__)

#: How often a command without a row lock is decided again after a concurrent change.
CONCURRENT_ATTEMPTS = 3


@dataclass(frozen=True)
class QueueItem:
    """A waiting request with the caller's data, only for the technician's screen."""

    entry: QueueEntry
    waiting_seconds: int
    data: PersonalData


def statement_sha256(text: str) -> str:
    """The fingerprint of a statement's wording, as it is stored in the vault."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SessionService:
    def __init__(self, *, uow: UowFactory, stores: StoresFactory, vault: Vault, now: Clock,
                 queue_limit: int = 200, unlocked: UowFactory | None = None) -> None:
        self._uow = uow
        #: Without a transaction: for commands whose one write checks the version they read
        #: (:meth:`end`, :meth:`take_over`); ``uow`` where none is given (tests, fakes).
        self._unlocked = unlocked or uow
        self._stores = stores
        self._vault = vault
        self._now = now
        self._queue_limit = queue_limit

    async def queue(self) -> list[QueueItem]:
        """Waiting requests, oldest first, with the caller's data read from the vault.

        Raises ``VaultUnavailable`` if the vault cannot be reached for any entry; an entry the
        vault reports erased or unknown is left out. Nothing read from the vault is stored.
        """
        async with self._uow() as uow:
            entries = await self._stores(uow).requests.in_queue(self._queue_limit)
        # Read outside the transaction: a slow vault must not hold a database connection.
        results = await asyncio.gather(
            *(self._vault.personal_data(e.request_id) for e in entries), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise next((f for f in failures if isinstance(f, VaultUnavailable)), failures[0])
        now = self._now()
        return [QueueItem(entry=e, waiting_seconds=waiting_seconds(e, now), data=data)
                for e, data in zip(entries, results, strict=True) if isinstance(data, PersonalData)]

    async def start(self, request_id: uuid.UUID, technician: str) -> Session:
        """Start a session for a waiting request; emits ``SessionStarted``.

        The queue may not have seen a withdrawal the customer just made (it comes over the
        stream). Withdraw vs start is decided at the vault: the start claims the request's
        outcome there, inside this transaction, and is refused (:class:`RequestWithdrawn`) if the
        withdrawal's claim came first. A start whose commit then fails leaves the claim, and the
        technician's retry finds it again (docs/reliability.md).
        """
        async with self._uow() as uow:
            stores = self._stores(uow)
            # The lock serialises two technicians taking the same request at once.
            entry = ensure_startable(await stores.requests.lock(request_id))
            events = decide(StartSession(
                session_id=uuid.uuid4(), request_id=request_id, technician=technician, at=self._now(),
                correlation_id=entry.correlation_id, causation_id=entry.created_event_id), None)
            await self._claim_start(request_id)
            for event in events:
                entry = evolve_request(entry, event)
            await stores.requests.save(entry)
            session = await stores.sessions.append(None, events)
            uow.written(*events)  # append wrote them to the outbox too
        log.info("session started", extra={"session_id": str(session.session_id),
                                           "request_id": str(request_id)})
        return session

    async def _claim_start(self, request_id: uuid.UUID) -> None:
        try:
            await self._vault.claim_start(request_id)
        except VaultRejected as exc:
            if exc.error is VaultError.CLAIMED:
                raise RequestWithdrawn from None
            if exc.error in (VaultError.ERASED, VaultError.NOT_FOUND):
                raise RequestErased from None
            raise

    async def record_promotion(self, session_id: uuid.UUID, text: str, technician: str) -> Session:
        """Store the customer's statement in the vault, then emit ``CustomerPromoted``.

        The session row stays locked during the vault call so that a second promotion waits
        and is then refused without writing a second statement. If the vault fails, the
        transaction rolls back and nothing is emitted.
        """
        async with self._uow() as uow:
            stores = self._stores(uow)
            session = await stores.sessions.load(session_id, for_update=True)
            at = to_second(self._now())
            session = ensure_owner(session, technician)
            # The statement records who heard it: the acting technician, never the starter.
            statement = PromotionStatement(text=text, technician=technician,
                                           stated_at=max(at, session.started_at))
            events = decide(RecordPromotion(statement_sha256=statement_sha256(statement.text),
                                            at=statement.stated_at, technician=technician), session)
            await self._vault.add_statement(session.request_id, statement)
            session = await stores.sessions.append(session, events)
            uow.written(*events)  # append wrote them to the outbox too
        log.info("customer promoted", extra={"session_id": str(session_id),
                                             "request_id": str(session.request_id)})
        return session

    async def end(self, session_id: uuid.UUID, technician: str) -> Session:
        """End a running session; emits ``SessionEnded`` with its duration in whole seconds."""
        session = await self._change(session_id, lambda: EndSession(at=self._now(), technician=technician))
        log.info("session ended", extra={"session_id": str(session_id),
                                         "request_id": str(session.request_id)})
        return session

    async def _change(self, session_id: uuid.UUID, command: Callable[[], Command]) -> Session:
        """Load, decide and append without a transaction or a row lock: the append is one
        statement that writes only if the session's version is still the one loaded (optimistic,
        :class:`ConcurrentChange` otherwise). Two round trips instead of four (no BEGIN, no
        COMMIT). A concurrent change (a takeover while the session ends) is decided again on
        the new state, as the lock made it wait for that state before."""
        for attempt in range(1, CONCURRENT_ATTEMPTS + 1):
            try:
                async with self._unlocked() as uow:
                    stores = self._stores(uow)
                    session = await stores.sessions.load(session_id)
                    events = decide(command(), session)
                    session = await stores.sessions.append(session, events)
                    uow.written(*events)  # append wrote them to the outbox too
                return session
            except ConcurrentChange:
                if attempt == CONCURRENT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def take_over(self, session_id: uuid.UUID, technician: str, to_technician: str | None = None) -> Session:
        """``technician`` takes the running session over (for ``to_technician``, default: themself).

        Emits ``SessionTakenOver``; from then on only the new technician may act on it. Who may
        take over (a technician for themself, a lead for anyone) is the signed-in front end's
        decision: this service records who acted.
        """
        session = await self._change(session_id, lambda: TakeOverSession(
            technician=technician, to_technician=to_technician or technician, at=self._now()))
        log.info("session taken over", extra={"session_id": str(session_id),
                                              "request_id": str(session.request_id)})
        return session

    async def of_technician(self, technician: str, status: SessionStatus, limit: int) -> list[SessionSummary]:
        """The technician's running sessions (oldest first) or the last ``limit`` ended ones (most
        recent first). Ids, ticket and times only: nothing is read from the vault."""
        async with self._uow() as uow:
            return list(await self._stores(uow).sessions.of_technician(technician, status, limit))

    async def get(self, session_id: uuid.UUID, technician: str) -> Session:
        """The session's current state, folded from its events (only for its technician)."""
        async with self._uow() as uow:
            session = await self._stores(uow).sessions.load(session_id)
        return ensure_owner(session, technician)

