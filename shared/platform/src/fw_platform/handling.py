"""The handler API: what application code sees of the platform.

A handler is ``async def on_<event>(event, uow) -> None``: it changes state through the unit of
work's repositories (or its connection) and emits events with :meth:`UnitOfWork.emit`; the
platform commits both together and acks after the commit. It signals failures with the error
classes here: :class:`PermanentError` parks the message at once, :class:`TransientError` (and the
other :data:`TRANSIENT` errors) retries it later without ever parking it; anything else is
retried and parked after ``max_attempts`` deliveries.

Services' application code imports from this module only; the consumer machinery
(:mod:`fw_platform.consumer`) is bootstrap wiring.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import nats.errors

from fw_contracts import Event

__all__ = [
    "TRANSIENT", "BatchHandler", "Clock", "Handler", "PermanentError", "StatementUnitOfWork", "TransientError",
    "UnitOfWork",
    "batched", "utc_now",
]

#: The injectable clock: returns the current time, aware UTC. Tests pass their own.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default :data:`Clock`: the current time, aware UTC."""
    return datetime.now(UTC)


class TransientError(Exception):
    """Raised by a handler when a dependency is temporarily away: retry later, never park."""


class PermanentError(Exception):
    """Raised by a handler when the message can never be handled: park it now.

    The message becomes the parked reason: error types and field names only, never values.
    """


#: Connection and availability errors: the message waits for the infrastructure to return and
#: is never parked for them. Deliberately not every ``OSError``: a handler's own failing file
#: access (``FileNotFoundError``, ``PermissionError``) is a bug or bad data and is parked after
#: ``max_attempts`` like any other error. Errors while the platform itself acquires a database
#: connection are transient whatever their type (see :mod:`fw_platform.applying`).
TRANSIENT: tuple[type[Exception], ...] = (
    TransientError,
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # also asyncio.TimeoutError and nats' TimeoutError
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    # "connection is closed" / "pool is closing": a query on a connection PostgreSQL dropped
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # concurrency conflicts that the database asks to retry
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
)

R = TypeVar("R")


@dataclass
class UnitOfWork:
    """What a handler gets: the transaction, the time it runs at, and a way to emit events.

    ``now`` comes from the injected clock and is the same for the whole unit of work.
    """

    conn: asyncpg.Connection
    now: datetime
    emitted: list[Event] = field(default_factory=list)
    #: Events a statement of this unit of work already wrote to the outbox (see :meth:`written`).
    outboxed: list[Event] = field(default_factory=list)
    #: Statements sent with the ``COMMIT`` (see :meth:`write_at_commit`); the platform's
    #: transaction shares this list with the unit of work.
    at_commit: list[str] = field(default_factory=list)
    _repositories: dict[Callable[[Any], Any], Any] = field(default_factory=dict, init=False, repr=False,
                                                           compare=False)

    def emit(self, *events: Event) -> None:
        """Queue events for the outbox; they are written in the same transaction."""
        self.emitted.extend(events)

    def written(self, *events: Event) -> None:
        """Declare events that a repository statement of this unit of work wrote to the outbox
        itself (in the same statement as the state change, one round trip less): they are not
        written again; the relay is woken after the commit as for emitted events. Rows are
        published in the order they reach the outbox: written ones when their statement runs,
        emitted ones at the commit (a handler table should not mix both for one aggregate)."""
        self.outboxed.extend(events)

    def write_at_commit(self, statement: str) -> None:
        """Send ``statement`` (rendered by :func:`fw_platform.db.bind`) with this unit of work's
        ``COMMIT``, in the same round trip: for the last writes of a command, whose results
        nobody reads and which no later statement of the unit of work depends on (they run
        after all others). Its failure fails the commit: nothing of the unit of work is stored."""
        self.at_commit.append(statement)

    def repository(self, factory: Callable[[asyncpg.Connection], R]) -> R:
        """The repository ``factory(conn)`` bound to this transaction (one per factory)."""
        if factory not in self._repositories:
            self._repositories[factory] = factory(self.conn)
        return self._repositories[factory]  # type: ignore[no-any-return]


class StatementUnitOfWork(UnitOfWork):
    """A unit of work that is one statement on a connection without a transaction.

    The statement is atomic by itself; its events go to the outbox *inside* it
    (:func:`fw_platform.outbox.with_events`), so :meth:`emit` is refused: an event queued here
    would have no transaction to be written with.
    """

    def emit(self, *events: Event) -> None:
        raise TypeError("a one-statement unit of work writes its events with the statement "
                        "(fw_platform.outbox.with_events)")

    def write_at_commit(self, statement: str) -> None:
        raise TypeError("a one-statement unit of work has no COMMIT to send a statement with")


Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
BatchHandler = Callable[[list[Any], UnitOfWork], Awaitable[None]]


def batched(handler: BatchHandler) -> Handler:
    """Mark a handler that takes a *list* of events of its type (in stream order) and one unit
    of work: consecutive events for it in a chunk are handed over together, so it can change
    state with one statement for all of them (``executemany``, ``unnest``) instead of a round
    trip each. When a chunk is split to isolate a failing message, it gets lists of one.
    """
    handler.batched = True  # type: ignore[attr-defined]
    return handler


def is_batched(handler: Handler | None) -> bool:
    """Whether ``handler`` was marked with :func:`batched`."""
    return bool(getattr(handler, "batched", False))
