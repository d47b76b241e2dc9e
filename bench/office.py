"""The four services as real processes, a watcher on the stream, a footprint sampler, py-spy."""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import shutil
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psutil

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, billing_tariff_env
from fw_platform.bus import connect

SERVICES = ("retention", "intake", "session", "billing")  # retention first: it serves the vault

#: As in tests/e2e: a tariff that bills even a session of 0 s (no free threshold), so every
#: lifecycle ends in InvoiceIssued → PersonalDataErased; otherwise like the shipped one.
BENCH_TARIFF = """
version = "bench-1"
base_fee = 10.00
interval_seconds = 900
rate_per_interval = 24.00
min_billed_seconds = 900
free_threshold_seconds = 0
vat_rate = 0.19
timezone = "Europe/Berlin"
"""


def extra_env(env: FwEnv) -> dict[str, str]:
    return {**billing_tariff_env(env.work_dir, BENCH_TARIFF),
            # the load comes from one address: the per-address form-spam limit would refuse it
            "FW_INTAKE_RATE_LIMIT_PER_MINUTE": "100000"}


def start_services(env: FwEnv) -> dict[str, ServiceProcess]:
    # Each service in a fresh interpreter, as its container starts it: the tests' fork of a warm
    # interpreter (fw_devenv.service_fork) carries every service's modules into each process,
    # which showed as ~110 MB RSS per service and a larger heap for the garbage collector.
    os.environ["FW_TEST_SPAWN"] = "exec"
    procs: dict[str, ServiceProcess] = {}
    try:
        for svc in SERVICES:
            procs[svc] = ServiceProcess(svc, env, extra=extra_env(env)).start(timeout=60)
    except BaseException:
        for p in procs.values():
            p.stop()
        raise
    return procs


@dataclass
class StreamWatcher:
    """Reads every event from the stream (ordered consumer) and keeps their store times."""

    nats_url: str
    times: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _waiters: dict[tuple[str, str], asyncio.Future[float]] = field(default_factory=dict)
    #: request id -> stream sequence of its SupportRequestCreated
    created_seq: dict[str, int] = field(default_factory=dict)

    #: event type -> the id field its time is filed under
    KEYS: ClassVar[dict[str, str]] = {
        "SupportRequestCreated": "request_id", "SessionStarted": "session_id", "SessionEnded": "session_id",
        "InvoiceIssued": "session_id", "PersonalDataErased": "request_id"}

    async def start(self) -> None:
        self._nc = await connect(self.nats_url, name="bench-watcher")
        self.js = self._nc.jetstream()
        # A callback, not ``sub.messages``: the iterator waits for each message with a Task and
        # a ``wait_for`` (nats-py's ``next_msg``), load-generator CPU counted per lifecycle.
        self._sub = await self.js.subscribe("fw.>", ordered_consumer=True, cb=self._on_msg,
                                            pending_msgs_limit=1_000_000, pending_bytes_limit=1024 ** 3)

    async def _on_msg(self, msg: Any) -> None:
        body = json.loads(msg.data)
        et = body.get("event_type", "?")
        self.counts[et] += 1
        key = self.KEYS.get(et)
        if key is None:
            return
        meta = msg.metadata
        t = meta.timestamp.timestamp()
        self.times[et][body[key]] = t
        if et == "SupportRequestCreated":
            self.created_seq[body[key]] = meta.sequence.stream
        if et in self.AWAITED:
            fut = self._waiters.pop((et, body[key]), None)
            if fut is not None and not fut.done():
                fut.set_result(t)

    #: the event types a lifecycle can wait for
    AWAITED: ClassVar[frozenset[str]] = frozenset({"SupportRequestCreated", "PersonalDataErased"})

    def seen(self, event_type: str, key: str) -> asyncio.Future[float]:
        """A future that resolves with the store time of ``event_type`` for ``key`` (its id)."""
        assert event_type in self.AWAITED
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if key in self.times[event_type]:
            fut.set_result(self.times[event_type][key])
        else:
            self._waiters[(event_type, key)] = fut
        return fut

    def erased(self, request_id: str) -> asyncio.Future[float]:
        """A future that resolves with the erasure's store time."""
        return self.seen("PersonalDataErased", request_id)

    async def stop(self) -> None:
        await self._nc.close()


class AckFloor:
    """Waits until a durable consumer has acked (so committed) the stream up to a sequence.

    The load generator starts a session once session's consumer has the request, as a
    technician starts what the queue shows, instead of trying the start until it no longer
    answers 404: on a busy machine that consumer falls seconds behind and the tries became
    tens of start commands per lifecycle. One ``consumer_info`` per ``interval`` while anyone
    waits, for all of them together.
    """

    def __init__(self, js: Any, stream: str, durable: str, interval: float = 0.025) -> None:
        self._js, self._stream, self._durable, self._interval = js, stream, durable, interval
        self._api = js._prefix  # "$JS.API" unless the account maps it
        self._floor = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._n = 0
        self._task: asyncio.Task[None] | None = None

    async def reached(self, seq: int) -> None:
        if seq <= self._floor:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._n += 1
        heapq.heappush(self._waiters, (seq, self._n, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await fut

    async def _run(self) -> None:
        while self._waiters:
            # The API request itself, its answer's one field read: nats-py's ``consumer_info``
            # builds the whole ConsumerInfo each time (load-generator CPU, 40 times a second).
            reply = await self._js._nc.request(f"{self._api}.CONSUMER.INFO.{self._stream}.{self._durable}",
                                               b"", timeout=5)
            info = json.loads(reply.data)
            if "error" in info:
                raise RuntimeError(f"consumer info: {info['error']}")
            self._floor = max(self._floor, int((info.get("ack_floor") or {}).get("stream_seq", 0)))
            while self._waiters and self._waiters[0][0] <= self._floor:
                _, _, fut = heapq.heappop(self._waiters)
                if not fut.done():
                    fut.set_result(None)
            if self._waiters:
                await asyncio.sleep(self._interval)

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


class Footprint:
    """Samples RSS and CPU of the services and of NATS/PostgreSQL."""

    def __init__(self, procs: dict[str, ServiceProcess], env: FwEnv, pg_data_dir: Path) -> None:
        self.procs = {svc: psutil.Process(p.proc.pid) for svc, p in procs.items() if p.proc}
        nats_pid = env.nats.pid
        self.nats = psutil.Process(nats_pid) if nats_pid else None
        pid = int((pg_data_dir / "postmaster.pid").read_text().split()[0])
        self.postmaster = psutil.Process(pid)
        self.peak_rss: dict[str, int] = defaultdict(int)
        self._task: asyncio.Task[None] | None = None

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user+system) so far; PostgreSQL with its backends (ended ones are lost)."""
        out = {}
        for svc, p in self.procs.items():
            t = p.cpu_times()
            out[svc] = t.user + t.system
        if self.nats:
            t = self.nats.cpu_times()
            out["nats-server"] = t.user + t.system
        total = 0.0
        for p in [self.postmaster, *self.postmaster.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        out["postgresql"] = total
        t = psutil.Process().cpu_times()
        out["bench_loadgen"] = t.user + t.system  # this process: the load generator and the watcher
        m = psutil.cpu_times()
        # every process on the machine, ours and the other jobs' (all cores together)
        out["machine_busy"] = sum(m) - m.idle - getattr(m, "iowait", 0.0)
        return out

    def sample(self) -> None:
        for svc, p in self.procs.items():
            try:
                self.peak_rss[svc] = max(self.peak_rss[svc], p.memory_info().rss)
            except psutil.Error:
                pass

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def py_spy(pids: dict[str, int], seconds: float, out_dir: Path, stamp: str, svg_for: str) -> dict[str, Any]:
    """Sample the services with py-spy (no pausing); collapsed stacks for all, a flame graph for one."""
    exe = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
    if not Path(exe).exists():  # noqa: ASYNC240 - one stat before sampling starts
        return {"error": "py-spy not installed"}
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before sampling starts
    jobs, files = [], {}
    for svc, pid in pids.items():
        raw = out_dir / f"{stamp}-{svc}.collapsed.txt"
        files[svc] = raw
        jobs.append([exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
                     "--nonblocking", "--format", "raw", "--output", str(raw)])
    svg = out_dir / f"{stamp}-{svg_for}.svg"
    jobs.append([exe, "record", "--pid", str(pids[svg_for]), "--duration", str(int(seconds)), "--rate", "100",
                 "--nonblocking", "--format", "flamegraph", "--output", str(svg)])
    # Popen does not wait for the child; the loop below polls without blocking
    running = [subprocess.Popen(j, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for j in jobs]  # noqa: ASYNC220
    deadline = time.monotonic() + seconds + 30
    while any(p.poll() is None for p in running) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls children
        await asyncio.sleep(0.5)
    errors = []
    for p in running:
        if p.poll() is None:
            p.kill()
        elif p.returncode != 0 and p.stderr:
            errors.append(p.stderr.read().decode(errors="replace")[-300:])
    return {"files": {svc: str(f) for svc, f in files.items() if f.exists()},
            "flamegraph": str(svg) if svg.exists() else None, "errors": errors}


def top_functions(collapsed: Path, n: int = 15) -> dict[str, Any]:
    """Self and inclusive share of samples per function, from py-spy's collapsed stacks."""
    own: dict[str, int] = defaultdict(int)
    incl: dict[str, int] = defaultdict(int)
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        own[frames[-1]] += c
        for f in set(frames):
            incl[f] += c

    def top(d: dict[str, int]) -> list[tuple[str, float]]:
        return [(f, round(100 * c / total, 1)) for f, c in sorted(d.items(), key=lambda x: -x[1])[:n]]

    return {"samples": total, "self_pct": top(own), "inclusive_pct": top(incl)}
