"""Transactional outbox and its relay: events are written with the state change, then sent.

A crash between commit and publish loses nothing (the row stays) and doubles nothing (the relay
publishes with ``Nats-Msg-Id = event_id``; JetStream drops a repeat within the duplicate window,
and every consumer's idempotency record drops it after that).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import asyncpg
from nats.js import JetStreamContext

from fw_contracts import Event, Header
from fw_platform import metrics

log = logging.getLogger(__name__)

#: Seconds to wait for JetStream to acknowledge a batch of publishes.
PUBLISH_TIMEOUT = 10.0


#: One statement for any number of rows; ``ORDER BY n`` keeps the emit order in ``id``, which
#: is the order the relay publishes in.
_APPEND = ("INSERT INTO outbox(event_id, subject, event_type, payload)"
           " SELECT e, s, t, p FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[])"
           " WITH ORDINALITY AS r(e, s, t, p, n) ORDER BY n"
           " ON CONFLICT (event_id) DO NOTHING")


async def append(conn: asyncpg.Connection, events: Iterable[Event]) -> None:
    """Write events to the outbox inside the caller's transaction (one round trip)."""
    events = list(events)
    if events:
        await conn.execute(_APPEND, [e.event_id for e in events], [e.subject() for e in events],
                           [e.event_type for e in events], [e.to_json() for e in events])


class OutboxRelay:
    """Publishes outbox rows in order, with publish acknowledgement, then deletes them."""

    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, *, service: str,
                 batch_size: int = 500, poll_interval: float = 0.25) -> None:
        self._pool = pool
        self._js = js
        self._service = service
        self._batch = batch_size
        self._poll = poll_interval
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
        while not self._stopping:
            try:
                sent = await self.publish_pending()
                backoff = 0.1
            except Exception as exc:  # noqa: BLE001 - NATS or PostgreSQL away: the rows wait, nothing is lost
                log.warning("outbox relay failed; retrying", extra={"error": type(exc).__name__,
                                                                     "service": self._service})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent >= self._batch:
                continue  # more waiting
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were sent."""
        async with self._pool.acquire() as conn, conn.transaction():
            # SKIP LOCKED: a second instance of the service takes other rows, never the same.
            rows = await conn.fetch(
                "SELECT id, event_id, subject, event_type, payload FROM outbox ORDER BY id"
                " LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch,
            )
            if not rows:
                metrics.OUTBOX_DEPTH.labels(self._service).set(0)
                return 0
            # One connection keeps the order; the publishes are pipelined and their acks awaited
            # together (publish_async: no request/timer per message).
            futures = [await self._js.publish_async(
                r["subject"], bytes(r["payload"]),
                headers={Header.MSG_ID: str(r["event_id"]), Header.EVENT_TYPE: r["event_type"]})
                for r in rows]
            acks = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True),
                                          timeout=PUBLISH_TIMEOUT)
            failed = next((a for a in acks if isinstance(a, BaseException)), None)
            if failed is not None:
                raise failed  # rolls back: the rows stay and are published again (same Msg-Id)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
            # A short batch emptied the outbox (up to rows another instance holds): no count needed.
            depth = await conn.fetchval("SELECT count(*) FROM outbox") if len(rows) >= self._batch else 0
        metrics.OUTBOX_DEPTH.labels(self._service).set(depth)
        metrics.EVENTS_PUBLISHED.labels(self._service).inc(len(rows))
        self.published += len(rows)
        return len(rows)
