"""Section 1: the raw limits of the parts we build on, measured in the same run.

* nats-py JetStream publish with ack, pipelined (``publish_async``), into a scratch stream with
  the FERNWARTUNG settings (file storage, the server fsyncs every write: ``sync_interval: always``);
* nats-py ordered push consumer reading that stream back, by callback (``cb=``: the client's
  cheapest path; ``sub.next_msg()`` costs a uuid4, a Task and a ``wait_for`` per message, about
  three times the client CPU, so it is no honest reference);
* asyncpg: the rate of one typical unit of work (SELECT … FOR UPDATE + INSERT + UPDATE, one
  transaction) with a pool of 10 (the services' default) and on a single connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.infra import Infra
from bench.stats import summary
from fw_contracts.events import SessionEnded
from fw_platform.bus import connect, stream_config

#: Messages the client may buffer ahead of the reader (ordered consumer), as the audit does.
PENDING_MSGS = 1_000_000
PENDING_BYTES = 1024 * 1024 * 1024


def sample_payload() -> bytes:
    """A typical event body (SessionEnded, about 400 bytes)."""
    now = datetime.now(UTC)
    return SessionEnded(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                        started_at=now, ended_at=now, duration_seconds=0,
                        correlation_id=uuid.uuid4(), causation_id=uuid.uuid4()).to_json()


async def publish_pipelined(js: Any, items: list[tuple[str, bytes, dict[str, str] | None]],
                            *, chunk: int = 20_000) -> float:
    """Publish in order with ``publish_async`` (nats-py bounds the in-flight acks); seconds taken."""
    t0 = time.perf_counter()
    for start in range(0, len(items), chunk):
        futs = [await js.publish_async(s, b, headers=h) for s, b, h in items[start:start + chunk]]
        await asyncio.gather(*futs)
    return time.perf_counter() - t0


async def read_ordered(js: Any, stream: str, subject: str, n: int, *, timeout: float = 30.0) -> float:
    """Read ``n`` messages from the stream's start with an ordered push consumer whose callback
    only counts; seconds taken (admin: the unnamed consumer create)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    count = 0

    async def on_msg(msg: Any) -> None:
        nonlocal count
        count += 1
        if count >= n and not done.done():
            done.set_result(None)

    t0 = time.perf_counter()
    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True, cb=on_msg,
                             pending_msgs_limit=PENDING_MSGS, pending_bytes_limit=PENDING_BYTES)
    try:
        await _await_progress(done, lambda: count, timeout)
    finally:
        await sub.unsubscribe()
    return time.perf_counter() - t0


async def _await_progress(done: asyncio.Future[None], count: Callable[[], int], timeout: float) -> None:
    """Wait for ``done``; an error only if ``count()`` stops growing for ``timeout`` seconds."""
    last = -1
    while not done.done():
        if count() == last:
            raise TimeoutError(f"raw read stalled at {last} messages")
        last = count()
        await asyncio.wait([done], timeout=timeout)
    done.result()


async def read_direct(nc: Any, stream: str, subject: str, n: int, *, batch: int = 5000,
                      timeout: float = 30.0) -> float:
    """Read ``n`` messages from sequence 1 by batched direct get (``$JS.API.DIRECT.GET``, NATS >= 2.11)
    with a callback that only counts and asks for the next batch at each end-of-batch status;
    seconds taken. nats-py has no API for batches: the request is its JSON, as the audit sends it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    count = 0
    inbox = nc.new_inbox()
    api = f"$JS.API.DIRECT.GET.{stream}"

    async def request(seq: int) -> None:
        req = {"seq": seq, "batch": min(batch, n - count), "next_by_subj": subject}
        await nc.publish(api, json.dumps(req).encode(), reply=inbox)

    async def on_msg(msg: Any) -> None:
        nonlocal count
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            count += 1
            return
        if done.done():
            return
        if status == "204" and count < n:  # end of batch: Nats-Last-Sequence was the last one sent
            await request(int(msg.headers["Nats-Last-Sequence"]) + 1)
        elif count >= n:
            done.set_result(None)
        else:
            done.set_exception(RuntimeError(f"direct get: status {status} after {count} messages"))

    t0 = time.perf_counter()
    sub = await nc.subscribe(inbox, cb=on_msg, pending_msgs_limit=PENDING_MSGS, pending_bytes_limit=PENDING_BYTES)
    try:
        await request(1)
        await _await_progress(done, lambda: count, timeout)
    finally:
        await sub.unsubscribe()
    return time.perf_counter() - t0


async def nats_limits(infra: Infra, n: int, runs: int) -> dict[str, Any]:
    payload = sample_payload()
    pub, read, direct = [], [], []
    async with infra.env("raw-nats", stream=False) as env:
        nc = await connect(env.nats_url, name="bench-raw")
        js = nc.jetstream(publish_async_max_pending=4000)
        try:
            for r in range(runs):
                name, subject = f"BENCHRAW{r}", f"bench.raw{r}.x"
                await js.add_stream(dataclasses.replace(stream_config(), name=name, subjects=[f"bench.raw{r}.>"]))
                items = [(subject, payload, {"Nats-Msg-Id": f"{r}-{i}"}) for i in range(n)]
                pub.append(n / await publish_pipelined(js, items))
                read.append(n / await read_ordered(js, name, subject, n))
                direct.append(n / await read_direct(nc, name, subject, n))
                await js.delete_stream(name)
        finally:
            await nc.close()
    return {"nats_publish": summary(pub, "msgs/s") | {"messages": n, "payload_bytes": len(payload)},
            "nats_ordered_read": summary(read, "msgs/s") | {"messages": n, "how": "ordered push consumer, callback"},
            "nats_direct_read": summary(direct, "msgs/s") | {"messages": n, "how": "batched direct get, callback"}}


SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_account (id integer PRIMARY KEY, balance bigint NOT NULL,
                                          updated_at timestamptz);
CREATE TABLE IF NOT EXISTS bench_entry (id bigserial PRIMARY KEY, account integer NOT NULL,
                                        amount bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_account SELECT g, 0 FROM generate_series(1, 10000) g ON CONFLICT DO NOTHING;
"""


async def _unit_of_work(conn: asyncpg.Connection, account: int) -> None:
    async with conn.transaction():
        await conn.fetchval("SELECT balance FROM bench_account WHERE id = $1 FOR UPDATE", account)
        await conn.execute("INSERT INTO bench_entry(account, amount) VALUES ($1, $2)", account, 1)
        await conn.execute("UPDATE bench_account SET balance = balance + $2, updated_at = now() WHERE id = $1",
                           account, 1)


async def _tx_rate(pool: asyncpg.Pool, workers: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        k = w
        while time.perf_counter() < stop:
            async with pool.acquire() as conn:
                await _unit_of_work(conn, 1 + (k * 7919) % 10000)
            k += workers
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return done / (time.perf_counter() - t0)


async def pg_limits(infra: Infra, seconds: float, runs: int) -> dict[str, Any]:
    from fw_platform.db import create_pool

    async with infra.env("raw-pg", stream=False) as env:
        pool = await create_pool(env.dsn("intake"), "intake", min_size=10, max_size=10)
        try:
            async with pool.acquire() as conn:
                await conn.execute(SCHEMA)
            pooled, single = [], []
            for _ in range(runs):
                pooled.append(await _tx_rate(pool, 10, seconds))
                single.append(await _tx_rate(pool, 1, seconds))
        finally:
            await pool.close()
    return {"pg_tx_pool10": summary(pooled, "tx/s") | {"seconds": seconds},
            "pg_tx_single_conn": summary(single, "tx/s") | {"seconds": seconds}}
