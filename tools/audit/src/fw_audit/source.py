"""Reading the stream: an ordered push consumer (default), or direct-get batches.

Both need read access only: the ordered consumer is ephemeral, in memory, acks nothing and
vanishes when the audit ends; direct get needs ``allow_direct`` on the stream. The reader stops
at the stream's last sequence as it was when reading started (or at ``until``), so a live
stream that keeps growing does not make the audit run forever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from fw_audit.model import Record

#: Messages the client may buffer ahead of the checks (ordered consumer).
PENDING_MSGS = 1_000_000
PENDING_BYTES = 1024 * 1024 * 1024
DIRECT_BATCH = 2000


@dataclass(frozen=True)
class Until:
    """Where to stop: after a stream sequence, or before the first message stored after a time."""

    seq: int | None = None
    time: datetime | None = None

    @classmethod
    def parse(cls, value: str | None) -> Until:
        """``"1234"`` (a sequence) or an ISO 8601 time (naive means UTC)."""
        if not value:
            return cls()
        if value.isdigit():
            return cls(seq=int(value))
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return cls(time=t if t.tzinfo else t.replace(tzinfo=UTC))

    def stops_before(self, record: Record) -> bool:
        """Whether ``record`` lies after the end of the audited range."""
        if self.seq is not None and record.seq > self.seq:
            return True
        return self.time is not None and record.time > self.time


@dataclass(frozen=True)
class StreamState:
    """What the audit needs from ``stream info``."""

    name: str
    subjects: list[str]
    first_seq: int
    last_seq: int
    messages: int
    deny_delete: bool
    deny_purge: bool
    allow_direct: bool

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "subjects": self.subjects, "deny_delete": self.deny_delete,
                "deny_purge": self.deny_purge, "allow_direct": self.allow_direct,
                "first_seq": self.first_seq, "last_seq": self.last_seq, "messages": self.messages}


def from_ns(ns: int) -> datetime:
    """Nanoseconds since the epoch as aware UTC, truncated to microseconds (exact: no float)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC) + timedelta(microseconds=ns % 1_000_000_000 // 1000)


def ack_fields(reply: str) -> tuple[int, int, int]:
    """``(stream sequence, store time in ns, pending)`` from a JetStream ack subject.

    v1: ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>``; v2 adds domain and
    account hash after ``ACK`` (and a random token at the end). nats-py's ``msg.metadata`` goes
    through a float and loses the microseconds' last digit, which would make the two readers disagree.
    """
    t = reply.split(".")
    if len(t) == 9:
        return int(t[5]), int(t[7]), int(t[8])
    return int(t[7]), int(t[9]), int(t[10])


def parse_nats_time(value: str) -> datetime:
    """``2026-11-25T12:40:46.123456789Z`` (nanoseconds) as an aware UTC datetime (microseconds)."""
    main, _, frac = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(main + ("." + frac[:6] if frac else "")).replace(tzinfo=UTC)


async def connect(url: str, user: str | None = None, password: str | None = None) -> Client:
    """Connect once (an audit is a batch job: fail fast instead of reconnecting forever)."""
    async def quiet(exc: Exception) -> None:
        # nats-py would print a traceback per attempt; the caller reports the final error once.
        return None

    opts: dict[str, Any] = {"servers": url.split(","), "name": "fernwartung-audit", "connect_timeout": 5,
                            "max_reconnect_attempts": 3, "reconnect_time_wait": 0.5, "allow_reconnect": True,
                            "error_cb": quiet}
    if user:
        opts["user"], opts["password"] = user, password or ""
        opts["inbox_prefix"] = f"_INBOX_{user}"  # private replies (see fw_devenv.nats_auth)
    return await nats.connect(**opts)


async def stream_state(js: JetStreamContext, stream: str) -> StreamState:
    """The stream's configuration flags and sequence range."""
    info = await js.stream_info(stream)
    cfg, st = info.config, info.state
    return StreamState(name=stream, subjects=list(cfg.subjects or []), first_seq=st.first_seq,
                       last_seq=st.last_seq, messages=st.messages, deny_delete=bool(cfg.deny_delete),
                       deny_purge=bool(cfg.deny_purge), allow_direct=bool(cfg.allow_direct))


def _end(state: StreamState, until: Until) -> int:
    return min(state.last_seq, until.seq) if until.seq is not None else state.last_seq


async def read_ordered(js: JetStreamContext, state: StreamState, subjects: list[str], *,
                       until: Until = Until(), start_seq: int = 1,
                       progress: Callable[[int], None] | None = None,
                       idle_timeout: float = 5.0) -> AsyncIterator[Record]:
    """Every message from ``start_seq`` in sequence order, via an ordered push consumer."""
    end = _end(state, until)
    if state.messages == 0 or end < start_seq:
        return
    cfg = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq)
    if len(subjects) > 1:
        cfg.filter_subjects = list(subjects)
    sub = await js.subscribe(subjects[0], stream=state.name, ordered_consumer=True, config=cfg,
                             pending_msgs_limit=PENDING_MSGS, pending_bytes_limit=PENDING_BYTES)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=idle_timeout)
            except nats.errors.TimeoutError:
                return  # nothing more matches the filter (e.g. --subjects narrower than the stream)
            seq, stored_ns, pending = ack_fields(msg.reply)
            record = Record(seq, msg.subject, from_ns(stored_ns), msg.data)
            if until.stops_before(record):
                return
            yield record
            if progress:
                progress(record.seq)
            if record.seq >= end or pending == 0:
                return
    finally:
        await sub.unsubscribe()


async def read_direct(nc: Client, state: StreamState, subjects: list[str], *, until: Until = Until(),
                      start_seq: int = 1, progress: Callable[[int], None] | None = None,
                      batch: int = DIRECT_BATCH, timeout: float = 10.0) -> AsyncIterator[Record]:
    """Every message via batched direct get (needs ``allow_direct`` on the stream; NATS >= 2.11)."""
    if not state.allow_direct:
        raise RuntimeError(f"stream {state.name} does not allow direct get")
    end = _end(state, until)
    seq = start_seq
    filt = subjects[0] if len(subjects) == 1 else None
    if len(subjects) > 1:
        raise RuntimeError("direct get reads one subject filter")
    inbox = nc.new_inbox()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    sub = await nc.subscribe(inbox, cb=queue.put)
    try:
        while seq <= end:
            req: dict[str, Any] = {"seq": seq, "batch": min(batch, end - seq + 1)}
            if filt:
                req["next_by_subj"] = filt
            await nc.publish(f"$JS.API.DIRECT.GET.{state.name}", json.dumps(req).encode(), reply=inbox)
            got = 0
            while True:
                msg = await asyncio.wait_for(queue.get(), timeout)
                status = msg.headers.get("Status") if msg.headers else None
                if status:  # 204 end of batch, 404 nothing (more) found
                    break
                h = msg.headers
                record = Record(int(h["Nats-Sequence"]), h["Nats-Subject"], parse_nats_time(h["Nats-Time-Stamp"]),
                                msg.data)
                got += 1
                if until.stops_before(record):
                    return
                yield record
                if progress:
                    progress(record.seq)
                seq = record.seq + 1
                if record.seq >= end:
                    return
            if got == 0:
                return
    finally:
        await sub.unsubscribe()
