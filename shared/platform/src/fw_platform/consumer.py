"""Durable JetStream consumer: the fetch loop.

It fetches messages, decodes them (every failure there parks the message alone, see
:mod:`fw_platform.failures`), hands them in chunks to :class:`~fw_platform.applying.Applier` and
acks after the commit; a failed chunk is rolled back and each of its messages handled alone, so
one bad message cannot hold back the rest, and the failure policy decides about that one.

The chunk size follows the measured time per event, so that one transaction takes about
``TARGET_TX_SECONDS``: cheap handlers get the whole batch in one transaction, a slow one
(rendering a document) commits every few events instead of holding all results back until the
batch is done.

We long-poll for one message and then top the batch up with as many as the server says are
waiting: nats-py's batch fetch (and FastStream's batch subscriber on top of it) waits for a full
batch or the timeout, which would add up to the timeout to every event's latency when traffic is
light. The pull requests are answered into a callback
subscription (:mod:`fw_platform.pull`), not nats-py's ``fetch``, whose ``next_msg`` per message
costs a Task and a ``wait_for`` each.

Under sustained traffic a consumer that keeps up would still take its events one at a time: each
with its own pull request, transaction (``BEGIN`` with the idempotency record, ``COMMIT`` with a
WAL flush) and, in the emitting services, its own relay round. So when a message came within
``linger`` of the consumer finishing the previous ones (the stream is busy), the consumer waits
``linger`` after handling it before it asks again, and takes what arrived meanwhile as one
chunk, as group commit does for a database. The first event after a quiet spell is followed by
no wait, traffic slower than one event per ``linger`` never waits, and a consumer with a backlog
does not wait (it took only part of what is pending).

This is bootstrap wiring (:class:`fw_platform.runtime.Runtime` creates the consumers); handlers
use :mod:`fw_platform.handling`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from fw_contracts import Event, UndecodableEvent
from fw_platform import metrics
from fw_platform.applying import Applier
from fw_platform.bus import durable_consumer_config
from fw_platform.failures import MAX_MESSAGE_BYTES, FailurePolicy, Outcome, decode_message
from fw_platform.handling import Clock, Handler, utc_now
from fw_platform.history import all_versions
from fw_platform.pull import Puller

log = logging.getLogger(__name__)

#: About how long one chunk's transaction may take (see the module docstring).
TARGET_TX_SECONDS = 0.05
#: About how much work one fetch takes on: keeps a slow consumer's messages well inside the
#: server's ack wait instead of fetching a full batch it needs many seconds for.
TARGET_FETCH_SECONDS = 1.0
#: Default wait between fetches while events arrive faster than one per this (see the module docstring).
LINGER_SECONDS = 0.05


class EventConsumer:
    """One durable consumer ``<service>--<name>`` over one or more event types.

    ``clock`` gives each unit of work its ``now`` (default: the current time, UTC).
    """

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
        linger: float = LINGER_SECONDS,
        clock: Clock = utc_now,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.service = service
        self.durable = f"{service}--{name}"
        self._js = js
        self._handlers = handlers
        self._stream = stream
        self._batch = batch_size
        self._idle_poll = idle_poll
        self._linger = linger
        #: Times the consumer waited ``linger`` for more events before fetching (see the module docstring).
        self.lingered = 0
        self._max_bytes = max_message_bytes
        self._stopping = False
        self.ready = asyncio.Event()
        self.outcome = Outcome()
        self._applier = Applier(durable=self.durable, pool=pool, handlers=handlers, clock=clock,
                                on_commit=on_commit or (lambda: None), outcome=self.outcome)
        self._failures = FailurePolicy(service=service, durable=self.durable, pool=pool,
                                       max_attempts=max_attempts, outcome=self.outcome)
        metrics.CONSUMER_RESTARTS.labels(self.durable)  # the series shows 0 until a restart
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
                # nats-py's JetStreamContext keeps its connection and API prefix as attributes
                puller = Puller(self._js._nc, self._stream, self.durable, api_prefix=self._js._prefix)
                await puller.start()
                try:
                    self.ready.set()
                    idle_since = float("-inf")
                    while not self._stopping:
                        msgs = await self._fetch(puller)
                        if msgs:
                            busy = time.monotonic() - idle_since < self._linger and self._drained(msgs)
                            await self.process(msgs)
                            idle_since = time.monotonic()
                            if busy:
                                self.lingered += 1
                                await asyncio.sleep(self._linger)
                finally:
                    with contextlib.suppress(Exception):  # a closed connection has no subscription left
                        await puller.stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop restarts after any error
                self.ready.clear()
                metrics.CONSUMER_RESTARTS.labels(self.durable).inc()
                log.warning("consumer loop error; restarting",
                            extra={"consumer": self.durable, "error": type(exc).__name__})
                await asyncio.sleep(1.0)

    @staticmethod
    def _drained(msgs: Sequence[Msg]) -> bool:
        """Whether ``msgs`` took all that waited (none pending after the last): a consumer with
        a backlog fetches again at once."""
        meta = msgs[-1].metadata
        return meta is not None and meta.num_pending == 0

    def _size_for(self, seconds: float) -> int:
        """How many events take about ``seconds``, between 1 and the batch size."""
        return max(1, min(self._batch, int(seconds / self._per_event)))

    def _learn(self, elapsed: float, events: int) -> None:
        self._per_event = 0.7 * self._per_event + 0.3 * max(elapsed / events, 1e-5)

    async def _fetch(self, puller: Puller) -> list[Msg]:
        msgs = await puller.fetch(1, self._idle_poll)
        if not msgs:
            return []
        # The server tells how many more wait for this consumer: ask for just those. Asking for a
        # full batch when fewer wait would hold the request open until its expiry, which every
        # event would then carry as latency on each hop between services. The request still
        # waits up to 50 ms for the rest (as nats-py's fetch did: it sent ``no_wait`` with
        # ``expires``, a waiting pull for the server): with ``no_wait`` alone billing's consumer
        # took 4.0 events per fetch instead of 5.5 in the lifecycle bench, more transactions.
        waiting = msgs[-1].metadata.num_pending if msgs[-1].metadata else self._batch
        more = min(self._size_for(TARGET_FETCH_SECONDS) - len(msgs), waiting)
        if more > 0:
            msgs += await puller.fetch(more, 0.05)
        return msgs

    # ------------------------------------------------------------------ handling
    async def process(self, msgs: Sequence[Msg]) -> Outcome:
        """Handle a batch of messages and ack, nak or park each one; never raises for a message.

        A message that cannot be decoded is parked alone; the rest of the batch goes on.
        """
        decoded: list[tuple[Msg, Event]] = []
        for msg in msgs:
            try:
                decoded.append((msg, decode_message(msg, max_bytes=self._max_bytes)))
            except UndecodableEvent as exc:
                await self._failures.undecodable(msg, exc)
        i = 0
        while i < len(decoded):
            chunk = decoded[i:i + self._size_for(TARGET_TX_SECONDS)]
            i += len(chunk)
            started = time.perf_counter()
            if len(chunk) == 1:
                await self._settle_one(*chunk[0])
            else:
                try:
                    await self._applier.apply_chunk(chunk)
                except Exception:  # noqa: BLE001 - any failure: the chunk is retried message by message
                    # Isolate the failing message: handle each alone.
                    for msg, event in chunk:
                        await self._settle_one(msg, event)
                    continue
                await self._ack([msg for msg, _ in chunk])
            self._learn(time.perf_counter() - started, len(chunk))
        return self.outcome

    async def _settle_one(self, msg: Msg, event: Event) -> None:
        try:
            await self._applier.apply_one(msg, event)
        except Exception as exc:  # noqa: BLE001 - the failure policy decides (retry or park)
            await self._failures.handler_failed(msg, event, exc)
            return
        await self._ack([msg])

    async def _ack(self, msgs: Sequence[Msg]) -> None:
        """Ack after the commit: plain acks, not waited for.

        Waiting for the server's confirmation (``ack_sync``, a request per chunk) cost, with
        ``sync_interval: always`` and one event at a time, 90–190 µs of nats-server CPU and
        140–180 µs in this process per confirmed ack (``python -m bench.ack_probe``,
        ``bench/ANALYSIS.md``). It bought nothing a consumer acts on: an ack that is lost (the
        connection drops before the server has it) only means a redelivery after ``ack_wait``,
        which the idempotency record drops as a duplicate, exactly as after an unconfirmed
        ``ack_sync``. The acks go out on the connection ahead of the next pull request, so the
        server has them before it delivers more; closing the connection flushes them.
        """
        if not msgs:
            return
        try:
            for msg in msgs:
                await msg.ack()
        except Exception as exc:  # noqa: BLE001 - logged; a redelivery is dropped as a duplicate
            log.warning("ack not sent; a redelivery will be dropped as a duplicate",
                        extra={"consumer": self.durable, "count": len(msgs), "error": type(exc).__name__})
