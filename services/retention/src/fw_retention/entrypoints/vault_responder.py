"""The vault's NATS request/reply endpoint (core NATS, queue group ``retention-vault``).

One subject per operation and caller (``vault.v1.get.billing``), exactly those of
``domain.callers.CALLERS``: the caller is the subject's, never the body's, and NATS lets each
service user publish only on its own. Thin: parse the body into the contract model, run the use
case in one transaction with the caller, reply with a ``VaultReply``. Always replies (``invalid``
/ ``internal`` on trouble), never raises out of the callback, and never logs a payload: the bodies
carry personal data.

The transaction is begun by the use case's first statement, the request's lock (bootstrap passes
``Runtime.deferred_unit_of_work``; every use case locks before anything else, or writes only the
access-log row of a refused call): ``BEGIN`` costs no round trip of its own. The request's last
writes (access-log row, claim, new entry) go with its ``COMMIT`` (``UnitOfWork.write_at_commit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError

from fw_contracts.vault import (
    AddressRequest,
    ClaimRequest,
    GetRequest,
    PutRequest,
    StatementRequest,
    VaultError,
    VaultReply,
)
from fw_contracts.wire import VaultCaller, VaultSubject, vault_subject
from fw_retention.application import vault
from fw_retention.application.erasure import UnitOfWorkFactory
from fw_retention.application.ports import Cipher, Clock, StoreFactory
from fw_retention.domain.callers import CALLERS

log = logging.getLogger(__name__)

QUEUE = "retention-vault"
INVALID = VaultReply(ok=False, error=VaultError.INVALID)
INTERNAL = VaultReply(ok=False, error=VaultError.INTERNAL)

UseCase = Callable[[Any, Cipher, Any, Any, VaultCaller], Awaitable[VaultReply]]
OPERATIONS: dict[VaultSubject, tuple[type[BaseModel], UseCase]] = {
    VaultSubject.PUT: (PutRequest, vault.put),
    VaultSubject.GET: (GetRequest, vault.get),
    VaultSubject.ADD_STATEMENT: (StatementRequest, vault.add_statement),
    VaultSubject.ADDRESS: (AddressRequest, vault.set_address),
    VaultSubject.CLAIM: (ClaimRequest, vault.claim),
}
#: subject -> (request model, use case, caller): only the operations each caller may use.
ROUTES: dict[str, tuple[type[BaseModel], UseCase, VaultCaller]] = {
    vault_subject(op, caller): (*OPERATIONS[op], caller)
    for caller, rights in CALLERS.items() for op in sorted(rights.operations)
}


class VaultResponder:
    """Subscribes the vault subjects once the runtime is connected; see module docstring."""

    def __init__(self, *, unit_of_work: UnitOfWorkFactory, store_for: StoreFactory, cipher: Cipher,
                 clock: Clock, concurrency: int = 16) -> None:
        self._uow = unit_of_work
        self._store_for = store_for
        self._cipher = cipher
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, nc: Client) -> None:
        """Subscribe every vault subject in the shared queue group (instances share the load)."""
        for subject in ROUTES:
            self._subs.append(await nc.subscribe(subject, queue=QUEUE, cb=self._on_message))
        # The SUBs are only buffered so far: flush so that the server knows them before we
        # report ready (a request right after start would otherwise find "no responders").
        await nc.flush()
        log.info("vault listening", extra={"count": len(self._subs)})

    @property
    def listening(self) -> bool:
        """True while every vault subject is subscribed (part of readiness)."""
        return len(self._subs) == len(ROUTES)

    async def stop(self) -> None:
        """Stop taking requests and let those in flight finish."""
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_message(self, msg: Msg) -> None:
        # nats-py calls this callback one message at a time; we hand each request to a task so
        # several run at once, and wait for a free slot first so that a flood backs up in the
        # subscription (and times out at the caller) instead of piling up tasks here.
        await self._slots.acquire()
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _serve(self, msg: Msg) -> None:
        reply = await self.handle(msg.subject, msg.data)
        if not msg.reply:
            return
        try:
            await msg.respond(reply.model_dump_json().encode())
        except Exception as exc:  # noqa: BLE001 - the caller has gone or NATS is away: it will time out
            log.warning("vault reply not sent", extra={"error": type(exc).__name__})

    async def handle(self, subject: str, body: bytes) -> VaultReply:
        """Answer one vault request (without NATS, for tests and reuse)."""
        route = ROUTES.get(subject)
        if route is None:
            return INVALID
        model, use_case, caller = route
        try:
            request = model.model_validate_json(body)
        except ValidationError:
            return INVALID  # never echo the body or pydantic's message: both may hold data
        request_id = str(getattr(request, "request_id", ""))
        try:
            async with self._uow() as uow:
                # the request's last writes go with its COMMIT (PgVaultStore)
                store = self._store_for(uow.conn, uow.write_at_commit)
                return await use_case(store, self._cipher, request, self._clock(), caller)
        except Exception as exc:  # noqa: BLE001 - the caller gets INTERNAL, the log the type
            log.error("vault request failed", extra={"request_id": request_id,
                                                     "error": type(exc).__name__})
            return INTERNAL
