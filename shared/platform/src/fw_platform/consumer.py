"""Durable JetStream consumer with idempotent, transactional handling and bounded retries.

For each message: decode (upcasting old versions), skip it if its ``event_id`` was already
handled by this consumer, otherwise run the handler and record the event id in the *same*
transaction as the state change and the outbox rows; ack only after the commit.

A batch is handled in chunks, each in one transaction (fast path): one statement records the
idempotency rows of the chunk, the handlers run in stream order, one statement writes all their
outbox rows, one commit, then the acks go out together. The chunk size follows the measured
time per event, so that one transaction takes about ``TARGET_TX_SECONDS``: cheap handlers get
the whole batch in one transaction, a slow one (rendering a document) commits every few events
instead of holding all results back until the batch is done. If anything in a chunk fails, it is
rolled back and each of its messages is handled alone, so one bad message cannot hold back the
rest.
Failures are classified:

* undecodable (bad JSON, unknown type, a schema version from the future, missing fields):
  parked at once with the reason, then terminated — retrying cannot help;
* transient (database or NATS away, a timeout): nak'ed with a back-off, never parked — the
  message waits for the infrastructure to return, so a PostgreSQL restart loses nothing;
* anything else: nak'ed with a back-off and parked after ``max_attempts`` deliveries.

We long-poll for one message and then top the batch up with as many as the server says are
waiting: nats-py's batch fetch (and FastStream's batch subscriber on top of it) waits for a full
batch or the timeout, which would add up to the timeout to every event's latency when traffic is
light.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import FetchTimeoutError

from fw_contracts import Event, UndecodableEvent, decode, utcnow
from fw_platform import metrics, outbox
from fw_platform.bus import durable_consumer_config
from fw_platform.history import all_versions

log = logging.getLogger(__name__)

#: Seconds to wait for the server to confirm a chunk's acks.
ACK_CONFIRM_TIMEOUT = 5.0
#: About how long one chunk's transaction may take (see the module docstring).
TARGET_TX_SECONDS = 0.05
#: About how much work one fetch takes on: keeps a slow consumer's messages well inside the
#: server's ack wait instead of fetching a full batch it needs many seconds for.
TARGET_FETCH_SECONDS = 1.0

_RECORD_ONE = ("INSERT INTO processed_events(consumer, event_id, stream_seq) VALUES ($1, $2, $3)"
               " ON CONFLICT DO NOTHING RETURNING 1")
#: One round trip for a whole batch; a copy of an id in the same batch is skipped like any
#: duplicate (DO NOTHING also applies to rows proposed earlier by the same statement).
_RECORD_MANY = ("INSERT INTO processed_events(consumer, event_id, stream_seq)"
                " SELECT $1, e, s FROM unnest($2::uuid[], $3::bigint[]) AS t(e, s)"
                " ON CONFLICT DO NOTHING RETURNING event_id")


class TransientError(Exception):
    """Raised by a handler when a dependency is temporarily away: retry later, never park."""


class PermanentError(Exception):
    """Raised by a handler when the message can never be handled: park it now."""


TRANSIENT = (
    TransientError,
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    NatsTimeoutError,
)


@dataclass
class UnitOfWork:
    """What a handler gets: the transaction's connection and a way to emit events with it."""

    conn: asyncpg.Connection
    now: datetime
    emitted: list[Event] = field(default_factory=list)

    def emit(self, *events: Event) -> None:
        self.emitted.extend(events)


Handler = Callable[[Any, UnitOfWork], Awaitable[None]]


def batched(handler: Callable[[list[Any], UnitOfWork], Awaitable[None]]) -> Handler:
    """Mark a handler that takes a *list* of events of its type (in stream order) and one unit
    of work: consecutive events for it in a chunk are handed over together, so it can change
    state with one statement for all of them (``executemany``, ``unnest``) instead of a round
    trip each. When a chunk is split to isolate a failing message, it gets lists of one.
    """
    handler.batched = True  # type: ignore[attr-defined]
    return handler  # type: ignore[return-value]


@dataclass
class Outcome:
    handled: int = 0
    duplicates: int = 0
    parked: int = 0
    retried: int = 0


class EventConsumer:
    """One durable consumer ``<service>--<name>`` over one or more event types."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        handlers: dict[type[Event], Handler],
        stream: str,
        on_commit: Callable[[], None] | None = None,
        batch_size: int = 100,
        max_attempts: int = 5,
        idle_poll: float = 5.0,
    ) -> None:
        self.service = service
        self.durable = f"{service}--{name}"
        self._pool = pool
        self._js = js
        self._handlers = handlers
        self._stream = stream
        self._on_commit = on_commit or (lambda: None)
        self._batch = batch_size
        self._max_attempts = max_attempts
        self._idle_poll = idle_poll
        self._stopping = False
        self.ready = asyncio.Event()
        self.outcome = Outcome()
        #: Seconds per event (moving average over chunks); starts with chunks of 10.
        self._per_event = TARGET_TX_SECONDS / 10

    @property
    def subjects(self) -> list[str]:
        """Every version of each handled event (``fw.<producer>.<event>.*``).

        After a version bump, a durable created then (a new service, a rebuild) or one whose
        filter is updated still reads the older versions' history; ``decode`` upcasts it. A
        version newer than this build is delivered too and parked with that reason, visible,
        instead of being skipped by the filter and lost to this consumer.
        """
        return [all_versions(cls) for cls in self._handlers]

    async def ensure(self) -> None:
        cfg = durable_consumer_config(self.durable, self.subjects)
        await self._js.add_consumer(self._stream, config=cfg)

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        """Fetch and handle until stopped; survives NATS and PostgreSQL restarts."""
        while not self._stopping:
            try:
                await self.ensure()
                psub = await self._js.pull_subscribe_bind(durable=self.durable, stream=self._stream)
                self.ready.set()
                while not self._stopping:
                    msgs = await self._fetch(psub)
                    if msgs:
                        await self.process(msgs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ready.clear()
                log.warning("consumer loop error; restarting",
                            extra={"consumer": self.durable, "error": type(exc).__name__})
                await asyncio.sleep(1.0)

    def _size_for(self, seconds: float) -> int:
        """How many events take about ``seconds``, between 1 and the batch size."""
        return max(1, min(self._batch, int(seconds / self._per_event)))

    def _learn(self, elapsed: float, events: int) -> None:
        self._per_event = 0.7 * self._per_event + 0.3 * max(elapsed / events, 1e-5)

    async def _fetch(self, psub: JetStreamContext.PullSubscription) -> list[Msg]:
        try:
            msgs = await psub.fetch(1, timeout=self._idle_poll)
        except (TimeoutError, NatsTimeoutError, FetchTimeoutError):
            return []
        # The server tells how many more wait for this consumer: fetch just those. Asking for a
        # full batch when fewer wait would make nats-py linger for the rest until its timeout,
        # which every event would then carry as latency on each hop between services.
        waiting = msgs[-1].metadata.num_pending if msgs[-1].metadata else self._batch
        more = min(self._size_for(TARGET_FETCH_SECONDS) - 1, waiting)
        if more > 0:
            try:
                msgs += await psub.fetch(more, timeout=0.05)
            except (TimeoutError, NatsTimeoutError, FetchTimeoutError):
                pass
        return msgs

    # ------------------------------------------------------------------ handling
    async def process(self, msgs: Sequence[Msg]) -> Outcome:
        """Handle a batch of messages and ack/nak/park each one."""
        decoded: list[tuple[Msg, Event]] = []
        for msg in msgs:
            try:
                decoded.append((msg, decode(msg.data, msg.subject)))
            except UndecodableEvent as exc:
                await self._park(msg, None, exc.reason, kind="undecodable")
        i = 0
        while i < len(decoded):
            chunk = decoded[i:i + self._size_for(TARGET_TX_SECONDS)]
            i += len(chunk)
            started = time.perf_counter()
            if len(chunk) == 1:
                await self._handle_one(*chunk[0])
            else:
                try:
                    await self._handle_in_one_transaction(chunk)
                except Exception:
                    # Isolate the failing message: handle each alone.
                    for msg, event in chunk:
                        await self._handle_one(msg, event)
                    continue
                await self._ack([msg for msg, _ in chunk])
            self._learn(time.perf_counter() - started, len(chunk))
        return self.outcome

    async def _apply(self, conn: asyncpg.Connection, msg: Msg, event: Event) -> bool:
        """Run the handler for one event inside ``conn``'s transaction; False if a duplicate."""
        seq = msg.metadata.sequence.stream if msg.metadata else None
        if await conn.fetchval(_RECORD_ONE, self.durable, event.event_id, seq) is None:
            return False
        await outbox.append(conn, await self._run_handler(conn, event))
        return True

    async def _run_handler(self, conn: asyncpg.Connection, event: Event) -> list[Event]:
        """The handler's state change on ``conn``; returns the events it emitted."""
        return await self._run_group(conn, [event])

    def _groups(self, events: list[Event]) -> list[list[Event]]:
        """Runs of consecutive events for the same batched handler; any other event alone."""
        groups: list[list[Event]] = []
        for event in events:
            handler = self._handlers.get(type(event))
            if (groups and getattr(handler, "batched", False)
                    and self._handlers.get(type(groups[-1][0])) is handler):
                groups[-1].append(event)
            else:
                groups.append([event])
        return groups

    async def _run_group(self, conn: asyncpg.Connection, events: list[Event]) -> list[Event]:
        handler = self._handlers.get(type(events[0]))
        if handler is None:
            raise PermanentError(f"no handler for {type(events[0]).__name__}")
        uow = UnitOfWork(conn=conn, now=utcnow())
        if getattr(handler, "batched", False):
            await handler(events, uow)
        else:
            (event,) = events
            await handler(event, uow)
        return uow.emitted

    async def _handle_in_one_transaction(self, batch: list[tuple[Msg, Event]]) -> None:
        results: list[tuple[Event, bool]] = []
        emitted: list[Event] = []
        ids = [event.event_id for _, event in batch]
        seqs = [msg.metadata.sequence.stream if msg.metadata else None for msg, _ in batch]
        async with self._pool.acquire() as conn, conn.transaction():
            fresh: set[uuid.UUID] = {r[0] for r in await conn.fetch(_RECORD_MANY, self.durable, ids, seqs)}
            todo: list[Event] = []
            for _, event in batch:
                if event.event_id in fresh:
                    fresh.discard(event.event_id)  # a second copy in this batch is a duplicate
                    todo.append(event)
                    results.append((event, True))
                else:
                    results.append((event, False))
            for group in self._groups(todo):
                emitted += await self._run_group(conn, group)
            await outbox.append(conn, emitted)
        self._counted(results)

    def _counted(self, results: list[tuple[Event, bool]]) -> None:
        emitted = False
        for event, fresh in results:
            if fresh:
                self.outcome.handled += 1
                emitted = True
                metrics.EVENTS_HANDLED.labels(self.durable, event.event_type).inc()
            else:
                self.outcome.duplicates += 1
                metrics.EVENTS_DUPLICATE.labels(self.durable).inc()
        if emitted:
            self._on_commit()

    async def _handle_one(self, msg: Msg, event: Event) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                fresh = await self._apply(conn, msg, event)
        except PermanentError as exc:
            await self._park(msg, event, str(exc), kind="rejected")
            return
        except TRANSIENT as exc:
            await self._retry(msg, kind="transient", error=exc)
            return
        except Exception as exc:
            deliveries = msg.metadata.num_delivered if msg.metadata else 1
            if deliveries >= self._max_attempts:
                await self._park(msg, event, f"handler failed {deliveries} times: {type(exc).__name__}",
                                 kind="failing")
            else:
                log.warning("handler failed; will retry", extra={
                    "consumer": self.durable, "event_id": str(event.event_id),
                    "error": type(exc).__name__, "deliveries": deliveries})
                await self._retry(msg, kind="error", error=exc)
            return
        self._counted([(event, fresh)])
        await self._ack([msg])

    async def _ack(self, msgs: Sequence[Msg]) -> None:
        """Ack after the commit and wait for the server to confirm (``ack_sync``).

        One round trip per chunk, not per event: the chunk's acks go out as plain acks and the
        last one as ``ack_sync``. The server handles a consumer's acks in the order they arrive,
        so its reply to the last confirms the chunk. A confirmation that does not come in time
        is not an error: the events are committed, and a redelivery after ``ack_wait`` is
        dropped by the idempotency record.
        """
        if not msgs:
            return
        try:
            for msg in msgs[:-1]:
                await msg.ack()
            await msgs[-1].ack_sync(timeout=ACK_CONFIRM_TIMEOUT)
        except Exception as exc:
            log.warning("ack not confirmed; a redelivery will be dropped as a duplicate",
                        extra={"consumer": self.durable, "count": len(msgs), "error": type(exc).__name__})

    async def _retry(self, msg: Msg, *, kind: str, error: BaseException) -> None:
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        delay = min(0.5 * (2 ** min(deliveries - 1, 6)), 30.0)
        metrics.EVENTS_REDELIVERED.labels(self.durable, kind).inc()
        self.outcome.retried += 1
        try:
            await msg.nak(delay=delay)
        except Exception:  # NATS away as well: the ack wait expires and the server redelivers
            pass

    async def _park(self, msg: Msg, event: Event | None, reason: str, *, kind: str) -> None:
        """Record the message as parked (without its payload), then stop its redelivery.

        If the record cannot be written (database away), the message is nak'ed instead: a
        parked message must have its reason on record.
        """
        seq = msg.metadata.sequence.stream if msg.metadata else 0
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO dead_letters(consumer, stream_seq, subject, event_id, reason, deliveries)"
                    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer, stream_seq) DO NOTHING",
                    self.durable, seq, msg.subject[:200], event.event_id if event else None,
                    reason[:500], deliveries,
                )
        except Exception as exc:
            await self._retry(msg, kind="park-failed", error=exc)
            return
        metrics.EVENTS_PARKED.labels(self.durable, kind).inc()
        self.outcome.parked += 1
        log.error("message parked", extra={"consumer": self.durable, "stream_seq": seq,
                                           "reason": reason[:500], "kind": kind})
        await msg.term()

