"""Reading the history from NATS, and ``replay`` on top of it (no checks, no archive, no database).

``fernwartung audit replay`` imports only this (and :mod:`fw_audit.replay`): its start-up does
not pay for the checks, the archive's cryptography or asyncpg. :mod:`fw_audit.runner` builds the
other use cases on :func:`records`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fw_audit.model import Record, ReplaySummary
from fw_audit.replay import Replay
from fw_audit.source import (
    DirectGetNotAllowed,
    StreamState,
    Until,
    connect,
    read_direct,
    read_ordered,
    stream_state,
)
from fw_contracts import STREAM_NAME, STREAM_SUBJECTS

Progress = Callable[[int, int], None]
#: No ``--until``: the whole stream as it is when reading starts.
EVERYTHING = Until()


@dataclass
class Conn:
    """Where the history is: a NATS server and a stream (with the subjects to read)."""

    url: str = "nats://127.0.0.1:4222"
    user: str | None = None
    password: str | None = None
    stream: str = STREAM_NAME
    subjects: list[str] = field(default_factory=lambda: list(STREAM_SUBJECTS))
    #: "direct" (batched direct get, needs allow_direct; read-only permissions suffice) or
    #: "ordered" (ordered push consumer: needs the unnamed consumer create, i.e. admin).
    reader: str = "direct"


async def records(conn: Conn, until: Until,
                  progress: Progress | None) -> AsyncIterator[tuple[StreamState, Record | None]]:
    """``(state, None)`` first (the stream as reading starts), then ``(state, record)`` per message."""
    nc = await connect(conn.url, conn.user, conn.password)
    try:
        js = nc.jetstream()
        state = await stream_state(js, conn.stream)
        if conn.reader == "direct" and not state.allow_direct:
            raise DirectGetNotAllowed(state.name)  # before anything is written
        end = min(state.last_seq, until.seq) if until.seq is not None else state.last_seq

        def tick(seq: int) -> None:
            if progress:
                progress(seq, end)

        yield state, None
        if conn.reader == "direct":
            source = read_direct(nc, state, conn.subjects, until=until, progress=tick)
        else:
            source = read_ordered(js, state, conn.subjects, until=until, progress=tick)
        async for record in source:
            yield state, record
    finally:
        await nc.close()


async def replay_stream(conn: Conn, until: Until = EVERYTHING, progress: Progress | None = None) -> ReplaySummary:
    """Decode every message and count per type."""
    replay = Replay(conn.stream, counts_only=True)
    async for _, record in records(conn, until, progress):
        if record is not None:
            replay.feed(record)
    return replay.finish()
