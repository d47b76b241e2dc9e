"""What one PostgreSQL round trip costs over loopback TCP and over a Unix socket
(``python -m bench.socket_probe``).

The services' profiles are dominated by the system calls of their round trips (asyncpg's
writes and reads, the event loop's polls) rather than by Python: on this machine a system
call that crosses into another process is expensive. This probe puts a number on one way to
make each PostgreSQL round trip cheaper without changing any statement: the same ``SELECT 1``
on one connection over TCP to 127.0.0.1 (how the services connect today, in development, in
the bench and, over the container network, in the office deployment) and over the server's
Unix socket. Printed per round trip: this process's CPU, the backend's CPU (``psutil``) and the
wall time; three alternating rounds of ``ROUNDS`` round trips on a fresh cluster, uvloop as in
the services. Not part of ``make bench``; its figures are quoted in ``bench/ANALYSIS.md``.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import uvloop

from fw_devenv._util import free_port
from fw_devenv.postgres import PostgresServer

ROUNDS = 5000
WARM_UP = 500


async def _round_trips(connect: dict[str, Any]) -> tuple[float, float, float]:
    """(client CPU, backend CPU, wall) in µs per ``SELECT 1`` round trip."""
    conn = await asyncpg.connect(**connect)
    try:
        backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
        for _ in range(WARM_UP):
            await conn.fetchval("SELECT 1")
        b0, r0, t0 = backend.cpu_times(), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for _ in range(ROUNDS):
            await conn.fetchval("SELECT 1")
        wall = time.perf_counter() - t0
        r1, b1 = resource.getrusage(resource.RUSAGE_SELF), backend.cpu_times()
    finally:
        await conn.close()
    client = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    server = (b1.user - b0.user) + (b1.system - b0.system)
    return client / ROUNDS * 1e6, server / ROUNDS * 1e6, wall / ROUNDS * 1e6


async def _main(pg: PostgresServer) -> None:
    ways = {"tcp 127.0.0.1": {"host": "127.0.0.1"}, "unix socket": {"host": str(pg.socket_dir)}}
    print(f"{'round':>5}  {'way':<14} {'client µs':>10} {'backend µs':>11} {'wall µs':>8}")
    for n in range(1, 4):
        for way, where in ways.items():
            client, server, wall = await _round_trips({**where, "port": pg.port, "user": "postgres",
                                                       "database": "postgres"})
            print(f"{n:>5}  {way:<14} {client:>10.1f} {server:>11.1f} {wall:>8.1f}")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="fw-socket-probe-"))
    pg = PostgresServer(root / "pg" / "pgdata", free_port())
    pg.start()
    try:
        uvloop.run(_main(pg))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
