"""Section 4: ``fernwartung audit replay`` over a long history, next to the raw reads and the peer.

The replay is the real command line with the read-only ``audit`` NATS user, as an auditor runs
it (its default reader: batched direct get), with ``--workers 2`` (``AUDIT_WORKERS``: the range
split across two processes, as many as the bench machine has cores); the full pass is also run
with one process (the CLI's default). Two: in three quick runs on this machine ``--workers 2``
was ahead of the peer each time, one process in one of them (bench/ANALYSIS.md).

Its references, in turns in the same run:

* the raw reads of nats-py by callback (the client's cheapest path), as admin: an ordered push
  consumer (only admin may create one), and batched direct get with a callback that only counts;
* the peer: the ``eventsourcing`` library replaying the same events from PostgreSQL with decode
  (``bench.peer``, a process of its own like the CLI).

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
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import peer
from bench.infra import Infra
from bench.raw import read_direct, read_ordered
from bench.stats import summary
from fw_contracts import STREAM_NAME, Header
from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_platform.bus import connect, ensure_stream


class _FastLoadServer(NatsServer):
    """The same server and store, but JetStream flushes on its default schedule (loading only)."""

    def _config_text(self) -> str:
        return super()._config_text().replace("sync_interval: always", "")


#: Publishes the loader may be ahead of what the stream has stored.
_LOAD_AHEAD = 40_000


async def _stored_at_least(js: Any, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while (stored := (await js.stream_info(STREAM_NAME)).state.messages) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stream stored only {stored} of the first {n} events")
        await asyncio.sleep(0.02)


async def _generate_and_load(server: NatsServer, n: int, peer_dsn: str) -> dict[str, Any]:
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
                # and the server's: unacknowledged publishes that outrun the stream's store are
                # dropped without an error (an official run lost 267k of 1M on a slow host)
                await _stored_at_least(js, k + 1 - _LOAD_AHEAD)
        await nc.flush(timeout=60)
        total = len(items)
        peer_stored = await asyncio.to_thread(peer.store, peer_dsn, (i.event for i in items if i.event is not None))
        del items
        deadline = time.monotonic() + 120
        while (stored := (await js.stream_info(STREAM_NAME)).state.messages) < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {stored} of {total} events were stored")
            await asyncio.sleep(0.2)
        load_s = time.perf_counter() - t
    finally:
        await nc.close()
    return {"events": total, "generate_s": round(gen_s, 1), "load_s": round(load_s, 1), "peer": peer_stored}


async def _raw_reads(server: NatsServer, n: int) -> tuple[float, float]:
    """(ordered push consumer, batched direct get) rates, both by callback, as admin."""
    nc = await connect(server.admin_url, name="bench-raw-reader")
    try:
        ordered = n / await read_ordered(nc.jetstream(), STREAM_NAME, "fw.>", n)
        direct = n / await read_direct(nc, STREAM_NAME, "fw.>", n)
    finally:
        await nc.close()
    return ordered, direct


def _child_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


#: Processes of ``audit replay`` (``--workers``); the full pass also runs with one.
AUDIT_WORKERS = 2

#: CPU seconds per event of the last run of each process (user + system of the child, start-up
#: included): on a shared machine a steadier figure than the rate.
CPU_US: dict[str, list[float]] = {"audit_replay": [], "peer_replay": [], "audit_replay_one_process": []}


def _peer_replay(dsn: str, n: int) -> tuple[float, dict[str, Any]]:
    """The peer's replay as a process of its own; wall time includes its start-up, like the CLI's."""
    c = _child_cpu_s()
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.peer", dsn, str(n)], capture_output=True, text=True,
                          timeout=1800, cwd=Path(__file__).parent.parent, check=False)
    dt = time.perf_counter() - t
    CPU_US["peer_replay"].append(1e6 * (_child_cpu_s() - c) / n)
    if proc.returncode != 0:
        raise RuntimeError(f"peer replay exit {proc.returncode}: {proc.stderr[-500:]}")
    out = json.loads(proc.stdout)
    if out["events"] != n:
        raise RuntimeError(f"peer replay read {out['events']} of {n}")
    return n / dt, out


def _audit_replay(server: NatsServer, n: int, workers: int = AUDIT_WORKERS) -> tuple[float, dict[str, Any]]:
    """The real command line, as an auditor runs it (``--until n``, the ``audit`` user, ``--workers``);
    wall time includes start-up, CPU that of every process."""
    user, password = server.credentials("audit")
    env = {**os.environ, "NATS_URL": server.url, "NATS_USER": user, "NATS_PASSWORD": password}
    c = _child_cpu_s()
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fw_audit", "audit", "replay", "--json", "--until", str(n),
                           "--workers", str(workers)], env=env, capture_output=True, text=True, timeout=1800, check=False)
    dt = time.perf_counter() - t
    CPU_US["audit_replay" if workers == AUDIT_WORKERS else "audit_replay_one_process"].append(
        1e6 * (_child_cpu_s() - c) / n)
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


async def _peer_database(infra: Infra) -> str:
    import asyncpg

    name = f"fwbench{os.getpid()}_peer"
    conn = await asyncpg.connect(infra.pg.admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return infra.pg.dsn(name)


def _ratios(replay: float, peer_rate: float, ordered: float, direct: float) -> dict[str, float]:
    return {"replay_vs_peer": round(replay / peer_rate, 3), "replay_vs_raw_callback": round(replay / ordered, 3),
            "replay_vs_raw_direct": round(replay / direct, 3)}


async def replay(infra: Infra, n: int, prefix: int, prefix_runs: int) -> dict[str, Any]:
    """One full pass of each reader over ``n`` events, then ``prefix_runs`` passes over the first
    ``prefix`` events (``--until``) for the spread; each round in turns so a noisy neighbour hurts
    all alike."""
    store = infra.root / "replay" / "nats"
    port = free_port()
    peer_dsn = await _peer_database(infra)
    loader = _FastLoadServer(store, port, passwords=infra.nats_passwords, bcrypt_cost=4)
    await asyncio.to_thread(loader.start)
    try:
        loaded = await _generate_and_load(loader, n, peer_dsn)
    finally:
        await asyncio.to_thread(loader.stop)
    server = NatsServer(store, port, passwords=infra.nats_passwords, bcrypt_cost=4)  # sync_interval: always
    await asyncio.to_thread(server.start)
    total = loaded["events"]
    ordered, direct, audit, peers = [], [], [], []
    for runs in CPU_US.values():
        runs.clear()
    try:
        full_ordered, full_direct = await _raw_reads(server, total)
        full_audit, out = await asyncio.to_thread(_audit_replay, server, total)
        full_peer, peer_out = await asyncio.to_thread(_peer_replay, peer_dsn, loaded["peer"]["events"])
        full_one, out_one = await asyncio.to_thread(_audit_replay, server, total, 1)
        if out_one["counts"] != out["counts"]:
            raise RuntimeError(f"one process counted otherwise: {out_one['counts']} vs "
                               f"{out['counts']}")
        for _ in range(prefix_runs):
            o, d = await _raw_reads(server, prefix)
            ordered.append(o)
            direct.append(d)
            audit.append((await asyncio.to_thread(_audit_replay, server, prefix))[0])
            peers.append((await asyncio.to_thread(_peer_replay, peer_dsn, min(prefix, loaded["peer"]["events"])))[0])
        startup = await asyncio.to_thread(_startup_s)
    finally:
        await asyncio.to_thread(server.stop)
    if peer_out["counts"] != {k: v for k, v in out["counts"].items() if k != "(invalid)"}:
        raise RuntimeError(f"the peer replayed other events: {peer_out['counts']} vs {out['counts']}")
    med = statistics.median
    return {"history": loaded | {"counts": out["counts"]},
            "full": {"events": total, "raw_ordered_read": round(full_ordered, 1),
                     "raw_direct_read": round(full_direct, 1), "audit_replay": round(full_audit, 1),
                     "peer_replay": round(full_peer, 1), "audit_replay_one_process": round(full_one, 1),
                     "audit_workers": AUDIT_WORKERS,
                     "peer_read_only": round(peer_out["events"] / peer_out["read_s"], 1),
                     "unit": "events/s"} | _ratios(full_audit, full_peer, full_ordered, full_direct),
            "prefix": {"events": prefix, "raw_ordered_read": summary(ordered, "msgs/s"),
                       "raw_direct_read": summary(direct, "msgs/s"), "audit_replay": summary(audit, "events/s"),
                       "peer_replay": summary(peers, "events/s")}
            | _ratios(med(audit), med(peers), med(ordered), med(direct)),
            "audit_cli_startup_s": round(startup, 2),
            "process_cpu_us_per_event": {  # first: the full pass; then the prefix runs
                k: {"full": round(v[0], 2), "prefix": summary(v[1:], "us/event") if v[1:] else None}
                for k, v in CPU_US.items() if v},
            "how": {"raw": "nats-py by callback, admin: ordered push consumer; batched direct get (5000)",
                    "audit_replay": f"python -m fw_audit audit replay --json --workers {AUDIT_WORKERS} as the audit "
                                    f"user; wall time; the full pass also with --workers 1",
                    "peer": f"eventsourcing {_version('eventsourcing')} on PostgreSQL (psycopg "
                            f"{_version('psycopg')}), notification log in sections of {peer.SECTION}, "
                            f"mapper decode; a process of its own, wall time"}}


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
