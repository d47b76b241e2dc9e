"""Private servers for the bench: one PostgreSQL cluster, a fresh nats-server per scenario."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fw_devenv._util import free_port
from fw_devenv.devenv import SERVICES
from fw_devenv.nats import NatsServer
from fw_devenv.nats_auth import generate_passwords
from fw_devenv.postgres import PostgresServer
from fw_devenv.provision import provision
from fw_devenv.pytest_plugin import TEST_BCRYPT_COST, FwEnv

PASSWORDS = {svc: f"bench-{svc}-pw" for svc in SERVICES}


class Infra:
    """One PostgreSQL cluster for the whole run; NATS servers and databases per scenario."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="fwbench-"))
        self.pg = PostgresServer(self.root / "pg" / "pgdata", free_port())
        self._n = itertools.count(1)
        self.nats_passwords = generate_passwords()

    def start(self) -> Infra:
        # pg_stat_statements counts the statements of each service's role (BEGIN and COMMIT
        # included): the lifecycle section reports them per completed lifecycle.
        self.pg.init()
        with (self.pg.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("shared_preload_libraries = 'pg_stat_statements'\n")
        self.pg.start()
        return self

    def stop(self, keep: bool = False) -> None:
        self.pg.stop()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    @asynccontextmanager
    async def env(self, name: str, *, stream: bool = True) -> AsyncIterator[FwEnv]:
        """A fresh nats-server (per-user permissions, FERNWARTUNG stream) and a fresh database."""
        from fw_platform.bus import connect, ensure_stream

        n = next(self._n)
        work = self.root / f"{n:02d}-{name}"
        work.mkdir(parents=True)
        nats = NatsServer(work / "natsvar" / "nats", free_port(), passwords=self.nats_passwords,
                          bcrypt_cost=TEST_BCRYPT_COST)
        await asyncio.to_thread(nats.start)
        try:
            database = f"fwbench{os.getpid()}_{n}"
            dsns = await provision(self.pg.admin_dsn, database, PASSWORDS)
            if stream:
                nc = await connect(nats.admin_url, name="bench-admin")
                try:
                    await ensure_stream(nc.jetstream())
                finally:
                    await nc.close()
            yield FwEnv(nats=nats, admin_dsn=self.pg.admin_dsn, database=database, dsns=dsns,
                        work_dir=work)
        finally:
            await asyncio.to_thread(nats.stop)
            shutil.rmtree(work / "natsvar" / "nats", ignore_errors=True)  # the big part
