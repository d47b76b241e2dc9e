"""The chaos harness's private office: PostgreSQL, NATS and the four services, each restartable.

Built like ``fw_devenv.pytest_plugin``'s ``fw_env`` (same passwords scheme, same provisioning,
same ``ServiceProcess``), but with a PostgreSQL cluster of its own: the plugin's ``pg_server`` is
shared by the whole test session and must not be restarted under other tests' feet.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_devenv.nats_auth import generate_passwords
from fw_devenv.postgres import PostgresServer
from fw_devenv.provision import database_dsn, provision
from fw_devenv.pytest_plugin import TEST_BCRYPT_COST, FwEnv, ServiceProcess, billing_tariff_env
from fw_platform.bus import connect, ensure_stream

#: The four services of one lifecycle (reporting only reads; it is not part of the guarantees).
SERVICES = ("retention", "intake", "session", "billing")
_PG_PASSWORDS = {svc: f"chaos-{svc}-pw" for svc in ("intake", "session", "billing", "retention", "reporting")}

#: Bills every session of at least one second, so a run has invoices *and* not-billed sessions.
CHAOS_TARIFF = """
version = "chaos-1"
base_fee = 10.00
interval_seconds = 900
rate_per_interval = 24.00
min_billed_seconds = 900
free_threshold_seconds = 1
vat_rate = 0.19
timezone = "Europe/Berlin"
"""


def service_extra_env(work_dir: Path) -> dict[str, str]:
    """Settings beyond ``settings_env``: the chaos tariff and no rate limit for the driver."""
    return {**billing_tariff_env(work_dir, CHAOS_TARIFF),
            "FW_INTAKE_RATE_LIMIT_PER_MINUTE": "100000"}


@dataclass
class Cluster:
    """Everything of one chaos run, under ``root``."""

    root: Path
    pg: PostgresServer | None = None
    nats: NatsServer | None = None
    env: FwEnv | None = None
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    database: str = "fwchaos"

    @property
    def admin_db_dsn(self) -> str:
        assert self.pg is not None
        return database_dsn(self.pg.admin_dsn, self.database)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pg = PostgresServer(self.root / "pg" / "pgdata", free_port())
        await asyncio.to_thread(self.pg.start)
        self.nats = NatsServer(self.root / "natsvar" / "nats", free_port(), passwords=generate_passwords(),
                               bcrypt_cost=TEST_BCRYPT_COST)
        await asyncio.to_thread(self.nats.start)
        dsns = await provision(self.pg.admin_dsn, self.database, _PG_PASSWORDS)
        nc = await connect(self.nats.admin_url, name="chaos-admin")
        try:
            await ensure_stream(nc.jetstream())
        finally:
            await nc.close()
        self.env = FwEnv(nats=self.nats, admin_dsn=self.pg.admin_dsn, database=self.database, dsns=dsns,
                         work_dir=self.root)
        extra = service_extra_env(self.root)
        for svc in SERVICES:
            self.procs[svc] = ServiceProcess(svc, self.env, extra=extra)
            await asyncio.to_thread(self.procs[svc].start, 60.0)

    async def stop(self) -> None:
        for p in self.procs.values():
            await asyncio.to_thread(p.stop)
        if self.nats:
            await asyncio.to_thread(self.nats.stop)
        if self.pg:
            await asyncio.to_thread(self.pg.stop)

    def url(self, service: str, path: str) -> str:
        return self.procs[service].url + path

    # ------------------------------------------------------------------ faults
    async def start_service(self, service: str, attempts: int = 10) -> None:
        """(Re)start a service; retried because it may come up while a dependency restarts."""
        for attempt in range(attempts):
            try:
                await asyncio.to_thread(self.procs[service].start, 60.0)
                return
            except RuntimeError:
                self.procs[service].kill()
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(1.0)

    async def kill_service(self, service: str) -> None:
        """``kill -9``: no shutdown hook runs, the outbox and unacked messages stay as they are."""
        await asyncio.to_thread(self.procs[service].kill)

    async def restart_nats(self, *, hard: bool, down_for: float) -> None:
        """Stop NATS (SIGKILL or SIGTERM) and start it again on the same store dir and port."""
        assert self.nats is not None
        pid = self.nats.pid
        if hard and pid:
            os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.05)
        await asyncio.to_thread(self.nats.stop)
        await asyncio.sleep(down_for)
        for attempt in range(20):
            try:
                await asyncio.to_thread(self.nats.start)
                return
            except Exception:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)

    async def restart_postgres(self, *, mode: str, down_for: float) -> None:
        """``pg_ctl stop -m immediate`` (a crash: WAL recovery on start) or ``-m fast``, then start."""
        assert self.pg is not None
        await asyncio.to_thread(self.pg._run, ["pg_ctl", "-D", str(self.pg.data_dir), "-m", mode, "-w",
                                               "-t", "60", "stop"], 90)
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.pg.start)

    # ------------------------------------------------------------- observation
    async def admin_conn(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.admin_db_dsn, timeout=5)

    async def outbox_depth(self, service: str) -> int | None:
        """Committed events not yet published (None when PostgreSQL cannot be asked)."""
        try:
            conn = await self.admin_conn()
        except Exception:  # noqa: BLE001 - a probe: unknown while the cluster is down
            return None
        try:
            return int(await conn.fetchval(f'SELECT count(*) FROM "{service}".outbox'))
        except Exception:  # noqa: BLE001 - a probe: unknown while the cluster is down
            return None
        finally:
            await conn.close()

    async def unacked(self, service: str) -> int | None:
        """Messages delivered to the service's durable consumers and not acked yet."""
        assert self.nats is not None
        try:
            nc = await asyncio.wait_for(connect(self.nats.admin_url, name="chaos-probe"), 3)
        except Exception:  # noqa: BLE001 - a probe: unknown while the cluster is down
            return None
        try:
            js = nc.jetstream()
            total = 0
            for info in await js.consumers_info("FERNWARTUNG"):
                if info.name.startswith(f"{service}--"):
                    total += info.num_ack_pending or 0
            return total
        except Exception:  # noqa: BLE001 - a probe: unknown while the cluster is down
            return None
        finally:
            await nc.close()
