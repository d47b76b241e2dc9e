"""Section 4: ``fernwartung audit replay`` over a long history, next to a raw ordered consumer.

The replay is the real command line with the read-only ``audit`` NATS user, as an auditor runs
it (its default reader: batched direct get); the raw ordered consumer reads as admin (only admin
may create one).

The history is the audit's own scripted mix of every lifecycle (``fw_audit.scripted``: valid
events, gapless invoice numbers), published with core NATS publishes pipelined on one
connection, with the headers the outbox relay sets. To make that fast it is written while the
server runs without ``sync_interval: always``; the server is then restarted on the same store
with the FERNWARTUNG settings (fsync on every write), and both readers run against that.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fw_contracts import STREAM_NAME, Header
from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_platform.bus import connect, ensure_stream

from bench.infra import Infra
from bench.raw import read_ordered
from bench.stats import summary


class _FastLoadServer(NatsServer):
    """The same server and store, but JetStream flushes on its default schedule (loading only)."""

    def _config_text(self) -> str:
        return super()._config_text().replace("sync_interval: always", "")


async def _generate_and_load(server: NatsServer, n: int) -> dict[str, Any]:
    from fw_audit.scripted import bulk_history

    t = time.perf_counter()
    items = bulk_history(n, datetime.now(UTC)).items()
    gen_s = time.perf_counter() - t
    nc = await connect(server.admin_url, name="bench-history")
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        t = time.perf_counter()
        for k, item in enumerate(items):
            event_id = str(item.event.event_id) if item.event is not None else f"raw-{k}"
            type_name = item.event.event_type if item.event is not None else "raw"
            await nc.publish(item.subject, item.body, headers={Header.MSG_ID: event_id, Header.EVENT_TYPE: type_name})
            if k % 20_000 == 19_999:
                await nc.flush(timeout=60)  # bounds the client's buffer
        await nc.flush(timeout=60)
        total = len(items)
        del items
        deadline = time.monotonic() + 120
        while (stored := (await js.stream_info(STREAM_NAME)).state.messages) < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {stored} of {total} events were stored")
            await asyncio.sleep(0.2)
        load_s = time.perf_counter() - t
    finally:
        await nc.close()
    return {"events": total, "generate_s": round(gen_s, 1), "load_s": round(load_s, 1)}


async def _raw_read(server: NatsServer, n: int) -> float:
    nc = await connect(server.admin_url, name="bench-raw-reader")
    try:
        dt = await read_ordered(nc.jetstream(), STREAM_NAME, "fw.>", n)
    finally:
        await nc.close()
    return n / dt


def _audit_replay(server: NatsServer, n: int) -> tuple[float, dict[str, Any]]:
    """The real command line, as an auditor runs it (``--until n``, the ``audit`` user); wall time
    includes start-up."""
    user, password = server.credentials("audit")
    env = {**os.environ, "NATS_URL": server.url, "NATS_USER": user, "NATS_PASSWORD": password}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fw_audit", "audit", "replay", "--json", "--until", str(n)], env=env,
                          capture_output=True, text=True, timeout=1800)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"audit replay exit {proc.returncode}: {proc.stderr[-500:]}")
    out = json.loads(proc.stdout)
    if out["messages"] != n or out["invalid"]:
        raise RuntimeError(f"audit replay read {out['messages']} of {n}, {len(out['invalid'])} invalid")
    return n / dt, out


def _startup_s() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fw_audit", "--help"], capture_output=True, timeout=120, check=True)
    return time.perf_counter() - t


async def replay(infra: Infra, n: int, prefix: int, prefix_runs: int) -> dict[str, Any]:
    """One full pass of each reader over ``n`` events, then ``prefix_runs`` passes over the first
    ``prefix`` events (``--until``) for the spread; each pair in turns so a noisy neighbour hurts
    both alike."""
    store = infra.root / "replay" / "nats"
    port = free_port()
    loader = _FastLoadServer(store, port, passwords=infra.nats_passwords, bcrypt_cost=4)
    await asyncio.to_thread(loader.start)
    try:
        loaded = await _generate_and_load(loader, n)
    finally:
        await asyncio.to_thread(loader.stop)
    server = NatsServer(store, port, passwords=infra.nats_passwords, bcrypt_cost=4)  # sync_interval: always
    await asyncio.to_thread(server.start)
    total = loaded["events"]
    raw, audit = [], []
    try:
        full_raw = await _raw_read(server, total)
        full_audit, out = await asyncio.to_thread(_audit_replay, server, total)
        for _ in range(prefix_runs):
            raw.append(await _raw_read(server, prefix))
            audit.append((await asyncio.to_thread(_audit_replay, server, prefix))[0])
        startup = await asyncio.to_thread(_startup_s)
    finally:
        await asyncio.to_thread(server.stop)
    return {"history": loaded | {"counts": out["counts"]},
            "full": {"events": total, "raw_ordered_read": round(full_raw, 1), "audit_replay": round(full_audit, 1),
                     "ratio_replay_vs_raw": round(full_audit / full_raw, 3), "unit": "events/s"},
            "prefix": {"events": prefix, "raw_ordered_read": summary(raw, "msgs/s"),
                       "audit_replay": summary(audit, "events/s"),
                       "ratio_replay_vs_raw": round(statistics.median(audit) / statistics.median(raw), 3)},
            "audit_cli_startup_s": round(startup, 2)}
