"""Section 3 (+5, 6): complete lifecycles per second through the four real services.

A load generator (async, keep-alive HTTP/1.1 of its own: :mod:`bench.http1`) offers lifecycles
at a fixed rate (open loop) with a bound on the lifecycles in flight: create the support request
at intake, start the session once session's consumer has acked its SupportRequestCreated (as a
technician starts what the queue shows; 404/409 still retried), end it at once, then wait until PersonalDataErased is on the
stream. After a warm-up, lifecycles *started* in the measured window count; the sustained rate
is completions per second in the window. Latencies of the events come from their store times on
the stream. Then, with the load still on, py-spy samples the services (outside the measured
window, so it does not skew the figures).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.http1 import Http1Pool
from bench.infra import Infra
from bench.office import AckFloor, Footprint, StreamWatcher, py_spy, start_services, top_functions
from bench.stats import latency, summary
from fw_contracts import STREAM_NAME
from fw_devenv.provision import role_name

#: session's durable consumer of SupportRequestCreated (its queue)
SESSION_QUEUE_DURABLE = "session--support_request_created"

#: Connections per service. Most lifecycles in flight wait for their erasure, not for HTTP.
HTTP_CONNECTIONS = 32


@dataclass
class Lifecycle:
    """One request's way through the office, as the load generator saw it."""

    started: float
    request_id: str | None = None
    session_id: str | None = None
    intake_s: float | None = None
    start_retries: int = 0
    done_at: float | None = None  # wall clock (time.time) when the erasure was seen
    error: str | None = None


@dataclass
class Load:
    """The load generator: drives lifecycles over HTTP and waits for their erasure on the stream."""

    watcher: StreamWatcher
    #: Keep-alive connections per service (httpx cost more CPU than the services' own HTTP work).
    http: dict[str, Http1Pool]
    #: session's consumer of SupportRequestCreated: how far it has committed
    queued: AckFloor
    lifecycles: list[Lifecycle] = field(default_factory=list)

    async def one(self, i: int) -> None:
        """Drive lifecycle number ``i`` to its erasure; a failure is recorded, never raised."""
        lc = Lifecycle(started=time.time())
        self.lifecycles.append(lc)
        try:
            await self._drive(lc, i)
        except Exception as exc:  # noqa: BLE001 - recorded and counted, the load goes on
            lc.error = f"{type(exc).__name__}: {exc}"[:200]

    async def _drive(self, lc: Lifecycle, i: int) -> None:
        tag = f"{i:08d}"
        body = {"company": f"Benchfirma {tag} GmbH", "contact_name": f"Erika Muster {tag}",
                "phone": f"+4930{secrets.randbelow(10 ** 8):08d}", "terms_accepted": True, "terms_version": "2026-01"}
        t = time.perf_counter()
        status, answer = await self.http["intake"].post("/api/support-requests", body)
        lc.intake_s = time.perf_counter() - t
        if status != 201:
            raise RuntimeError(f"HTTP intake {status}")
        lc.request_id = json.loads(answer)["request_id"]
        erased = self.watcher.erased(lc.request_id)
        # A technician starts a request once the queue shows it: once session's consumer has
        # acked (committed) its SupportRequestCreated. Retrying until the start no longer
        # answered 404 cost tens of start commands per lifecycle when that consumer was behind.
        await asyncio.wait_for(self.watcher.seen("SupportRequestCreated", lc.request_id), timeout=60)
        await asyncio.wait_for(self.queued.reached(self.watcher.created_seq[lc.request_id]), timeout=60)
        deadline = time.monotonic() + 60
        technician = f"tech-{i % 9 + 1:02d}"
        while True:  # session learns of the request from the stream: retry until it has
            status, answer = await self.http["session"].post(
                "/api/sessions", {"request_id": lc.request_id, "technician": technician})
            if status == 201:
                break
            if status not in (404, 409) or time.monotonic() > deadline:
                raise RuntimeError(f"HTTP start {status}")
            lc.start_retries += 1
            # doubling back-off (20 ms .. 0.64 s): when the office is behind, a retry every
            # 0.1 s multiplied the commands (up to 40 per lifecycle on a busy machine)
            await asyncio.sleep(0.02 * 2 ** min(lc.start_retries - 1, 5))
        lc.session_id = json.loads(answer)["session_id"]
        status, _ = await self.http["session"].post(f"/api/sessions/{lc.session_id}/end",
                                                    headers={"Fw-Technician": technician})
        if status != 200:
            raise RuntimeError(f"HTTP end {status}")
        lc.done_at = await asyncio.wait_for(erased, timeout=120)


async def _offer(load: Load, rate: float, until: float, in_flight: int, tasks: set[asyncio.Task[None]],
                 first: int = 0) -> int:
    """Start lifecycles at ``rate``/s until ``until`` (monotonic), at most ``in_flight`` at once."""
    sem = asyncio.Semaphore(in_flight)
    i = 0
    t0 = time.monotonic()

    async def run(k: int) -> None:
        try:
            await load.one(k)
        finally:
            sem.release()

    while time.monotonic() < until:
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await sem.acquire()
        task = asyncio.create_task(run(first + i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    return i


def _event_latencies(watcher: StreamWatcher, lcs: list[Lifecycle]) -> dict[str, Any]:
    t = watcher.times
    inv_after_end, erase_after_inv, total = [], [], []
    for lc in lcs:
        if lc.session_id in t["SessionEnded"] and lc.session_id in t["InvoiceIssued"]:
            inv_after_end.append(t["InvoiceIssued"][lc.session_id] - t["SessionEnded"][lc.session_id])
        if lc.session_id in t["InvoiceIssued"] and lc.request_id in t["PersonalDataErased"]:
            erase_after_inv.append(t["PersonalDataErased"][lc.request_id] - t["InvoiceIssued"][lc.session_id])
        if lc.done_at:
            total.append(lc.done_at - lc.started)
    return {"invoice_after_session_ended": latency(inv_after_end),
            "erasure_after_invoice_issued": latency(erase_after_inv),
            "lifecycle_total": latency(total)}


async def lifecycles(infra: Infra, *, saturate: tuple[float, float], steady_s: float, warmup: float,
                     in_flight: int, profile_s: float, profiles_dir: Path, stamp: str) -> dict[str, Any]:
    """Run the office once, in two phases.

    ``saturated``: the target rate offered (``saturate`` = rate, window seconds); what completes
    is the sustained capacity, with the latencies at that load. Then, load still on, py-spy
    profiles every service. ``steady``: half the capacity just measured, offered for
    ``steady_s``: the latencies when the office is not saturated.
    """
    out: dict[str, Any] = {"phases": {}}
    async with infra.env("e2e") as env:
        procs = await asyncio.to_thread(start_services, env)
        watcher = StreamWatcher(env.nats_url)
        await watcher.start()
        foot = Footprint(procs, env, infra.pg.data_dir)
        foot.start()
        http = {svc: Http1Pool(procs[svc].url, HTTP_CONNECTIONS) for svc in ("intake", "session")}
        queued = AckFloor(watcher.js, STREAM_NAME, SESSION_QUEUE_DURABLE)
        try:
            load = Load(watcher, http, queued)
            kw = {"warmup": warmup, "in_flight": in_flight, "profiles_dir": profiles_dir, "stamp": stamp,
                  "admin_dsn": infra.pg.admin_dsn, "counters": Counters(env.nats.monitor_url, infra.pg.admin_dsn,
                                                                        env.database)}
            sat = await _phase(load, foot, procs, rate=saturate[0], duration=saturate[1],
                               profile_s=profile_s, **kw)
            out["phases"]["saturated"] = sat
            if steady_s > 0:
                rate = max(1.0, round(sat["lifecycles_per_s"] / 2, 1))
                out["phases"]["steady"] = await _phase(load, foot, procs, rate=rate, duration=steady_s,
                                                       profile_s=0, **kw)
        finally:
            queued.stop()
            for pool in http.values():
                await pool.close()
            foot.stop()
            await watcher.stop()
            for p in procs.values():
                p.stop()
    out["footprint"] = {
        "peak_rss_mb": {s: round(foot.peak_rss[s] / 2 ** 20, 1) for s in procs},
        "peak_rss_mb_total": round(sum(foot.peak_rss[s] for s in procs) / 2 ** 20, 1),
    }
    out["stream_event_counts"] = dict(watcher.counts)
    return out


async def _phase(load: Load, foot: Footprint, procs: dict[str, Any], *, rate: float, warmup: float,
                 duration: float, in_flight: int, profile_s: float, profiles_dir: Path,
                 stamp: str, admin_dsn: str, counters: Counters) -> dict[str, Any]:
    tasks: set[asyncio.Task[None]] = set()
    first = len(load.lifecycles)
    offer = asyncio.create_task(_offer(load, rate, time.monotonic() + warmup + duration + profile_s,
                                       in_flight, tasks, first))
    await asyncio.sleep(warmup)
    w0, cpu0, st0, n0 = time.time(), foot.cpu(), await statements(admin_dsn), await counters.read()
    await asyncio.sleep(duration)
    w1, cpu1, st1, n1 = time.time(), foot.cpu(), await statements(admin_dsn), await counters.read()
    hot = max(procs, key=lambda s: cpu1[s] - cpu0[s])
    prof = await py_spy({s: p.proc.pid for s, p in procs.items() if p.proc}, profile_s,
                        profiles_dir, stamp, hot) if profile_s > 0 else {}
    offered = await offer
    if tasks:  # let the lifecycles in flight finish (bounded by their own timeouts)
        await asyncio.wait(set(tasks), timeout=120)
    lcs = load.lifecycles[first:]
    in_window = [lc for lc in lcs if w0 <= lc.started < w1]
    done_in_window = [lc for lc in lcs if lc.done_at and w0 <= lc.done_at < w1]
    cpu = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu1}
    n_done = len(done_in_window)
    services_cpu = sum(cpu[s] for s in procs)
    errors = Counter(lc.error for lc in lcs if lc.error)
    result: dict[str, Any] = {
        "offered_rate": rate, "in_flight_limit": in_flight, "warmup_s": warmup, "window_s": round(w1 - w0, 1),
        "lifecycles_offered": offered,
        "lifecycles_started_in_window": len(in_window),
        "lifecycles_completed_in_window": n_done,
        "lifecycles_per_s": round(n_done / (w1 - w0), 1),
        "per_10s_slice": _window_rates(done_in_window, w0, w1),
        "failed": sum(errors.values()), "errors": dict(errors.most_common(5)),
        "incomplete": sum(1 for lc in lcs if not lc.done_at and not lc.error),
        "intake_request": latency([lc.intake_s for lc in in_window if lc.intake_s is not None]),
        "session_start_retries_per_lifecycle": round(
            sum(lc.start_retries for lc in in_window) / max(1, len(in_window)), 2),
        **_event_latencies(load.watcher, in_window),
        "cpu_s_in_window": cpu,
        "cpu_ms_per_lifecycle": {k: round(1000 * v / n_done, 1) for k, v in cpu.items()} if n_done else None,
        "services_cpu_ms_per_lifecycle": round(1000 * services_cpu / n_done, 1) if n_done else None,
        "statements": _statement_counts(st0, st1, procs, n_done) if n_done else None,
        "per_lifecycle": {k: round((n1[k] - n0[k]) / n_done, 1) for k in n1} if n_done else None,
        "hottest_service": hot,
    }
    if prof:
        result["profile"] = prof | {"top": {s: top_functions(Path(f)) for s, f in prof.get("files", {}).items()}}
    return result


@dataclass
class Counters:
    """Work counted by the servers themselves, independent of the host's speed: messages through
    nats-server (``/varz``: into it from all clients, out of it to all subscribers, the load
    generator's watcher included) and the database's committed transactions
    (``pg_stat_database.xact_commit``: each commit of a write waits for a WAL flush)."""

    monitor_url: str
    admin_dsn: str
    database: str

    async def read(self) -> dict[str, int]:
        varz = await asyncio.to_thread(self._varz)
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            commits = await conn.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                                          self.database)
        finally:
            await conn.close()
        return {"nats_msgs_in": int(varz["in_msgs"]), "nats_msgs_out": int(varz["out_msgs"]),
                "pg_commits": int(commits or 0)}

    def _varz(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.monitor_url}/varz", timeout=5) as r:
            return dict(json.loads(r.read()))


async def statements(admin_dsn: str) -> dict[tuple[str, str], int]:
    """Statements executed so far per database role and normalised statement text
    (``pg_stat_statements``, BEGIN/COMMIT included, each statement of a multi-statement query
    counted; each service connects as the role of its name)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        rows = await conn.fetch("SELECT r.rolname, s.query, sum(s.calls)::bigint AS calls FROM pg_stat_statements s"
                                " JOIN pg_roles r ON r.oid = s.userid GROUP BY r.rolname, s.query")
    finally:
        await conn.close()
    return {(r["rolname"], r["query"]): r["calls"] for r in rows}


def _statement_counts(before: dict[tuple[str, str], int], after: dict[tuple[str, str], int],
                      services: Iterable[str], n: int) -> dict[str, Any]:
    """Per service: statements per lifecycle, and the most frequent statements (first 80
    characters of the normalised text)."""
    out: dict[str, Any] = {"per_service": {}, "top": {}}
    for svc in services:
        role = role_name(svc)
        diff = Counter({q: c - before.get((r, q), 0) for (r, q), c in after.items() if r == role})
        out["per_service"][svc] = round(sum(diff.values()) / n, 1)
        out["top"][svc] = [(" ".join(q.split())[:80], round(c / n, 2)) for q, c in diff.most_common(12) if c > 0]
    return out


def _window_rates(done: list[Lifecycle], w0: float, w1: float, step: float = 10.0) -> dict[str, Any] | None:
    """Completions per second in consecutive 10 s slices of the window (median and spread)."""
    edges = [w0 + k * step for k in range(int((w1 - w0) // step) + 1)]
    if len(edges) < 2:
        return None
    times = [lc.done_at for lc in done if lc.done_at is not None]
    counts = [sum(1 for t in times if a <= t < b) / step for a, b in itertools.pairwise(edges)]
    return summary(counts, "lifecycles/s")
