"""One service's infrastructure: pool, migrations, NATS, outbox relay and consumers.

Bootstrap code creates a :class:`Runtime`, registers consumers and hands it to the HTTP app's
lifespan. Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
from nats.aio.client import Client
from nats.js import JetStreamContext

from fw_contracts import STREAM_NAME, Event
from fw_platform import db, outbox
from fw_platform.bus import BusErrors, connect
from fw_platform.consumer import EventConsumer
from fw_platform.db import create_pool, migrate
from fw_platform.handling import Clock, Handler, StatementUnitOfWork, UnitOfWork, utc_now
from fw_platform.settings import ServiceSettings

log = logging.getLogger(__name__)


class Runtime:
    """``clock`` gives every unit of work (consumed events and HTTP commands) its ``now``."""

    def __init__(self, service: str, settings: ServiceSettings, migrations_dir: Path, *,
                 clock: Clock = utc_now) -> None:
        self.service = service
        self.clock = clock
        self.settings = settings
        self._migrations = migrations_dir
        self.bus_errors = BusErrors()
        self._consumer_specs: list[tuple[str, dict[type[Event], Handler]]] = []
        self._ready_checks: dict[str, Callable[[], bool]] = {}
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: asyncpg.Pool | None = None
        self._nc: Client | None = None
        self.relay: outbox.OutboxRelay | None = None

    # -------------------------------------------------------------- wiring
    def consume(self, name: str, handlers: dict[type[Event], Handler]) -> None:
        """Register a durable consumer ``<service>--<name>``; started with the runtime."""
        self._consumer_specs.append((name, handlers))

    def ready_when(self, name: str, check: Callable[[], bool]) -> None:
        """One more readiness check (``/readyz``) beside NATS, PostgreSQL and the consumers,
        e.g. retention's vault subscriptions; registered after construction, like consumers."""
        self._ready_checks[name] = check

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "runtime not started"
        return self._pool

    @property
    def nc(self) -> Client:
        assert self._nc is not None, "runtime not started"
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Connect (:meth:`open`), then consume (:meth:`start_consumers`)."""
        await self.open()
        self.start_consumers()

    async def open(self) -> None:
        """Pool, migrations, NATS and the outbox relay; no consumer runs yet (an app's start
        steps run between this and :meth:`start_consumers`)."""
        s = self.settings
        self._pool = await _until_reachable(
            "postgresql", lambda: create_pool(s.database_url, self.service, max_size=s.db_pool_max))
        await migrate(self._pool, self.service, self._migrations)
        self._nc = await connect(
            s.nats_url, name=f"fw-{self.service}", user=s.nats_user,
            password=s.nats_password.get_secret_value() if s.nats_password else None,
            errors=self.bus_errors)
        self.relay = outbox.OutboxRelay(self._pool, self.js, service=self.service, nc=self._nc,
                                        linger=s.relay_linger_ms / 1000)
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.service}-relay"))

    def start_consumers(self) -> None:
        """The registered durable consumers, each in its own task (after :meth:`open`)."""
        assert self.relay is not None, "open() first"
        s = self.settings
        for name, handlers in self._consumer_specs:
            c = EventConsumer(service=self.service, name=name, pool=self.pool, js=self.js,
                              handlers=handlers, stream=STREAM_NAME, on_commit=self.relay.notify,
                              batch_size=s.consumer_batch, max_attempts=s.max_attempts,
                              linger=s.consumer_linger_ms / 1000, clock=self.clock)
            self.consumers.append(c)
            self._tasks.append(asyncio.create_task(c.run(), name=c.durable))
        log.info("service started", extra={"service": self.service})

    async def stop(self) -> None:
        for c in self.consumers:
            c.stop()
        if self.relay:
            self.relay.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.relay:
            # One last try so that a clean stop leaves nothing behind in the outbox.
            with contextlib.suppress(Exception):
                await self.relay.publish_pending()
        if self._nc:
            # close, not drain: consumers are stopped and every handled message is acked; a
            # drain would wait for the idle pull requests to expire (up to 30 s).
            with contextlib.suppress(Exception):
                await self._nc.close()
        if self._pool:
            await self._pool.close()

    # -------------------------------------------------------------- work
    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A transaction whose emitted events go to the outbox on commit (HTTP commands).

        Raises :class:`fw_platform.db.DatabaseUnavailable` (transient) if PostgreSQL is away.
        """
        tail: list[str] = []
        async with db.transaction(self.pool, tail) as conn:
            uow = UnitOfWork(conn=conn, now=self.clock(), at_commit=tail)
            yield uow
            if uow.emitted:  # with the COMMIT, after the unit of work's own statements there
                tail.append(outbox.append_statement(uow.emitted))
        if (uow.emitted or uow.outboxed) and self.relay:
            self.relay.notify()

    @contextlib.asynccontextmanager
    async def deferred_unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work whose transaction its first lock begins (:func:`fw_platform.db.begin_with`):
        one round trip less than :meth:`unit_of_work`, for commands that lock before anything
        else (see :func:`fw_platform.db.deferred_transaction`). Emitted events are written in
        that transaction, or in one of their own if the block began none."""
        tail: list[str] = []
        async with db.deferred_transaction(self.pool, tail) as conn:
            uow = UnitOfWork(conn=conn, now=self.clock(), at_commit=tail)
            yield uow
            if uow.emitted:  # with the COMMIT (or alone, atomic with the rest of the tail)
                tail.append(outbox.append_statement(uow.emitted))
        if (uow.emitted or uow.outboxed) and self.relay:
            self.relay.notify()

    @contextlib.asynccontextmanager
    async def single_statement(self) -> AsyncIterator[UnitOfWork]:
        """A pooled connection *without* a transaction, for a command that is one statement
        (reads before it see committed rows, unlocked: the write must check what it relies on,
        e.g. the version it read).

        Saves BEGIN and COMMIT (two of a short command's four round trips). The statement
        writes its events itself (:func:`fw_platform.outbox.with_events`); ``emit`` is refused.
        The relay is woken afterwards. Raises :class:`fw_platform.db.DatabaseUnavailable` if
        PostgreSQL is away.
        """
        async with db.connection(self.pool) as conn:
            yield StatementUnitOfWork(conn=conn, now=self.clock())
        if self.relay:
            self.relay.notify()

    async def readiness(self) -> dict[str, bool]:
        checks = {"nats": bool(self._nc and self._nc.is_connected)}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                checks["postgres"] = await conn.fetchval("SELECT true")
        except Exception:  # noqa: BLE001 - any failure: not ready
            checks["postgres"] = False
        checks["consumers"] = all(c.ready.is_set() for c in self.consumers)
        for name, check in self._ready_checks.items():
            checks[name] = check()
        return checks


T = TypeVar("T")
#: How long a service's start waits for PostgreSQL (starting, or a wrong password being fixed).
DB_WAIT_S = 300.0


async def _until_reachable(what: str, step: Callable[[], Awaitable[T]], wait_s: float = DB_WAIT_S) -> T:
    """``step()`` retried every 2 s with a log line (the error's type only: a DSN or a password
    must not reach the log) until it works or ``wait_s`` passed (then its error is raised)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            return await step()
        except Exception as exc:
            if loop.time() > deadline:
                raise
            # the message itself names what is awaited: the JSON log lines show msg unformatted
            log.warning(f"{what} not reachable yet; retrying", extra={"error": type(exc).__name__})  # noqa: G004
            await asyncio.sleep(2.0)
