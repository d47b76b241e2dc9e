"""Reading the stream: batched direct get (default), or an ordered push consumer.

Direct get is stateless and read-only: the audit user needs ``$JS.API.DIRECT.GET.<stream>`` (and
``STREAM.MSG.GET`` to confirm the end, see :func:`read_direct`), no consumer at all, and the stream
must have ``allow_direct`` (``fw_platform.bus.stream_config`` sets it). The ordered consumer needs
the *unnamed* consumer create, which would let its holder re-create any other consumer: only
admin has it (``fw_contracts.nats_permissions``), so ``--reader ordered`` is for an operator with admin
credentials. Either reader stops at the stream's last sequence as it was when reading started
(or at ``until``), so a live stream that keeps growing does not make the audit run forever.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from fw_audit.headers import install as install_header_parser
from fw_audit.model import Record
from fw_contracts import STREAM_NAME

#: Messages the client may buffer ahead of the checks (ordered consumer).
PENDING_MSGS = 1_000_000
PENDING_BYTES = 1024 * 1024 * 1024
#: Messages per direct-get request, and how many such batches may wait unread in the client
#: (the next request goes out as soon as a batch has arrived, not when it has been checked).
DIRECT_BATCH = 5000
DIRECT_AHEAD = 2


class DirectGetNotAllowed(RuntimeError):
    """The stream does not have ``allow_direct``: the audit's default reader cannot read it."""

    def __init__(self, stream: str) -> None:
        how = (f"run the deploy init job (`docker compose up` runs it) or `make run` once: "
               f"fw_platform.bus.ensure_stream updates the stream; or `nats stream edit {stream} --allow-direct`"
               if stream == STREAM_NAME
               else f"`nats stream edit {stream} --allow-direct`")
        super().__init__(
            f"stream {stream} does not allow direct get (allow_direct is not set), which the audit reads "
            f"with. An admin sets it: {how}. Until then an operator with admin credentials can read with "
            f"--reader ordered.")


class DirectGetTimeout(TimeoutError):
    """No answer to a direct-get request in time."""


class DirectGetFailed(RuntimeError):
    """The server answered a direct-get request with an error status."""


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
        t = datetime.fromisoformat(value)
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
    if value.endswith("Z"):
        try:  # Python >= 3.11 reads "Z" as UTC and cuts digits after the sixth off: one C call
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    main, _, frac = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(main + ("." + frac[:6] if frac else "")).replace(tzinfo=UTC)


#: The last asynchronous errors per client (permission violations arrive only there).
_ERRORS: weakref.WeakKeyDictionary[Client, deque[str]] = weakref.WeakKeyDictionary()


def client_errors(nc: Client) -> list[str]:
    """Errors the server reported to ``nc`` asynchronously (e.g. a refused publish), oldest first."""
    return list(_ERRORS.get(nc, ()))


async def connect(url: str, user: str | None = None, password: str | None = None) -> Client:
    """Connect once (an audit is a batch job: fail fast instead of reconnecting forever)."""
    errors: deque[str] = deque(maxlen=5)

    async def quiet(exc: Exception) -> None:
        # nats-py would print a traceback per attempt; the caller reports the final error once.
        errors.append(str(exc)[:300])

    opts: dict[str, Any] = {"servers": url.split(","), "name": "fernwartung-audit", "connect_timeout": 5,
                            "max_reconnect_attempts": 3, "reconnect_time_wait": 0.5, "allow_reconnect": True,
                            "error_cb": quiet}
    if user:
        opts["user"], opts["password"] = user, password or ""
        opts["inbox_prefix"] = f"_INBOX_{user}"  # private replies (see fw_contracts.nats_permissions)
    nc = await nats.connect(**opts)
    _ERRORS[nc] = errors
    install_header_parser(nc)  # a third of a replay's time was nats-py's header parsing
    return nc


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
    """Every message from ``start_seq`` in sequence order, via an ordered push consumer (admin only)."""
    end = _end(state, until)
    if state.messages == 0 or end < start_seq:
        return
    cfg = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq)
    if len(subjects) > 1:
        cfg.filter_subjects = list(subjects)
    try:
        sub = await js.subscribe(subjects[0], stream=state.name, ordered_consumer=True, config=cfg,
                                 pending_msgs_limit=PENDING_MSGS, pending_bytes_limit=PENDING_BYTES)
    except nats.errors.TimeoutError:
        raise TimeoutError(f"no ordered consumer on stream {state.name}: the server did not answer the consumer "
                           f"create. Only admin may create one (the unnamed consumer create); read with "
                           f"--reader direct, or with admin credentials") from None
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


def covers(a: str, b: str) -> bool:
    """Whether subject filter ``a`` matches every subject filter ``b`` matches."""
    ta, tb = a.split("."), b.split(".")
    for i, tok in enumerate(ta):
        if tok == ">":
            return len(tb) > i
        if i >= len(tb) or tb[i] == ">" or (tok != "*" and (tb[i] == "*" or tok != tb[i])):
            return False
    return len(ta) == len(tb)


def distinct_filters(subjects: list[str]) -> list[str]:
    """``subjects`` without repeats and without filters another one already covers."""
    unique = list(dict.fromkeys(subjects))
    return [s for i, s in enumerate(unique)
            if not any(covers(o, s) for j, o in enumerate(unique) if j != i and (not covers(s, o) or j < i))]


_DONE = object()


class _DirectCursor:
    """One subject filter read in sequence order by batched direct get, one batch ahead.

    The reply subscription's callback requests the next batch as soon as one has arrived (it
    knows where it ended: the end-of-batch status names the last sequence sent), as long as no
    more than ``ahead`` batches wait unread; so the server sends while the checks run.
    """

    def __init__(self, nc: Client, stream: str, subject: str, start: int, end: int, batch: int,
                 ahead: int, timeout: float) -> None:
        self.nc, self.stream, self.subject = nc, stream, subject
        self.end, self.batch, self.ahead, self.timeout = end, batch, ahead, timeout
        self.next_seq = start  # where the next request starts
        # Records, errors and _DONE in arrival order; a plain deque with one waiter (the reader)
        # instead of an asyncio.Queue: about a microsecond less per message.
        self.items: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.buffered = 0  # data messages received and not yet taken
        self.in_flight = False
        self.finished = False  # the server said: nothing after next_seq (on the replica that answered)
        self.last_taken = start - 1
        self.stalled_at, self.stalled_since = -1, 0.0  # resumed reads that got nothing further
        self.sub: Any = None

    async def open(self) -> None:
        inbox = self.nc.new_inbox()
        limit = (self.ahead + 2) * self.batch + 10
        self.sub = await self.nc.subscribe(inbox, cb=self._on_reply, pending_msgs_limit=limit,
                                           pending_bytes_limit=PENDING_BYTES)
        await self._request()

    async def close(self) -> None:
        if self.sub is not None:
            try:
                await self.sub.unsubscribe()
            except Exception:  # noqa: BLE001,S110 - the connection may be closing already
                pass

    async def _request(self) -> None:
        size = min(self.batch, self.end - self.next_seq + 1)
        req = {"seq": self.next_seq, "batch": size, "next_by_subj": self.subject}
        self.in_flight = True
        await self.nc.publish(f"$JS.API.DIRECT.GET.{self.stream}", json.dumps(req).encode(), reply=self.sub.subject)

    async def _on_reply(self, msg: Any) -> None:
        h = msg.headers or {}
        status = h.get("Status")
        if status is None:
            if "Nats-Num-Pending" not in h:  # a single message: the server ignored "batch"
                self._put(DirectGetFailed(
                    f"stream {self.stream}: this NATS server does not answer batched direct gets (NATS >= 2.11 "
                    f"does); read with --reader ordered and admin credentials"))
                return
            try:
                record = Record(int(h["Nats-Sequence"]), h["Nats-Subject"], parse_nats_time(h["Nats-Time-Stamp"]),
                                msg.data)
            except (KeyError, ValueError) as exc:
                self._put(DirectGetFailed(f"direct get on stream {self.stream}: a reply without "
                                                      f"its stream headers ({type(exc).__name__}: {exc})"))
                return
            self.buffered += 1
            self._put(record)
            return
        self.in_flight = False
        if status == "204":  # end of batch: Nats-Last-Sequence is the last one sent
            last = int(h.get("Nats-Last-Sequence", self.next_seq - 1))
            self.next_seq = max(self.next_seq, last + 1)
            if int(h.get("Nats-Num-Pending", "0")) == 0 or self.next_seq > self.end:
                self._finish()
            elif self.buffered <= self.ahead * self.batch:
                await self._request()
        elif status == "404":  # nothing (more) matches from next_seq on
            self._finish()
        elif status == "503":
            self._put(DirectGetFailed(
                f"no responders for direct get on stream {self.stream}: the stream does not exist or does not "
                f"allow direct get"))
        else:
            desc = str(h.get("Description", "")).strip()
            self._put(DirectGetFailed(f"direct get on stream {self.stream} from seq {self.next_seq}: "
                                                  f"status {status} {desc}".rstrip()))

    def _put(self, item: Any) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> Any:
        """The next item, waiting at most ``timeout`` for one to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while not self.items:
            self.waiter = loop.create_future()
            try:
                await asyncio.wait_for(self.waiter, max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise self._timeout() from None
            finally:
                self.waiter = None
        return self.items.popleft()

    def _finish(self) -> None:
        self.finished = True
        self._put(_DONE)

    def _timeout(self) -> DirectGetTimeout:
        seen = client_errors(self.nc)
        why = f"; the server said: {seen[-1]}" if seen else (
            " (a missing permission for $JS.API.DIRECT.GET looks like this, too)")
        return DirectGetTimeout(f"no answer to direct get on stream {self.stream} (subjects {self.subject}) from seq "
                                f"{self.next_seq} within {self.timeout:g}s{why}")

    async def next(self) -> Record | None:
        """The next record up to ``end``, or None after the last one."""
        while True:
            item = self.items.popleft() if self.items else await self._wait()  # no await while a batch waits
            if isinstance(item, Record):
                self.buffered -= 1
                if not self.in_flight and not self.finished and self.buffered <= self.ahead * self.batch:
                    await self._request()  # the callback held back: enough was waiting then
                if item.seq <= self.last_taken:
                    continue  # a repeat after a resumed read
                if item.seq > self.end:
                    return None
                self.last_taken = item.seq
                return item
            if isinstance(item, Exception):
                raise item
            # _DONE: confirm with the stream leader that nothing matching is left up to end. With
            # replicas, a direct get may be answered by a follower that has not stored the newest
            # messages yet; the leader answers STREAM.MSG.GET.
            if self.last_taken >= self.end:
                return None
            following = await self._leader_next(self.last_taken + 1)
            if following is None or following > self.end:
                return None
            now = asyncio.get_running_loop().time()
            if self.stalled_at != self.last_taken:
                self.stalled_at, self.stalled_since = self.last_taken, now
            elif now - self.stalled_since > self.timeout:
                raise DirectGetTimeout(f"stream {self.stream}: seq {following} exists, but direct get does not "
                                       f"return it within {self.timeout:g}s (a replica that does not catch up?)")
            self.next_seq, self.finished = following, False
            await asyncio.sleep(0.05)
            await self._request()

    async def _leader_next(self, seq: int) -> int | None:
        """The sequence of the first message matching the filter at or after ``seq`` (leader's view)."""
        req = {"seq": seq, "next_by_subj": self.subject}
        try:
            reply = await self.nc.request(f"$JS.API.STREAM.MSG.GET.{self.stream}", json.dumps(req).encode(),
                                          timeout=self.timeout)
        except nats.errors.TimeoutError:
            raise self._timeout() from None
        answer = json.loads(reply.data)
        error = answer.get("error")
        if error:
            if error.get("code") == 404:
                return None
            raise DirectGetFailed(f"stream {self.stream}: message get from seq {seq}: {error.get('description')}")
        return int(answer["message"]["seq"])


async def read_direct(nc: Client, state: StreamState, subjects: list[str], *, until: Until = Until(),
                      start_seq: int = 1, progress: Callable[[int], None] | None = None,
                      batch: int = DIRECT_BATCH, ahead: int = DIRECT_AHEAD,
                      timeout: float = 10.0) -> AsyncIterator[Record]:
    """Every message matching ``subjects`` from ``start_seq`` in sequence order, by batched direct get.

    Needs ``allow_direct`` on the stream (NATS >= 2.11 for batches). Messages deleted from the
    stream are skipped (the server answers with the next stored one), several subject filters
    are read side by side and merged by sequence, and the end is the stream's last sequence as
    reading started (or ``until``). A server that does not answer within ``timeout`` seconds is
    an error (:class:`DirectGetTimeout`), never a silent end.
    """
    if not state.allow_direct:
        raise DirectGetNotAllowed(state.name)
    end = _end(state, until)
    start = max(start_seq, 1)
    if state.messages == 0 or end < start:
        return
    filters = distinct_filters(subjects) or [">"]
    cursors = [_DirectCursor(nc, state.name, f, start, end, batch, ahead, timeout) for f in filters]
    try:
        for cursor in cursors:
            await cursor.open()
        if len(cursors) == 1:  # the usual case (fw.>): no merge
            while (record := await cursors[0].next()) is not None:
                if until.stops_before(record):
                    return
                yield record
                if progress:
                    progress(record.seq)
            return
        heads: list[tuple[int, int, Record]] = []
        for i, cursor in enumerate(cursors):
            if (first := await cursor.next()) is not None:
                heads.append((first.seq, i, first))
        heapq.heapify(heads)
        last = start - 1
        while heads:
            seq, i, record = heads[0]
            following = await cursors[i].next()
            if following is None:
                heapq.heappop(heads)
            else:
                heapq.heapreplace(heads, (following.seq, i, following))
            if seq == last:
                continue  # matched by two overlapping filters
            last = seq
            if until.stops_before(record):
                return
            yield record
            if progress:
                progress(seq)
    finally:
        for cursor in cursors:
            await cursor.close()
