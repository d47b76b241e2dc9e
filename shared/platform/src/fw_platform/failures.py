"""Failure policy of a consumer: what happens to a message that cannot be handled.

* undecodable (bad JSON, nested too deeply, too large, not UTF-8, not an object, unknown type,
  a schema version from the future, missing fields): parked at once with the reason, then
  terminated — retrying cannot help;
* rejected (the handler raised :class:`~fw_platform.handling.PermanentError`): parked at once;
* transient (:data:`~fw_platform.handling.TRANSIENT`: database or NATS away, a timeout): nak'ed
  with a back-off, never parked — the message waits for the infrastructure to return, so a
  PostgreSQL restart loses nothing;
* anything else: nak'ed with a back-off and parked (``failing``) after ``max_attempts``
  deliveries.

A parked message is a row in ``dead_letters`` (never the payload: it stays in the stream) and is
then terminated, so it never returns. Reasons hold error types and field names, never values.
"""

from __future__ import annotations

import logging
from enum import StrEnum

import asyncpg
from nats.aio.msg import Msg

from fw_contracts import Event, UndecodableEvent, decode
from fw_platform import metrics
from fw_platform.handling import TRANSIENT, PermanentError

log = logging.getLogger(__name__)

#: Bodies above this are parked undecoded (NATS' own default ``max_payload``); events are small.
MAX_MESSAGE_BYTES = 1024 * 1024


class ReasonCode(StrEnum):
    """Why a message was parked: the ``reason_code`` column and the metrics label."""

    UNDECODABLE = "undecodable"
    REJECTED = "rejected"
    FAILING = "failing"


def decode_message(msg: Msg, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Event:
    """The message's event; *every* failure is raised as :class:`UndecodableEvent`.

    ``decode`` reports the expected failures itself; this also catches what escapes it on hostile
    input (``RecursionError`` from a deeply nested body, ``MemoryError``, anything else), so no
    body can crash the fetch loop. The reason names the error type, never the content.
    """
    size = len(msg.data)
    if size > max_bytes:
        raise UndecodableEvent(f"body is too large ({size} bytes, limit {max_bytes})")
    try:
        return decode(msg.data, msg.subject)
    except UndecodableEvent:
        raise
    except RecursionError:
        raise UndecodableEvent("body is nested too deeply") from None
    except MemoryError:
        raise UndecodableEvent("body is too large to decode") from None
    except UnicodeDecodeError:
        raise UndecodableEvent("body is not valid UTF-8") from None
    except Exception as exc:  # noqa: BLE001 - any decoder error: the body is undecodable
        raise UndecodableEvent(f"body cannot be decoded: {type(exc).__name__}") from None


def deliveries(msg: Msg) -> int:
    return msg.metadata.num_delivered if msg.metadata else 1


def stream_seq(msg: Msg) -> int | None:
    return msg.metadata.sequence.stream if msg.metadata else None


class Outcome:
    """Counts of what one consumer did with its messages (for tests and benchmarks)."""

    def __init__(self) -> None:
        self.handled = 0
        self.duplicates = 0
        self.parked = 0
        self.retried = 0

    def __repr__(self) -> str:
        return (f"Outcome(handled={self.handled}, duplicates={self.duplicates},"
                f" parked={self.parked}, retried={self.retried})")


class FailurePolicy:
    """Parks, retries or terminates the messages of one durable consumer."""

    def __init__(self, *, service: str, durable: str, pool: asyncpg.Pool, max_attempts: int,
                 outcome: Outcome) -> None:
        self._service = service
        self._durable = durable
        self._pool = pool
        self._max_attempts = max_attempts
        self._outcome = outcome

    async def undecodable(self, msg: Msg, exc: UndecodableEvent) -> None:
        await self.park(msg, None, exc.reason, ReasonCode.UNDECODABLE)

    async def handler_failed(self, msg: Msg, event: Event, exc: Exception) -> None:
        """Classify a failure of the handler (or its transaction) and act on it."""
        if isinstance(exc, PermanentError):
            await self.park(msg, event, str(exc), ReasonCode.REJECTED)
        elif isinstance(exc, TRANSIENT):
            await self.retry(msg, kind="transient")
        elif (n := deliveries(msg)) >= self._max_attempts:
            await self.park(msg, event, f"handler failed {n} times: {type(exc).__name__}", ReasonCode.FAILING)
        else:
            log.warning("handler failed; will retry", extra={
                "consumer": self._durable, "event_id": str(event.event_id),
                "error": type(exc).__name__, "deliveries": n})
            await self.retry(msg, kind="error")

    async def retry(self, msg: Msg, *, kind: str) -> None:
        """Nak with an exponential back-off (0.5 s doubling, at most 30 s)."""
        delay = min(0.5 * (2 ** min(deliveries(msg) - 1, 6)), 30.0)
        metrics.EVENTS_REDELIVERED.labels(self._durable, kind).inc()
        self._outcome.retried += 1
        try:
            await msg.nak(delay=delay)
        except Exception:  # noqa: BLE001,S110 - NATS away as well: the ack wait expires and the server redelivers
            pass

    async def park(self, msg: Msg, event: Event | None, reason: str, code: ReasonCode) -> None:
        """Record the message as parked (without its payload), then stop its redelivery.

        If the record cannot be written (database away), the message is nak'ed instead: a
        parked message must have its reason on record.
        """
        seq = stream_seq(msg) or 0
        try:
            async with self._pool.acquire() as conn:
                new = await conn.fetchval(
                    "INSERT INTO dead_letters(consumer, stream_seq, subject, event_id, reason, reason_code,"
                    " deliveries) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (consumer, stream_seq)"
                    " DO NOTHING RETURNING true",
                    self._durable, seq, msg.subject[:200], event.event_id if event else None,
                    reason[:500], code.value, deliveries(msg),
                )
        except Exception:  # noqa: BLE001 - parking failed: retried later
            await self.retry(msg, kind="park-failed")
            return
        if new:  # not when a parked message returns because its term was lost
            metrics.EVENTS_PARKED.labels(self._durable, code.value).inc()
            metrics.PARKED_MESSAGES.labels(self._service, self._durable, code.value).inc()
            self._outcome.parked += 1
            log.error("message parked", extra={"consumer": self._durable, "stream_seq": seq,
                                               "reason": reason[:500], "kind": code.value})
        try:
            await msg.term()
        except Exception:  # noqa: BLE001 - NATS away: it comes back after the ack wait and is recorded already
            log.warning("term not sent; the message will be parked again when it returns",
                        extra={"consumer": self._durable, "stream_seq": seq})
