"""Idempotent apply and dispatch: run handlers and record what was handled, in one transaction.

For each event: skip it if its ``event_id`` was already handled by this consumer, otherwise run
its handler and record the event id in the *same* transaction as the state change and the
outbox rows. A chunk of events shares one transaction: one statement records the idempotency
rows of the chunk, the handlers run in stream order (consecutive events for a
:func:`~fw_platform.handling.batched` handler as one list), one statement writes all their outbox
rows and goes with the commit (:func:`fw_platform.db.commit`, with the handlers'
:meth:`~fw_platform.handling.UnitOfWork.write_at_commit` statements before it). The idempotency record travels with the ``BEGIN`` (one round trip,
:func:`fw_platform.db.transaction_opened_by`); a chunk in which it finds a duplicate is rolled
back and applied again the long way, which returns the ids that were new. Acks and failures are
the caller's business.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import asyncpg
from nats.aio.msg import Msg

from fw_contracts import Event
from fw_platform import db, metrics, outbox
from fw_platform.failures import Outcome, stream_seq
from fw_platform.handling import Clock, Handler, PermanentError, UnitOfWork, is_batched

_RECORD_ONE = ("INSERT INTO processed_events(consumer, event_id, stream_seq) VALUES ({}, {}, {})"
               " ON CONFLICT DO NOTHING")
#: One round trip for a whole chunk; a copy of an id in the same chunk is skipped like any
#: duplicate (DO NOTHING also applies to rows proposed earlier by the same statement).
_RECORD_MANY = ("INSERT INTO processed_events(consumer, event_id, stream_seq)"
                " SELECT $1, e, s FROM unnest($2::uuid[], $3::bigint[]) AS t(e, s)"
                " ON CONFLICT DO NOTHING RETURNING event_id")
#: The same with literals, to go with the BEGIN: its status counts the new rows.
_RECORD_MANY_LITERAL = ("INSERT INTO processed_events(consumer, event_id, stream_seq)"
                        " SELECT {}, e, s FROM unnest({}::uuid[], {}::bigint[]) AS t(e, s)"
                        " ON CONFLICT DO NOTHING")


def _append_outbox(tail: list[str], events: list[Event]) -> None:
    """The emitted events' outbox rows go with the COMMIT, after the handlers' own writes."""
    if events:
        tail.append(outbox.append_statement(events))


class _NotAllNew(Exception):
    """The chunk's idempotency record found a duplicate: roll back, take the long way."""


def _inserted(status: str) -> int:
    """The row count of an ``INSERT`` command's status (``"INSERT 0 7"`` -> 7)."""
    return int(status.rsplit(" ", 1)[1])


class Applier:
    """Applies events for one durable consumer; raises whatever the handler or database raised
    (the transaction is then rolled back and nothing is counted)."""

    def __init__(self, *, durable: str, pool: asyncpg.Pool, handlers: dict[type[Event], Handler],
                 clock: Clock, on_commit: Callable[[], None], outcome: Outcome) -> None:
        self._durable = durable
        self._pool = pool
        self._handlers = handlers
        self._clock = clock
        self._on_commit = on_commit
        self._outcome = outcome
        #: A handler of the current transaction wrote outbox rows itself (UnitOfWork.written).
        self._outboxed = False

    async def apply_one(self, msg: Msg, event: Event) -> None:
        """Handle one event in its own transaction (or skip it as a duplicate)."""
        self._outboxed = False
        emitted: list[Event] = []
        record = _RECORD_ONE.format(db.literal(self._durable), db.literal(event.event_id),
                                    db.literal(stream_seq(msg)))
        tail: list[str] = []
        async with db.transaction_opened_by(self._pool, record, tail) as (conn, status):
            fresh = _inserted(status) == 1
            if fresh:
                emitted = await self._run_group(conn, [event], tail)
                _append_outbox(tail, emitted)
        self._counted([(event, fresh)], wrote_outbox=bool(emitted) or self._take_outboxed())

    async def apply_chunk(self, chunk: list[tuple[Msg, Event]]) -> None:
        """Handle a chunk of events in one transaction: all of them or none."""
        self._outboxed = False
        results: list[tuple[Event, bool]] = []
        emitted: list[Event] = []
        ids = [event.event_id for _, event in chunk]
        seqs = [stream_seq(msg) for msg, _ in chunk]
        record = _RECORD_MANY_LITERAL.format(
            db.literal(self._durable), db.literal("{" + ",".join(str(i) for i in ids) + "}"),
            db.literal("{" + ",".join("NULL" if s is None else str(int(s)) for s in seqs) + "}"))
        tail: list[str] = []
        try:
            async with db.transaction_opened_by(self._pool, record, tail) as (conn, status):
                if _inserted(status) != len(chunk):
                    raise _NotAllNew
                await self._apply_fresh(conn, chunk, set(ids), results, emitted, tail)
        except _NotAllNew:
            results.clear()
            emitted.clear()
            tail.clear()
            self._outboxed = False
            async with db.transaction(self._pool, tail) as conn:
                fresh = {r[0] for r in await conn.fetch(_RECORD_MANY, self._durable, ids, seqs)}
                await self._apply_fresh(conn, chunk, fresh, results, emitted, tail)
        self._counted(results, wrote_outbox=bool(emitted) or self._take_outboxed())

    async def _apply_fresh(self, conn: asyncpg.Connection, chunk: list[tuple[Msg, Event]], fresh: set[uuid.UUID],
                           results: list[tuple[Event, bool]], emitted: list[Event], tail: list[str]) -> None:
        """Run the handlers of the chunk's events whose ids are in ``fresh`` (a second copy of an
        id in the chunk is a duplicate), then queue the outbox rows they emitted for the commit."""
        todo: list[Event] = []
        for _, event in chunk:
            if event.event_id in fresh:
                fresh.discard(event.event_id)  # a second copy in this chunk is a duplicate
                todo.append(event)
                results.append((event, True))
            else:
                results.append((event, False))
        for group in self._groups(todo):
            if tail:  # an earlier group's final writes before the next group reads
                await conn.execute(";".join(tail))
                tail.clear()
            emitted.extend(await self._run_group(conn, group, tail))
        _append_outbox(tail, emitted)

    def _groups(self, events: list[Event]) -> list[list[Event]]:
        """Runs of consecutive events for the same batched handler; any other event alone."""
        groups: list[list[Event]] = []
        for event in events:
            handler = self._handlers.get(type(event))
            if groups and is_batched(handler) and self._handlers.get(type(groups[-1][0])) is handler:
                groups[-1].append(event)
            else:
                groups.append([event])
        return groups

    async def _run_group(self, conn: asyncpg.Connection, events: list[Event], tail: list[str]) -> list[Event]:
        """Dispatch to the handler of the events' type; returns the events it emitted (those a
        statement of the handler wrote to the outbox itself are written by now, see
        :meth:`UnitOfWork.written`, and only make the relay wake up)."""
        handler = self._handlers.get(type(events[0]))
        if handler is None:
            raise PermanentError(f"no handler for {type(events[0]).__name__}")
        uow = UnitOfWork(conn=conn, now=self._clock(), at_commit=tail)
        if is_batched(handler):
            await handler(events, uow)
        else:
            (event,) = events
            await handler(event, uow)
        if uow.outboxed:
            self._outboxed = True
        return uow.emitted

    def _take_outboxed(self) -> bool:
        outboxed, self._outboxed = self._outboxed, False
        return outboxed

    def _counted(self, results: list[tuple[Event, bool]], *, wrote_outbox: bool) -> None:
        for event, fresh in results:
            if fresh:
                self._outcome.handled += 1
                metrics.EVENTS_HANDLED.labels(self._durable, event.event_type).inc()
            else:
                self._outcome.duplicates += 1
                metrics.EVENTS_DUPLICATE.labels(self._durable).inc()
        if wrote_outbox:
            # wakes the relay: only when there is something to publish (a round without rows
            # costs it three statements)
            self._on_commit()
