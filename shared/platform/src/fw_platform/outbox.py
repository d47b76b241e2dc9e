"""Transactional outbox and its relay: events are written with the state change, then sent.

A crash between commit and publish loses nothing (the row stays) and doubles nothing (the relay
publishes with ``Nats-Msg-Id = event_id``; JetStream drops a repeat within the duplicate window,
and every consumer's idempotency record drops it after that).

A chunk of at least :data:`ATOMIC_MIN_ROWS` rows goes out as one JetStream **atomic batch**
(ADR-50, nats-server >= 2.12.1, stream ``allow_atomic``): the server stages the batch and stores
it with one fsync of the stream's block before its single ack, instead of one fsync per message
(``sync_interval: always`` stays). A staged batch costs the server a fixed ~4 fsyncs and a
directory of its own, so short chunks (the usual one to three events of a command) are cheaper
as single publishes and keep using ``publish_async``. Measured on this machine: 2,000 messages
took 2,000 fsyncs by ``publish_async``, 81 in batches of 100 and 8 in batches of 1,000.

Under load the relay lingers (``relay_linger_ms``): woken by a commit within that long of its
last round that published, it waits that long first, so that the commits of a busy service go
out in one round (one transaction and WAL flush for their delete) instead of one round each.
A relay whose last round was full (a backlog) goes on without waiting.

Failure semantics stay those of the single publishes: a batch is all or nothing; a failed or
unconfirmed batch rolls back and the chunk is published again. If the server already stored it
(its ack was lost), the new batch carries a ``Nats-Msg-Id`` it has seen and the server refuses
the whole batch (error 10201): the chunk is then published message by message, where JetStream
drops each repeat by its ``Nats-Msg-Id`` as before. Nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from nats.aio.client import Client
from nats.js import JetStreamContext

from fw_contracts import Event, Header
from fw_platform import db, metrics

log = logging.getLogger(__name__)

#: Seconds to wait for JetStream to acknowledge a batch of publishes.
PUBLISH_TIMEOUT = 10.0
#: Chunks at least this long are published as one atomic batch (see the module docstring;
#: below it the batch's fixed cost is more than the single publishes' fsyncs, measured).
ATOMIC_MIN_ROWS = 16
#: The server's limit on messages per atomic batch (``max_batch_size``, default 1000).
ATOMIC_MAX_ROWS = 1000
#: After the server said the stream does not allow atomic publish, single publishes for so long.
ATOMIC_RETRY_AFTER_S = 300.0

BATCH_ID = "Nats-Batch-Id"
BATCH_SEQUENCE = "Nats-Batch-Sequence"
BATCH_COMMIT = "Nats-Batch-Commit"
#: JetStream error codes of atomic batches (ADR-50).
ERR_BATCH_DUPLICATE = 10201  # a message of the batch has a Nats-Msg-Id the stream has seen
ERR_BATCH_DISABLED = 10174  # the stream does not allow atomic publish


class AtomicBatchRefused(Exception):
    """The server refused an atomic batch (nothing of it was stored); ``code`` is its error code."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"atomic batch refused: {code} {description}"[:200])
        self.code = code


#: Takes (locks and deletes) the oldest rows in one statement; the caller's transaction commits
#: the delete only after the publish was acknowledged.
_TAKE = ("DELETE FROM outbox WHERE id IN"
         " (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)"
         " RETURNING id, event_id, subject, event_type, payload")
_ANY_ROWS = "SELECT EXISTS (SELECT 1 FROM outbox)"
#: Sent with the relay's ``COMMIT`` (same query): the delete of published rows does not wait for
#: its WAL flush; the next synchronous commit of the service (or the WAL writer within
#: ``wal_writer_delay``) flushes it along. A crash of PostgreSQL before that flush loses only the
#: delete: the rows are published again, the case the module docstring describes (JetStream drops
#: them by ``Nats-Msg-Id``, consumers by their idempotency records; after an outage longer than
#: the duplicate window the stream keeps a copy, which the audit names: docs/architecture.md).
#: Measured in quick lifecycle runs: 10.2 / 10.8 -> 7.4 / 6.3 WAL flushes (``fdatasync``) per
#: lifecycle.
_COMMIT_UNFLUSHED = ("SET LOCAL synchronous_commit = off",)


def with_events(statement: str, first_param: int) -> str:
    """``statement`` (a write ending in ``RETURNING``) and the outbox rows of events as one statement.

    The events are written only if ``statement`` returned a row; the result is how many rows it
    returned. A command that is one write can so run without a transaction (no BEGIN, no COMMIT:
    one statement is atomic by itself). Its parameters continue at ``$first_param`` with
    :func:`event_params`.
    """
    n = first_param
    return (f"WITH w AS ({statement}),"
            " o AS (INSERT INTO outbox(event_id, subject, event_type, payload)"
            f" SELECT e, s, t, p FROM unnest(${n}::uuid[], ${n + 1}::text[], ${n + 2}::text[], ${n + 3}::bytea[])"
            " WITH ORDINALITY AS r(e, s, t, p, n) WHERE EXISTS (SELECT 1 FROM w) ORDER BY n"
            " ON CONFLICT (event_id) DO NOTHING)"
            " SELECT count(*) FROM w")


def event_params(events: Sequence[Event]) -> list[list[Any]]:
    """The four array parameters of :func:`with_events`."""
    return [[e.event_id for e in events], [e.subject() for e in events], [e.event_type for e in events],
            [e.to_json() for e in events]]


def append_statement(events: Sequence[Event]) -> str:
    """The outbox rows of ``events`` as one statement with literals (in this order: ``VALUES``
    rows are inserted as listed, so their ids rise in it), to go with a ``COMMIT``
    (:func:`fw_platform.db.commit`): the outbox write costs no round trip of its own."""
    rows = ",".join(f"({db.literal(e.event_id)},{db.literal(e.subject())},{db.literal(e.event_type)},"
                    f"{db.literal(e.to_json())})" for e in events)
    return ("INSERT INTO outbox(event_id, subject, event_type, payload) VALUES "
            f"{rows} ON CONFLICT (event_id) DO NOTHING")


class OutboxRelay:
    """Publishes outbox rows in order, with publish acknowledgement, then deletes them."""

    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, *, service: str,
                 batch_size: int = 500, poll_interval: float = 0.25, nc: Client | None = None,
                 atomic_min_rows: int = ATOMIC_MIN_ROWS, linger: float = 0.0) -> None:
        self._pool = pool
        self._js = js
        #: The connection atomic batches go through (None: single publishes only).
        self._nc = nc
        self._atomic_min = max(1, atomic_min_rows)
        self._atomic_off_until = 0.0
        #: Chunks published as atomic batches, and those that fell back to single publishes.
        self.atomic_batches = 0
        self.atomic_fallbacks = 0
        self._service = service
        self._batch = batch_size
        self._poll = poll_interval
        #: Woken within this long of its last round that published, the relay waits this long
        #: first, so that the commits of a busy service go out together (one transaction, one
        #: round); the first commit after a quiet spell goes out at once.
        self._linger = linger
        self.lingered = 0
        #: Rounds that published at least one row.
        self.rounds = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: publish now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.1
        woken = False  # the first round probes: rows may be left from before a restart
        last_round = float("-inf")
        backlog = False  # the last round was full: go on at once, never wait with rows left
        while not self._stopping:
            if woken and not backlog and self._linger and time.monotonic() - last_round < self._linger:
                self.lingered += 1
                await asyncio.sleep(self._linger)
            try:
                sent = await self.publish_pending(probe=not woken)
                if sent:
                    last_round = time.monotonic()
                backlog = sent >= self._batch
                backoff = 0.1
            except Exception as exc:  # noqa: BLE001 - NATS or PostgreSQL away: the rows wait, nothing is lost
                log.warning("outbox relay failed; retrying", extra={"error": type(exc).__name__,
                                                                     "service": self._service})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if backlog:
                woken = True
                continue  # more waiting
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
                woken = True
            except TimeoutError:
                woken = False
            self._wake.clear()

    async def publish_pending(self, *, probe: bool = False) -> int:
        """Publish one batch; returns how many rows were sent.

        The rows are deleted by the statement that takes them, inside a transaction that
        commits only after JetStream acknowledged them: a failed publish rolls the delete back.
        ``probe`` (the timed poll, not a wake-up after a commit) first asks without a
        transaction whether there is anything at all: an idle service's poll is one statement.
        The commit does not wait for its WAL flush (:data:`_COMMIT_UNFLUSHED`).
        """
        if probe:
            async with self._pool.acquire() as conn:
                if not await conn.fetchval(_ANY_ROWS):
                    metrics.OUTBOX_DEPTH.labels(self._service).set(0)
                    return 0
        async with db.transaction(self._pool, tail=_COMMIT_UNFLUSHED) as conn:
            sent, depth = await self._publish_taken(conn)
        metrics.OUTBOX_DEPTH.labels(self._service).set(depth)
        if sent:
            metrics.EVENTS_PUBLISHED.labels(self._service).inc(sent)
            self.published += sent
            self.rounds += 1
        return sent

    async def _publish_taken(self, conn: asyncpg.Connection) -> tuple[int, int]:
        """Take, publish and (with the caller's commit) delete one chunk: (rows sent, depth left)."""
        # SKIP LOCKED: a second instance of the service takes other rows, never the same.
        rows = sorted(await conn.fetch(_TAKE, self._batch), key=lambda r: r["id"])
        if not rows:
            return 0, 0
        if self._use_atomic(len(rows)):
            try:
                for start in range(0, len(rows), ATOMIC_MAX_ROWS):
                    await self._publish_atomic(rows[start:start + ATOMIC_MAX_ROWS])
                self.atomic_batches += 1
            except AtomicBatchRefused as exc:
                # Nothing of the refused batch was stored (earlier sub-batches were, and are
                # dropped as duplicates below): publish the chunk message by message.
                self.atomic_fallbacks += 1
                if exc.code == ERR_BATCH_DISABLED:
                    self._atomic_off_until = time.monotonic() + ATOMIC_RETRY_AFTER_S
                log.info("atomic batch refused; publishing one by one",
                         extra={"service": self._service, "code": exc.code, "count": len(rows)})
                await self._publish_each(rows)
        else:
            await self._publish_each(rows)
        # A short batch emptied the outbox (up to rows another instance holds): no count needed.
        depth = await conn.fetchval("SELECT count(*) FROM outbox") if len(rows) >= self._batch else 0
        return len(rows), int(depth)

    def _use_atomic(self, n: int) -> bool:
        return self._nc is not None and n >= self._atomic_min and time.monotonic() >= self._atomic_off_until

    async def _publish_each(self, rows: Sequence[asyncpg.Record]) -> None:
        """One publish per row: pipelined, their acks awaited together (no request per message)."""
        futures = [await self._js.publish_async(
            r["subject"], bytes(r["payload"]),
            headers={Header.MSG_ID: str(r["event_id"]), Header.EVENT_TYPE: r["event_type"]})
            for r in rows]
        acks = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True),
                                      timeout=PUBLISH_TIMEOUT)
        failed = next((a for a in acks if isinstance(a, BaseException)), None)
        if failed is not None:
            raise failed  # rolls back: the rows stay and are published again (same Msg-Id)

    async def _publish_atomic(self, rows: Sequence[asyncpg.Record]) -> None:
        """Publish ``rows`` as one atomic batch; returns when the server has stored all of them.

        Only the commit is a request: the other messages are plain publishes on the same
        connection (kept in order); a message the server could not stage makes the commit fail.
        Raises :class:`AtomicBatchRefused` if the server refused the batch, a timeout or
        connection error if its answer did not come (then the batch may or may not be stored).
        """
        assert self._nc is not None
        batch_id = uuid.uuid4().hex
        last = len(rows) - 1
        for i, r in enumerate(rows):
            headers = {Header.MSG_ID: str(r["event_id"]), Header.EVENT_TYPE: r["event_type"],
                       BATCH_ID: batch_id, BATCH_SEQUENCE: str(i + 1)}
            if i < last:
                await self._nc.publish(r["subject"], bytes(r["payload"]), headers=headers)
                continue
            headers[BATCH_COMMIT] = "1"
            reply = await self._nc.request(r["subject"], bytes(r["payload"]), headers=headers,
                                           timeout=PUBLISH_TIMEOUT)
            ack = json.loads(reply.data) if reply.data else {}
            if "error" in ack:
                err = ack["error"]
                raise AtomicBatchRefused(int(err.get("err_code", 0)), str(err.get("description", "")))
            if ack.get("batch") != batch_id or int(ack.get("count", -1)) != len(rows):
                raise RuntimeError("atomic batch ack does not confirm the whole batch")
