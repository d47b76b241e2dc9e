"""fw_devenv against real servers (nats-server + PostgreSQL 18) in a temp dir.

Tests in this module share one DevEnv and run in file order; the restart test
comes last and checks that JetStream and PostgreSQL data survive a stop/start.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import nats
import pytest

from fw_devenv import (
    DevEnv,
    DevEnvError,
    NatsServer,
    PortInUseError,
    PostgresServer,
    free_port,
    load_or_create_secrets,
    provision_sync,
)

DB = "fw_test"
PASSWORDS = {"intake": "pw-intake", "billing": "pw b/ill:ing@%"}  # odd chars: URL quoting


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="fw-devenv-test-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def env(workdir):
    e = DevEnv(workdir / "var")
    t0 = time.monotonic()
    e.start()
    print(f"\nDevEnv start (incl. initdb): {time.monotonic() - t0:.2f}s")
    yield e
    e.stop()


@pytest.fixture(scope="module")
def dsns(env):
    return provision_sync(env.admin_dsn, DB, PASSWORDS)


def test_servers_up(env):
    assert env.nats.healthy()
    assert env.nats_url == f"nats://127.0.0.1:{env.nats.port}"
    assert env.admin_dsn == f"postgresql://postgres@127.0.0.1:{env.postgres.port}/postgres"

    async def check():
        conn = await asyncpg.connect(env.admin_dsn)
        try:
            assert conn.get_server_version().major == 18
            assert await conn.fetchval("SHOW fsync") == "on"
            assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
        finally:
            await conn.close()

    asyncio.run(check())
    conf = env.nats.conf_file.read_text()
    assert "sync_interval: always" in conf and str(env.nats.store_dir) in conf
    if os.geteuid() == 0:  # postgres must not run as root
        pid = int((env.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        assert os.stat(f"/proc/{pid}").st_uid != 0


def test_jetstream_publish_and_read(env):
    async def roundtrip():
        nc = await nats.connect(env.nats_url)
        try:
            js = nc.jetstream()
            info = await js.account_info()
            assert info is not None
            await js.add_stream(name="DEVENV", subjects=["devenv.>"])
            ack = await js.publish("devenv.hello", b"persist me")
            assert ack.stream == "DEVENV" and ack.seq == 1
            msg = await js.get_msg("DEVENV", ack.seq)
            assert msg.data == b"persist me"
            sub = await js.pull_subscribe("devenv.>", durable="reader")
            [m] = await sub.fetch(1, timeout=5)
            assert m.data == b"persist me"
            await m.ack()
        finally:
            await nc.close()

    asyncio.run(roundtrip())


def test_provision_idempotent(env, dsns):
    again = provision_sync(env.admin_dsn, DB, PASSWORDS)
    assert again == dsns
    assert set(dsns) == {"intake", "billing"}
    assert dsns["intake"] == f"postgresql://fw_intake:pw-intake@127.0.0.1:{env.postgres.port}/{DB}"

    async def check():
        conn = await asyncpg.connect(env.admin_dsn.rsplit("/", 1)[0] + f"/{DB}")
        try:
            owners = dict(await conn.fetch(
                "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
                "WHERE nspname IN ('intake', 'billing')"))
            assert owners == {"intake": "fw_intake", "billing": "fw_billing"}
            assert await conn.fetchval(
                "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname='fw_intake'"
            ) is False
        finally:
            await conn.close()
        # each service role logs in with its DSN (password checked: scram over TCP)
        for svc, dsn in dsns.items():
            c = await asyncpg.connect(dsn)
            try:
                assert await c.fetchval("SELECT current_user") == f"fw_{svc}"
                assert await c.fetchval("SHOW search_path") == svc
            finally:
                await c.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(dsns["intake"].replace("pw-intake", "wrong"))

    asyncio.run(check())


def test_schema_isolation(dsns):
    async def check():
        billing = await asyncpg.connect(dsns["billing"])
        intake = await asyncpg.connect(dsns["intake"])
        try:
            await billing.execute("CREATE TABLE billing.invoices (id int PRIMARY KEY, amount int)")
            await billing.execute("INSERT INTO invoices VALUES (1, 4200)")  # via search_path

            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await intake.execute("CREATE TABLE billing.x (id int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await intake.fetch("SELECT * FROM billing.invoices")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await intake.execute("CREATE TABLE public.x (id int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await intake.execute("CREATE TEMP TABLE t (id int)")

            await intake.execute("CREATE TABLE intake.cases (id int)")  # own schema: fine
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await billing.fetch("SELECT * FROM intake.cases")
        finally:
            await billing.close()
            await intake.close()

    asyncio.run(check())


def test_port_taken_by_someone_else_is_refused(workdir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUseError, match=str(port)):
            NatsServer(workdir / "other" / "nats", port).start()
        with pytest.raises(PortInUseError, match=str(port)):
            PostgresServer(workdir / "other" / "pgdata", port).start()
    assert not (workdir / "other" / "pgdata" / "PG_VERSION").exists()


def test_running_servers_are_adopted(env):
    pg = PostgresServer(env.postgres.data_dir, env.postgres.port).start()
    assert pg.adopted and pg.admin_dsn == env.admin_dsn
    with pytest.raises(DevEnvError, match="already running on port"):
        PostgresServer(env.postgres.data_dir, free_port()).start()
    ns = NatsServer(env.nats.store_dir, 1).start()  # ports come from its config
    assert ns.adopted and ns.url == env.nats_url


def test_secrets_file(workdir):
    path = workdir / "s" / "secrets.json"
    first = load_or_create_secrets(path, ["intake", "billing"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first["intake"]) >= 30 and first["intake"] != first["billing"]
    second = load_or_create_secrets(path, ["intake", "billing", "reporting"])
    assert second["intake"] == first["intake"] and "reporting" in second
    assert json.loads(path.read_text()) == second


def test_cli_up_and_down(workdir):
    var = workdir / "cli-var"
    ports = [free_port() for _ in range(3)]
    cmd = [sys.executable, "-m", "fw_devenv", "up", "--var", str(var), "--nats-port", str(ports[0]),
           "--nats-monitor-port", str(ports[1]), "--pg-port", str(ports[2])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "ready" in line:
                break
        assert "ready" in "".join(out), "".join(out)
        assert stat.S_IMODE((var / "secrets.json").stat().st_mode) == 0o600
        assert set(json.loads((var / "secrets.json").read_text())) == {
            "intake", "session", "billing", "retention", "reporting",
            # NATS passwords (fw_devenv.nats_auth), one per NATS user
            *(f"nats_{u}" for u in ("admin", "intake", "session", "billing", "retention",
                                    "reporting", "audit")),
            "db_audit_ro"}  # the auditor's read-only database login (fw_audit_ro)
        status = subprocess.run([sys.executable, "-m", "fw_devenv", "status", "--var", str(var)], check=False)
        assert status.returncode == 0
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, "".join(out) + rest
        assert "stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run([sys.executable, "-m", "fw_devenv", "down", "--var", str(var)], check=False)
    status = subprocess.run([sys.executable, "-m", "fw_devenv", "status", "--var", str(var)], check=False)
    assert status.returncode == 3


def test_restart_keeps_data(env, dsns):
    """Stop both, start again on the same dirs: what was written before is still there. The
    test writes its own data first (xdist may run the other tests of this file elsewhere)."""
    async def write():
        nc = await nats.connect(env.nats_url)
        try:
            js = nc.jetstream()
            await js.add_stream(name="RESTART", subjects=["restart.>"])
            ack = await js.publish("restart.hello", b"persist me")
            assert ack.seq == 1
        finally:
            await nc.close()
        conn = await asyncpg.connect(dsns["billing"])
        try:
            await conn.execute("CREATE TABLE restart_check (id int PRIMARY KEY, amount int)")
            await conn.execute("INSERT INTO restart_check VALUES (1, 4200)")
        finally:
            await conn.close()

    asyncio.run(write())
    env.stop()
    assert not env.nats.is_running() and not env.postgres.is_running()
    env.start()
    assert not env.nats.adopted and not env.postgres.adopted

    async def check():
        nc = await nats.connect(env.nats_url)
        try:
            msg = await nc.jetstream().get_msg("RESTART", 1)
            assert msg.data == b"persist me"
        finally:
            await nc.close()
        conn = await asyncpg.connect(dsns["billing"])
        try:
            assert await conn.fetchval("SELECT amount FROM restart_check WHERE id = 1") == 4200
        finally:
            await conn.close()

    asyncio.run(check())
