"""Section 2: one service's event path, next to a raw nats-py loop on the same stream.

A backlog of ``n`` SessionStarted events is published into FERNWARTUNG once; then, in turns
(so that a noisy neighbour hurts every variant alike), each variant drains it with a durable
consumer of its own and publishes one SessionEnded per input:

* ``raw``: nats-py only: a pull request for 100, its messages taken by a subscription callback
  (not ``fetch``, whose ``next_msg`` per message costs about four times the client CPU),
  ``publish_async`` every output, await the publish acks, then ack the inputs (no decoding, no
  database);
* ``platform_no_db``: ``fw_platform`` (``Runtime`` → ``EventConsumer`` + ``OutboxRelay``) with a
  handler that only emits: decode, idempotency record, outbox row, commit, ack, relay publish;
* ``platform_insert``: the same with a handler doing one INSERT (a state change);
* ``platform_projection``: a handler doing one INSERT and emitting nothing (a projection, as in
  reporting): the consumer's own limit when no publish (and no server fsync for it) follows;
* ``platform_batched`` / ``platform_batched_projection``: the INSERT variants with a batched
  handler (``fw_platform.handling.batched``): one ``INSERT ... SELECT unnest(...)`` for each run of
  events in a chunk instead of one round trip per event;
* ``platform_ceiling``: a handler doing nothing at all: what the platform itself costs per event
  (fetch, decode, idempotency record, commit, ack), the ceiling for any handler;
* ``faststream``: the framework we did not take, measured so that the decision stays measured: a
  FastStream batch-pull subscriber (``PullSub(batch=True)``, batches of 100, ``AckPolicy.MANUAL``)
  on its own durable, bodies decoded into ``SessionStarted`` by FastStream (pydantic), one
  SessionEnded published per input with ``broker.publish`` to the stream (the batch's publishes
  concurrently, each awaiting its JetStream ack), then the batch acked. No database, no outbox:
  compare it with ``raw`` and ``platform_no_db``.

The rate is ``n`` / (time until the last output is acknowledged by JetStream). The consumer's own
rate (inputs committed and acked, the relay may lag) is recorded too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.infra import Infra
from bench.raw import publish_pipelined
from bench.stats import summary
from fw_contracts.events import SessionEnded, SessionStarted
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.bus import connect, durable_consumer_config
from fw_platform.handling import UnitOfWork, batched
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings

MIGRATION = ("CREATE TABLE seen (consumer text, session_id uuid, at timestamptz NOT NULL,"
             " PRIMARY KEY (consumer, session_id));\n")


async def _preload(env: FwEnv, n: int) -> None:
    now = datetime.now(UTC)
    items = []
    for i in range(n):
        e = SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician=f"tech-{i % 9 + 1:02d}",
                           started_at=now)
        items.append((e.subject(), e.to_json(), {"Nats-Msg-Id": str(e.event_id)}))
    nc = await connect(env.nats_url, name="bench-preload")
    try:
        await publish_pipelined(nc.jetstream(publish_async_max_pending=4000), items)
    finally:
        await nc.close()


async def _raw(env: FwEnv, n: int, run: str) -> dict[str, float]:
    nc = await connect(env.nats_url, name="bench-rawloop")
    js = nc.jetstream(publish_async_max_pending=4000)
    durable = f"bench--raw{run}"
    await js.add_consumer("FERNWARTUNG", config=durable_consumer_config(durable, [SessionStarted.subject()]))
    # The pull requests answered into a callback subscription: nats-py's ``fetch`` waits for each
    # message with ``next_msg`` (a Task and a ``wait_for`` each, about four times the client CPU
    # per message), no honest reference.
    inbox = nc.new_inbox()
    batch: list[Any] = []
    ready = asyncio.Event()

    async def on_msg(m: Any) -> None:
        if m.headers and m.headers.get("Status"):
            ready.set()  # the request ended (expired) with fewer messages
            return
        batch.append(m)
        if len(batch) >= want:
            ready.set()

    sub = await nc.subscribe(inbox, cb=on_msg)
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.FERNWARTUNG.{durable}"
    out_subject = SessionEnded.subject()
    done = 0
    want = 0
    t0 = time.perf_counter()
    try:
        while done < n:
            want = min(100, n - done)
            ready.clear()
            await nc.publish(next_subject, json.dumps({"batch": want, "expires": 5_000_000_000}).encode(),
                             reply=inbox)
            await ready.wait()
            msgs = batch[:]
            batch.clear()
            futs = [await js.publish_async(out_subject, m.data, headers={"Nats-Msg-Id": f"{durable}-{m.reply}"})
                    for m in msgs]
            await asyncio.gather(*futs)
            for m in msgs:
                await m.ack()
            done += len(msgs)
        await nc.flush()
        dt = time.perf_counter() - t0
        await sub.unsubscribe()
    finally:
        await nc.close()
    return {"rate": n / dt, "consume_rate": n / dt}


async def _faststream(env: FwEnv, n: int, run: str, batch: int, fetch_timeout: float = 0.5) -> dict[str, float]:
    from faststream import AckPolicy
    from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

    durable = f"bench--faststream{run}"
    nc = await connect(env.nats_url, name="bench-faststream-setup")
    try:
        await nc.jetstream().add_consumer("FERNWARTUNG", config=durable_consumer_config(durable,
                                                                                       [SessionStarted.subject()]))
    finally:
        await nc.close()
    broker = NatsBroker(env.nats_url, logger=None, log_level=logging.ERROR)
    stream = JStream("FERNWARTUNG", declare=False)
    out_subject = SessionEnded.subject()
    done = asyncio.get_running_loop().create_future()
    handled = 0

    @broker.subscriber(SessionStarted.subject(), stream=stream, durable=durable,
                       pull_sub=PullSub(batch_size=batch, timeout=fetch_timeout, batch=True),
                       ack_policy=AckPolicy.MANUAL)
    async def on_session_started(events: list[SessionStarted], msg: NatsMessage) -> None:
        nonlocal handled
        outs = [SessionEnded(session_id=e.session_id, request_id=e.request_id, technician=e.technician,
                             started_at=e.started_at, ended_at=e.started_at, duration_seconds=0, **e.caused())
                for e in events]
        await asyncio.gather(*(broker.publish(o.to_json(), out_subject, stream="FERNWARTUNG",
                                              headers={"Nats-Msg-Id": f"{durable}-{o.causation_id}"})
                               for o in outs))
        await msg.ack()
        handled += len(events)
        if handled >= n and not done.done():
            done.set_result(None)

    t0 = time.perf_counter()
    await broker.start()
    try:
        await asyncio.wait_for(done, 600)
        dt = time.perf_counter() - t0
    finally:
        await broker.stop()
    return {"rate": n / dt, "consume_rate": n / dt}


async def _platform(env: FwEnv, n: int, run: str, *, insert: bool, batch: int, emit: bool = True,
                    batch_handler: bool = False) -> dict[str, float]:
    mig = Path(tempfile.mkdtemp(prefix="bench-mig-"))
    (mig / "001_seen.sql").write_text(MIGRATION)
    settings = ServiceSettings(nats_url=env.nats_url, database_url=env.dsn("intake"), consumer_batch=batch,
                               log_level="WARNING")
    rt = Runtime("intake", settings, mig)
    name = f"session_started_{'db' if insert else 'nodb'}{'' if emit else 'proj'}{'b' if batch_handler else ''}{run}"
    durable = f"intake--{name}"

    async def on_session_started(event: SessionStarted, uow: UnitOfWork) -> None:
        if insert:
            await uow.conn.execute("INSERT INTO seen(consumer, session_id, at) VALUES ($1, $2, $3)"
                                   " ON CONFLICT DO NOTHING", durable, event.session_id, uow.now)
        if emit:
            uow.emit(SessionEnded(session_id=event.session_id, request_id=event.request_id,
                                  technician=event.technician, started_at=event.started_at,
                                  ended_at=event.started_at, duration_seconds=0, **event.caused()))

    @batched
    async def on_session_started_batch(events: list[SessionStarted], uow: UnitOfWork) -> None:
        await uow.conn.execute("INSERT INTO seen(consumer, session_id, at) SELECT $1, unnest($2::uuid[]), $3"
                               " ON CONFLICT DO NOTHING", durable, [e.session_id for e in events], uow.now)
        if emit:
            uow.emit(*(SessionEnded(session_id=e.session_id, request_id=e.request_id, technician=e.technician,
                                    started_at=e.started_at, ended_at=e.started_at, duration_seconds=0,
                                    **e.caused()) for e in events))

    rt.consume(name, {SessionStarted: on_session_started_batch if batch_handler else on_session_started})
    await rt.start()
    t0 = time.perf_counter()
    consumed_at = None
    try:
        consumer = rt.consumers[0]
        assert rt.relay is not None
        deadline = t0 + 600
        while rt.relay.published < (n if emit else 0) or consumer.outcome.handled < n:
            if consumed_at is None and consumer.outcome.handled >= n:
                consumed_at = time.perf_counter()
            if time.perf_counter() > deadline:
                raise RuntimeError(f"event path stalled: {consumer.outcome} published={rt.relay.published}")
            await asyncio.sleep(0.005)
        dt = time.perf_counter() - t0
        consumed_at = consumed_at or time.perf_counter()
        if consumer.outcome.handled != n or consumer.outcome.parked or consumer.outcome.retried:
            raise RuntimeError(f"unexpected outcome {consumer.outcome}")
    finally:
        await rt.stop()
    return {"rate": n / dt, "consume_rate": n / (consumed_at - t0)}


async def event_path(infra: Infra, n: int, runs: int, batch: int = 100) -> dict[str, Any]:
    """Median rates of the variants; ratios against ``raw`` in the same run."""
    res: dict[str, list[dict[str, float]]] = {"raw": [], "platform_no_db": [], "platform_insert": [],
                                              "platform_projection": [], "platform_batched": [],
                                              "platform_batched_projection": [], "platform_ceiling": [],
                                              "faststream": []}
    async with infra.env("event-path") as env:
        await _preload(env, n)
        for r in range(runs):
            res["raw"].append(await _raw(env, n, str(r)))
            res["platform_no_db"].append(await _platform(env, n, str(r), insert=False, batch=batch))
            res["platform_insert"].append(await _platform(env, n, str(r), insert=True, batch=batch))
            res["platform_projection"].append(await _platform(env, n, str(r), insert=True, batch=batch,
                                                              emit=False))
            res["platform_batched"].append(await _platform(env, n, str(r), insert=True, batch=batch,
                                                           batch_handler=True))
            res["platform_batched_projection"].append(await _platform(env, n, str(r), insert=True, batch=batch,
                                                                      emit=False, batch_handler=True))
            res["platform_ceiling"].append(await _platform(env, n, str(r), insert=False, batch=batch, emit=False))
            res["faststream"].append(await _faststream(env, n, str(r), batch))
    out: dict[str, Any] = {"events": n, "batch": batch}
    for k, v in res.items():
        out[k] = summary([x["rate"] for x in v], "events/s")
        out[k]["consumer_only"] = summary([x["consume_rate"] for x in v], "events/s")
    raw = out["raw"]["median"]
    out["ratio_no_db_vs_raw"] = round(out["platform_no_db"]["median"] / raw, 3)
    out["ratio_insert_vs_raw"] = round(out["platform_insert"]["median"] / raw, 3)
    out["ratio_batched_vs_raw"] = round(out["platform_batched"]["median"] / raw, 3)
    out["ratio_faststream_vs_raw"] = round(out["faststream"]["median"] / raw, 3)
    out["ratio_no_db_vs_faststream"] = round(out["platform_no_db"]["median"] / out["faststream"]["median"], 3)
    return out
