"""What the machine was doing: cores, load, CPU and I/O pressure, fsync latency of the disk."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import psutil


def _pressure(kind: str) -> float | None:
    """``some avg10`` of /proc/pressure/<kind>: % of time some task waited for the resource."""
    try:
        line = Path(f"/proc/pressure/{kind}").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(dict(f.split("=") for f in line.split()[1:])["avg10"])


def host_loop_ms(n: int = 1_000_000, repeat: int = 3) -> float:
    """CPU milliseconds of ``n`` integer additions in a Python loop, the best of ``repeat``.

    On this machine a 10M-addition loop took from 0.65 to 1.45 s of CPU at different hours of
    2026-12-03 (the host under the machine is shared): CPU per lifecycle and every rate move
    with it. Taken before and after each section, it lets runs of different hours be compared.
    """
    best = float("inf")
    for _ in range(repeat):
        start, total = time.process_time(), 0
        for i in range(n):
            total += i
        best = min(best, time.process_time() - start)
    return round(best * 1000, 1)


def snapshot() -> dict[str, Any]:
    """Load average, CPU busy % over 1 s, PSI and the host's speed (:func:`host_loop_ms`);
    taken before and after every section."""
    return {"loadavg_1m": round(os.getloadavg()[0], 2), "cpu_busy_pct_1s": psutil.cpu_percent(interval=1.0),
            "psi_cpu_some_avg10": _pressure("cpu"), "psi_io_some_avg10": _pressure("io"),
            "host_loop_ms": host_loop_ms()}


def fsync_rate(directory: Path, n: int = 200) -> float:
    """Small writes with fsync per second in ``directory`` (what ``sync_interval: always`` and
    PostgreSQL's commit pay for)."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        t = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"x" * 512)
            os.fsync(fd)
        return n / (time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()


def describe(directory: Path) -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2 ** 30, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "fsync_per_s": round(fsync_rate(directory), 0),
            "other_processes_top_cpu": _top_others()}


def _top_others(n: int = 5) -> list[str]:
    """The busiest other processes right now (names only), to show the machine was shared."""
    procs = list(psutil.process_iter(["pid", "name", "cmdline"]))
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(1.0)
    me = os.getpid()
    busy = []
    for p in procs:
        try:
            if p.pid != me:
                cmd = " ".join((p.info["cmdline"] or [p.info["name"] or "?"])[:3])[:80]
                busy.append((p.cpu_percent(None), cmd))
        except psutil.Error:
            pass
    return [f"{c:.0f}% {cmd}" for c, cmd in sorted(busy, reverse=True)[:n] if c > 1]
