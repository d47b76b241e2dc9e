"""Chaos harness: N support-request lifecycles over HTTP while services, NATS and PostgreSQL die.

Run alone (a long run)::

    .venv/bin/python -m tests.chaos.harness --lifecycles 1000 --faults 100
    .venv/bin/python tests/chaos/harness.py --lifecycles 200 --faults 20 --seed 7

The driver behaves like a patient client: a request that fails during a fault (connection
refused, 5xx) is sent again. Faults come one after another at random moments under load:

* ``kill -9`` of a random service, restarted after a random pause. Under load that lands
  between a commit and the outbox relay's publish (counted: the service's outbox was not empty
  just before the kill) and between handling and ack (counted: its consumers had delivered but
  unacknowledged messages just before the kill);
* NATS stopped (SIGKILL or SIGTERM) and started again on the same store dir and port;
* PostgreSQL stopped (``-m immediate``, i.e. a crash with WAL recovery, or ``-m fast``) and
  started again on the same data dir and port.

Then it waits for quiescence and checks the invariants (``chaos_invariants``). Exit code 0 only
when every invariant holds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from chaos_cluster import SERVICES, Cluster
from chaos_invariants import Report, check, consumers_idle, read_stream

from fw_platform.bus import connect

#: The technician every session is started as; session wants it named on each later call.
ACTING = {"Fw-Technician": "tech-01"}


@dataclass
class Stats:
    accepted: set[str] = field(default_factory=set)
    sessions: dict[str, str] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    gave_up: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    kills_with_unpublished_outbox: int = 0
    kills_with_unacked_messages: int = 0
    done: int = 0
    unexpected: list[str] = field(default_factory=list)


class GaveUp(Exception):
    pass


class Driver:
    """Lifecycles over HTTP: create a request, start its session, (wait,) end it."""

    def __init__(self, cluster: Cluster, stats: Stats, rng: random.Random, *, deadline_s: float = 180) -> None:
        self.c = cluster
        self.s = stats
        self.rng = rng
        self.deadline_s = deadline_s

    async def _send(self, http: httpx.AsyncClient, step: str, method: str, service: str, path: str,
                    json: dict | None = None, ok: tuple[int, ...] = (200, 201),
                    final: tuple[int, ...] = ()) -> httpx.Response:
        """Send until a status in ``ok``/``final``; connection errors, 5xx, 404 and 429 are retried."""
        deadline = time.monotonic() + self.deadline_s
        pause = 0.1
        while True:
            try:
                resp = await http.request(method, self.c.url(service, path), json=json, headers=ACTING)
                code = ""
                if resp.status_code >= 500:  # which refusal: 503s are expected in a fault, 500s are not
                    try:
                        code = " " + str(resp.json().get("code"))
                    except ValueError:
                        code = " (no JSON)"
                self.s.statuses[f"{step} {resp.status_code}{code}"] += 1
                if resp.status_code in ok or resp.status_code in final:
                    return resp
                if resp.status_code < 500 and resp.status_code not in (404, 429):
                    raise AssertionError(f"{step}: unexpected {resp.status_code} {resp.text[:300]}")
            except httpx.TransportError as exc:
                self.s.statuses[f"{step} {type(exc).__name__}"] += 1
            if time.monotonic() > deadline:
                self.s.gave_up += 1
                raise GaveUp(step)
            self.s.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def lifecycle(self, http: httpx.AsyncClient, i: int) -> None:
        tag = uuid.uuid4().hex[:8]
        body = {"company": f"Chaos{tag} GmbH", "contact_name": f"Erika{tag} Test",
                "phone": f"+4930{self.rng.randrange(10**8):08d}", "terms_accepted": True,
                "terms_version": "2026-01"}
        r = await self._send(http, "create", "POST", "intake", "/api/support-requests", body, ok=(201,))
        request_id = r.json()["request_id"]
        self.s.accepted.add(request_id)
        # 404 until session has consumed SupportRequestCreated; 409 when a start whose answer
        # was lost did commit: then the session is looked up as a client would reload its view.
        r = await self._send(http, "start", "POST", "session", "/api/sessions",
                             {"request_id": request_id, "technician": "tech-01"}, ok=(201,), final=(409,))
        if r.status_code == 201:
            session_id = r.json()["session_id"]
        else:
            session_id = await self._session_of(request_id)
        if self.rng.random() < 0.6:
            await asyncio.sleep(self.rng.uniform(1.05, 1.5))  # billed; shorter ones are not
        r = await self._send(http, "end", "POST", "session", f"/api/sessions/{session_id}/end",
                             ok=(200, 201), final=(409,))
        self.s.sessions[session_id] = request_id
        self.s.done += 1

    async def _session_of(self, request_id: str) -> str:
        for _ in range(600):
            try:
                conn = await self.c.admin_conn()
                try:
                    sid = await conn.fetchval("SELECT session_id FROM session.sessions WHERE request_id = $1",
                                              uuid.UUID(request_id))
                finally:
                    await conn.close()
                if sid:
                    return str(sid)
            except Exception:  # noqa: BLE001,S110 - a probe: polled again until the deadline
                pass
            await asyncio.sleep(0.3)
        raise GaveUp("session lookup")

    async def run(self, n: int, concurrency: int) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=15, limits=limits) as http:
            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    try:
                        await self.lifecycle(http, i)
                    except GaveUp:
                        pass
                    except AssertionError as exc:  # an answer no fault explains: reported, run goes on
                        self.s.unexpected.append(str(exc))
            await asyncio.gather(*(worker() for _ in range(concurrency)))


class Faults:
    """One fault after another at random moments, until ``n`` are done."""

    def __init__(self, cluster: Cluster, stats: Stats, rng: random.Random, log) -> None:
        self.c = cluster
        self.s = stats
        self.rng = rng
        self.log = log

    async def run(self, n: int, gap: tuple[float, float], weights: tuple[int, int, int] = (7, 2, 2)) -> None:
        for k in range(n):
            await asyncio.sleep(self.rng.uniform(*gap))
            kind = self.rng.choices(("kill", "nats", "postgres"), weights=weights)[0]
            started = time.monotonic()
            if kind == "kill":
                detail = await self._kill_a_service()
            elif kind == "nats":
                hard = self.rng.random() < 0.5
                await self.c.restart_nats(hard=hard, down_for=self.rng.uniform(0, 1.0))
                detail = "nats " + ("SIGKILL" if hard else "SIGTERM")
            else:
                mode = self.rng.choice(("immediate", "fast"))
                await self.c.restart_postgres(mode=mode, down_for=self.rng.uniform(0, 1.0))
                detail = f"postgres -m {mode}"
            self.s.faults[detail] += 1
            self.log(f"fault {k + 1}/{n}: {detail} ({time.monotonic() - started:.1f}s, "
                     f"{self.s.done} lifecycles done)")

    async def _kill_a_service(self) -> str:
        svc = self.rng.choice(SERVICES)
        outbox, unacked = await asyncio.gather(self.c.outbox_depth(svc), self.c.unacked(svc))
        await self.c.kill_service(svc)
        self.s.kills_with_unpublished_outbox += bool(outbox)
        self.s.kills_with_unacked_messages += bool(unacked)
        await asyncio.sleep(self.rng.uniform(0, 0.5))
        await self.c.start_service(svc)
        return f"kill -9 {svc}"


async def quiesce_and_check(cluster: Cluster, stats: Stats, timeout: float, log) -> Report:
    """Poll until the consumers are idle and every invariant holds, or the timeout passes."""
    deadline = time.monotonic() + timeout
    report = Report(violations=["not checked"])
    while True:
        nc = await connect(cluster.env.nats_url, name="chaos-check")
        try:
            idle = await consumers_idle(nc)
            events = await read_stream(nc)
        finally:
            await nc.close()
        conn = await cluster.admin_conn()
        try:
            report = await check(events, conn, accepted=stats.accepted, sessions=stats.sessions)
        finally:
            await conn.close()
        if idle and report.ok:
            return report
        if time.monotonic() > deadline:
            if not idle:
                report.fail("consumers still have pending messages")
            return report
        log(f"waiting for quiescence: idle={idle}, {len(report.violations)} open checks")
        await asyncio.sleep(2.0)


async def run(lifecycles: int, faults: int, *, concurrency: int = 12, seed: int | None = None,
              root: Path | None = None, fault_gap: tuple[float, float] | None = None,
              quiesce_timeout: float = 120, log=print) -> tuple[Report, Stats]:
    """One chaos run; returns the invariant report and what was done."""
    # Our own NATS connections say "disconnected" on every close: not news here.
    logging.getLogger("fw_platform.bus").setLevel(logging.ERROR)
    seed = seed if seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    root = root or Path(tempfile.mkdtemp(prefix="fwchaos-"))
    cluster = Cluster(root)
    stats = Stats()
    log(f"chaos: seed={seed}, {lifecycles} lifecycles, {faults} faults, concurrency {concurrency}, dir {root}")
    t0 = time.monotonic()
    await cluster.start()
    log(f"cluster up in {time.monotonic() - t0:.1f}s")
    try:
        # Faults spread over the expected driving time (≈ 0.1 s per lifecycle on two cores).
        gap = fault_gap or (0.2, max(0.4, 2 * 0.1 * lifecycles / max(faults, 1) - 1.5))
        t1 = time.monotonic()
        await asyncio.gather(Driver(cluster, stats, rng).run(lifecycles, concurrency),
                             Faults(cluster, stats, rng, log).run(faults, gap))
        log(f"driving and faults done in {time.monotonic() - t1:.1f}s")
        t2 = time.monotonic()
        report = await quiesce_and_check(cluster, stats, quiesce_timeout, log)
        log(f"quiescence and checks in {time.monotonic() - t2:.1f}s")
    finally:
        await cluster.stop()
    _print_summary(report, stats, log)
    return report, stats


def _print_summary(report: Report, stats: Stats, log) -> None:
    log("faults: " + ", ".join(f"{k} x{v}" for k, v in sorted(stats.faults.items())))
    log(f"kills just after a commit whose events were not yet published: {stats.kills_with_unpublished_outbox}")
    log(f"kills with delivered but unacknowledged messages: {stats.kills_with_unacked_messages}")
    log(f"lifecycles completed: {stats.done}, client retries: {stats.retries}, gave up: {stats.gave_up}")
    for text in stats.unexpected[:10]:
        log(f"UNEXPECTED ANSWER: {text}")
    log("HTTP outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.items())))
    log("counts: " + ", ".join(f"{k}={v}" for k, v in report.counts.items()))
    for consumer, reason in report.parked[:20]:
        log(f"parked: {consumer}: {reason}")
    if report.ok:
        log("ALL INVARIANTS HOLD")
    for v in report.violations:
        log(f"VIOLATION: {v}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lifecycles", type=int, default=200)
    p.add_argument("--faults", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=12)
    p.add_argument("--seed", type=int)
    p.add_argument("--dir", type=Path, help="work dir (default: a new temp dir)")
    args = p.parse_args()
    report, stats = asyncio.run(run(args.lifecycles, args.faults, concurrency=args.concurrency,
                                    seed=args.seed, root=args.dir))
    sys.exit(0 if report.ok and not stats.gave_up and not stats.unexpected else 1)


if __name__ == "__main__":
    main()
