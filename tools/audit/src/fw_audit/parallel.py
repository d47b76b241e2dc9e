"""``fernwartung audit replay --workers N``: the sequence range read and checked by N processes.

The stream's range (as reading starts, up to ``--until SEQ``) is cut into N consecutive parts
of equal length; each part is read (the same reader, subject filters and end confirmation as
one process) and every message decoded with every check of its contract in a process of its
own, and the parts' summaries are merged in sequence order. Nothing of ``replay`` depends on
the order across parts: counts and days are sums, the invalid messages are listed part after
part (so in sequence order), the first and last sequence come from the first and last part
that read anything. The result equals one process's (``tests/integration/test_replay_parallel.py``).

``verify`` stays one process: its hash chain (each link needs the one before), the checkpoints
(the chain value at their sequence) and the checks that follow a request or a number series
across the whole history depend on the order of everything before them.

The workers are forked from the CLI's process after the stream's state was read and its event
loop closed, so they start without importing anything again (a fresh interpreter would spend
about a second on imports). Where ``fork`` does not exist, one process reads everything.
``--until`` with a time is read by one process too: its end is the first message stored after
that time, which only a reader of everything before it can find.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from fw_audit.model import ReplaySummary
from fw_audit.reading import Conn, Progress, replay_stream
from fw_audit.replay import Replay
from fw_audit.source import StreamState, Until, connect, read_direct, read_ordered, stream_state

T = TypeVar("T")


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """uvloop where installed (reading the stream is event-loop bound), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def split(first: int, last: int, parts: int) -> list[tuple[int, int]]:
    """``[first, last]`` in ``parts`` consecutive ranges of (almost) equal length, none empty."""
    total = last - first + 1
    parts = max(1, min(parts, total))
    bounds = [first + total * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1] - 1) for k in range(parts)]


def merge(stream: str, parts: list[ReplaySummary], seconds: float) -> ReplaySummary:
    """The summaries of consecutive parts (in sequence order) as one replay's summary."""
    out = ReplaySummary(stream=stream, seconds=seconds)
    for part in parts:
        if part.messages == 0:
            continue
        if out.messages == 0:
            out.first_seq = part.first_seq
        out.last_seq = part.last_seq
        out.messages += part.messages
        for name, n in part.counts.items():
            out.counts[name] = out.counts.get(name, 0) + n
        for day, n in part.per_day.items():
            out.per_day[day] = out.per_day.get(day, 0) + n
        out.invalid.extend(part.invalid)
    return out


async def _state(conn: Conn) -> StreamState:
    nc = await connect(conn.url, conn.user, conn.password)
    try:
        return await stream_state(nc.jetstream(), conn.stream)
    finally:
        await nc.close()


async def replay_part(conn: Conn, state: StreamState, first: int, last: int,
                      progress: Callable[[int], None] | None = None) -> ReplaySummary:
    """Decode and count the messages of ``[first, last]`` (the stream as ``state`` saw it)."""
    replay = Replay(conn.stream, counts_only=True)
    nc = await connect(conn.url, conn.user, conn.password)
    try:
        until = Until(seq=last)
        if conn.reader == "direct":
            source = read_direct(nc, state, conn.subjects, until=until, start_seq=first, progress=progress)
        else:
            source = read_ordered(nc.jetstream(), state, conn.subjects, until=until, start_seq=first,
                                  progress=progress)
        async for record in source:
            replay.feed(record)
    finally:
        await nc.close()
    return replay.finish()


def _worker(conn: Conn, state: StreamState, first: int, last: int, send: Connection) -> None:
    """A forked worker: its part's summary, or the error as text, through ``send``."""
    try:
        result: tuple[str, Any] = ("ok", run_loop(replay_part(conn, state, first, last)))
    except BaseException as exc:  # noqa: BLE001 -- the parent reports it (exit 2); nothing may escape a forked child
        result = ("error", f"{type(exc).__name__}: {exc}")
    send.send(result)
    send.close()


def replay_parallel(conn: Conn, until: Until, workers: int, progress: Progress | None = None) -> ReplaySummary:
    """``replay`` with ``workers`` processes (this one reads the first part). Not from a running event
    loop: the workers are forked before this process starts its own."""
    t0 = time.perf_counter()
    if workers <= 1 or until.time is not None or "fork" not in multiprocessing.get_all_start_methods():
        return run_loop(replay_stream(conn, until, progress))
    state = asyncio.run(_state(conn))  # a plain loop: no thread is left behind to fork with
    if conn.reader == "direct" and not state.allow_direct:
        from fw_audit.source import DirectGetNotAllowed

        raise DirectGetNotAllowed(state.name)
    end = min(state.last_seq, until.seq) if until.seq is not None else state.last_seq
    start = max(state.first_seq, 1)
    if state.messages == 0 or end < start:
        return merge(conn.stream, [], time.perf_counter() - t0)
    parts = split(start, end, workers)
    ctx = multiprocessing.get_context("fork")
    children: list[tuple[Any, Connection]] = []  # (a forked process, its result pipe)
    try:
        for first, last in parts[1:]:
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=_worker, args=(conn, state, first, last, send), daemon=True)
            child.start()
            send.close()
            children.append((child, receive))

        def tick(seq: int) -> None:
            if progress:
                progress(seq, end)

        results = [run_loop(replay_part(conn, state, *parts[0], tick))]
        for (child, receive), (first, last) in zip(children, parts[1:], strict=True):
            try:
                status, value = receive.recv()
            except EOFError:
                child.join()
                status, value = "error", f"the worker exited with code {child.exitcode}"
            if status != "ok":
                raise RuntimeError(f"replay of seq {first}..{last}: {value}")
            results.append(value)
            tick(last)
    finally:
        for child, receive in children:
            receive.close()
            if child.is_alive():
                child.terminate()
            child.join()
    return merge(conn.stream, results, time.perf_counter() - t0)
