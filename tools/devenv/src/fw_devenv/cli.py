"""``python -m fw_devenv up|down|status`` -- NATS + PostgreSQL for local development."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Self

from ._util import DevEnvError
from .devenv import DATABASE, SERVICES, DevEnv
from .nats import NatsServer
from .nats_auth import SERVICE_USERS as NATS_SERVICE_USERS
from .nats_auth import USERS as NATS_USERS
from .nats_auth import secret_key
from .postgres import PostgresServer
from .provision import audit_dsn, run_sync
from .secrets_file import load_or_create_secrets


def write_env_file(path: Path, values: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for k, v in values.items():
            f.write(f"{k}={v}\n")
    os.chmod(path, 0o600)


def ensure_event_stream(nats_url: str) -> None:
    """Create/update the FERNWARTUNG stream (admin step; services never create streams)."""
    from fw_platform.bus import connect, ensure_stream

    async def _go() -> None:
        nc = await connect(nats_url, name="fw-devenv-admin")
        try:
            await ensure_stream(nc.jetstream())
        finally:
            await nc.close()

    run_sync(_go())


def vault_master_key(var: Path, name: str = "vault-master.key") -> str:
    """A master key for local runs: 32 random bytes, base64, kept in var/ (0600)."""
    import base64
    import os as _os

    path = var / name
    if not path.exists():
        fd = _os.open(path, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o600)
        with _os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(_os.urandom(32)).decode() + "\n")
    return path.read_text().strip()


from .audit import AUDIT_DB_SECRET  # noqa: E402 - ``var/secrets.json`` key of the read-only audit login


def audit_readonly_dsn(env: DevEnv, database: str = DATABASE) -> str:
    """The read-only DSN of the audit (role fw_audit_ro) to the dev database."""
    password = load_or_create_secrets(env.var_dir / "secrets.json", [AUDIT_DB_SECRET])[AUDIT_DB_SECRET]
    return audit_dsn(env.admin_dsn, database, password)


def load_nats_passwords(var: Path) -> dict[str, str]:
    """``{user: password}`` for every NATS user, kept in ``var/secrets.json`` as ``nats_<user>``."""
    stored = load_or_create_secrets(var / "secrets.json", [secret_key(u) for u in NATS_USERS])
    return {u: stored[secret_key(u)] for u in NATS_USERS}


def nats_credentials_env(passwords: dict[str, str]) -> dict[str, str]:
    """``FW_<SVC>_NATS_USER`` / ``FW_<SVC>_NATS_PASSWORD`` for every service's own NATS user."""
    env: dict[str, str] = {}
    for svc in NATS_SERVICE_USERS:
        env[f"FW_{svc.upper()}_NATS_USER"] = svc
        env[f"FW_{svc.upper()}_NATS_PASSWORD"] = passwords[svc]
    return env


def start_and_provision(
    var: Path,
    nats_port: int,
    pg_port: int,
    nats_monitor_port: int | None = None,
    services: tuple[str, ...] = SERVICES,
    database: str = DATABASE,
) -> tuple[DevEnv, dict[str, str]]:
    """Start (or adopt) both servers under *var*, provision *database* with
    passwords from ``var/secrets.json``; also writes ``var/devenv.env``.

    NATS runs with one user per service (:mod:`fw_contracts.nats_permissions`); the passwords are in
    ``env.nats.passwords`` and, for the services, in ``var/devenv.env``."""
    env = DevEnv(var, nats_port, pg_port, nats_monitor_port=nats_monitor_port)
    env.nats.enable_auth(load_nats_passwords(env.var_dir))
    t0 = time.monotonic()
    env.start()
    try:
        passwords = load_or_create_secrets(env.var_dir / "secrets.json", services)
        audit_password = load_or_create_secrets(env.var_dir / "secrets.json", [AUDIT_DB_SECRET])[AUDIT_DB_SECRET]
        dsns = env.provision(passwords, database=database, audit_password=audit_password)
        ensure_event_stream(env.nats.admin_url)
    except BaseException:
        env.stop(include_adopted=False)
        raise
    values = {
        "NATS_URL": env.nats_url,
        "NATS_MONITOR_URL": env.nats.monitor_url,
        "DATABASE_ADMIN_URL": env.admin_dsn,
        **{f"FW_{svc.upper()}_DATABASE_URL": dsn for svc, dsn in dsns.items()},
        **nats_credentials_env(env.nats.passwords or {}),
        "FW_AUDIT_DATABASE_URL": audit_dsn(env.admin_dsn, database, audit_password),
    }
    write_env_file(env.var_dir / "devenv.env", values)
    print(f"fw_devenv: started in {time.monotonic() - t0:.1f}s (var: {env.var_dir})", flush=True)
    return env, dsns


def print_urls(env: DevEnv, dsns: dict[str, str]) -> None:
    def state(server: NatsServer | PostgresServer) -> str:
        return " (already running, adopted)" if server.adopted else ""

    print(f"  NATS        {env.nats_url}{state(env.nats)}")
    print(f"  NATS mon    {env.nats.monitor_url}")
    print(f"  PG admin    {env.admin_dsn}{state(env.postgres)}")
    for svc, dsn in dsns.items():
        print(f"  {svc:<11} {dsn}")
    print(f"  env file    {env.var_dir / 'devenv.env'}  (secrets: {env.var_dir / 'secrets.json'})")
    print(f"  logs        {env.var_dir / 'log'}", flush=True)


class StopSignal:
    """Turns SIGINT/SIGTERM into an event (first one), restores defaults after."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._old: dict[int, Callable[[int, FrameType | None], Any] | int | signal.Handlers | None] = {}

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        self.event.set()

    def __enter__(self) -> Self:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def cmd_up(args: argparse.Namespace) -> int:
    with StopSignal() as stop:
        env, dsns = start_and_provision(Path(args.var), args.nats_port, args.pg_port, args.nats_monitor_port)
        try:
            print_urls(env, dsns)
            print("fw_devenv: ready -- Ctrl-C (SIGINT/SIGTERM) stops both", flush=True)
            while not stop.event.wait(1.0):
                if not env.nats.is_running():
                    print("fw_devenv: nats-server exited unexpectedly, see var/log/nats.log", file=sys.stderr)
                    return 1
                if not env.postgres.is_running():
                    print("fw_devenv: postgres exited unexpectedly, see var/log/postgres.log", file=sys.stderr)
                    return 1
            print("fw_devenv: stopping ...", flush=True)
        finally:
            env.stop(include_adopted=False)
        for server, name in ((env.nats, "nats-server"), (env.postgres, "postgres")):
            if server.adopted:
                print(f"fw_devenv: {name} was already running before 'up' and is left running "
                      f"(use: python -m fw_devenv down --var {args.var})")
        print("fw_devenv: stopped", flush=True)
    return 0


def _servers(var: Path) -> tuple[NatsServer, PostgresServer]:
    var = var.resolve()
    return NatsServer(var / "nats", 0, monitor_port=1), PostgresServer(var / "pgdata", 0)


def cmd_down(args: argparse.Namespace) -> int:
    nats, pg = _servers(Path(args.var))
    was = (pg.is_running(), nats.is_running())
    pg.stop()
    nats.stop()
    print(f"fw_devenv: postgres {'stopped' if was[0] else 'was not running'}, "
          f"nats-server {'stopped' if was[1] else 'was not running'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    nats, pg = _servers(Path(args.var))
    n, p = nats.is_running(), pg.is_running()
    print(f"nats-server: {'running pid ' + str(nats.pid) if n else 'stopped'}")
    print(f"postgres:    {'running port ' + str(pg._running_port()) if p else 'stopped'}")
    return 0 if (n and p) else 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fw_devenv", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start NATS + PostgreSQL, provision, stay in foreground")
    up.add_argument("--var", default="./var", help="state dir (default ./var)")
    up.add_argument("--nats-port", type=int, default=14222)
    up.add_argument("--nats-monitor-port", type=int, default=18222)
    up.add_argument("--pg-port", type=int, default=15432)
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop servers running from --var (e.g. left by a crashed 'up')")
    down.add_argument("--var", default="./var")
    down.set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="exit 0 if both servers of --var are running")
    st.add_argument("--var", default="./var")
    st.set_defaults(func=cmd_status)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
        return rc
    except DevEnvError as exc:
        print(f"fw_devenv: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
