"""``make run`` / ``python -m fw_devenv.run``: the whole back office locally.

Unless both ``NATS_URL`` and ``DATABASE_URL`` are set, starts NATS + PostgreSQL
under ``./var`` (ports as ``fw_devenv up``, adopting servers already running
there), provisions database ``fernwartung``, then starts every service in
``SERVICES`` as a subprocess with its env. Output is prefixed ``[name]``.
Ctrl-C / SIGTERM is forwarded (SIGINT) to the services; after they exit the
servers are stopped. Nothing is restarted automatically: a service that dies
is reported; when no service is left, run stops everything.

With external infrastructure (``NATS_URL`` + ``DATABASE_URL`` set) each
service gets ``FW_<NAME>_DATABASE_URL`` from the environment if set there,
else ``DATABASE_URL``; nothing is provisioned.

NATS credentials: each service connects as its own NATS user (``fw_contracts.nats_permissions``). Locally
``FW_<NAME>_NATS_USER``/``_PASSWORD`` come from ``var/secrets.json``; with external
infrastructure they are passed through from the environment when set there.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from .cli import StopSignal, audit_readonly_dsn, nats_credentials_env, start_and_provision, vault_master_key
from .devenv import DevEnv


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str  # started as: python -m <module>
    port: int  # HTTP port
    env: dict[str, str] = field(default_factory=dict)  # extra env

    @property
    def prefix(self) -> str:
        return f"FW_{self.name.upper()}_"

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    def environment(self, nats_url: str, database_url: str) -> dict[str, str]:
        return {
            f"{self.prefix}HTTP_PORT": str(self.port),
            f"{self.prefix}DATABASE_URL": database_url,
            f"{self.prefix}NATS_URL": nats_url,
            **self.env,
        }


# Retention first: it serves the vault that intake, session and billing call.
SERVICES: list[ServiceSpec] = [
    ServiceSpec("retention", "fw_retention", 8084),
    ServiceSpec("intake", "fw_intake", 8081),
    ServiceSpec("session", "fw_session", 8082),
    ServiceSpec("billing", "fw_billing", 8083),
    ServiceSpec("web", "fw_web", 8080, {"FW_WEB_DEV_BOOTSTRAP": "1"}),
    ServiceSpec("reporting", "fw_reporting", 8085),
    # Not a service: the scheduled job that seals the stream with signed AuditCheckpoints
    # (fw_platform.checkpointer), as the NATS user ``audit``; no HTTP port.
    ServiceSpec("checkpoint", "fw_platform.checkpointer", 0),
]

#: The office's checkpoint key in dev, created on the first ``make run`` (public key: ``.pub``).
CHECKPOINT_KEY = "audit-checkpoint.key"


def checkpoint_env(var: Path, nats_url: str, audit_password: str | None) -> dict[str, str]:
    """The checkpoint job's settings for the local office (key under ``var/``, generated once)."""
    env = {"FW_CHECKPOINT_NATS_URL": nats_url,
           "FW_CHECKPOINT_KEY_FILE": str((var / CHECKPOINT_KEY).resolve()),
           "FW_CHECKPOINT_GENERATE_KEY": "1",
           "FW_CHECKPOINT_EVERY": os.environ.get("FW_CHECKPOINT_EVERY", "100"),
           "FW_CHECKPOINT_INTERVAL_MINUTES": os.environ.get("FW_CHECKPOINT_INTERVAL_MINUTES", "5")}
    if audit_password:
        env |= {"FW_CHECKPOINT_NATS_USER": "audit", "FW_CHECKPOINT_NATS_PASSWORD": audit_password}
    return env


def audit_hint(var: Path, readonly_dsn: str) -> list[str]:
    """What ``make run`` prints for an auditor: the one command, and the read-only DSN."""
    return [("run: audit the running office: make audit   (fernwartung audit verify as NATS user audit, "
             f"the read-only DSN below, {var / CHECKPOINT_KEY}.pub pinned)"),
            f"run: read-only DSN of the database fernwartung (the services' audit_* views): {readonly_dsn}"]

def configure_api_keys(token: str) -> None:
    """Every service accepts ``token`` (its sha256 only) and web sends it."""
    from fw_platform.auth import token_hash

    for spec in SERVICES:
        if spec.name != "web":
            os.environ.setdefault(f"{spec.prefix}API_KEYS", f"local:{token_hash(token)}")
    os.environ.setdefault("FW_WEB_API_TOKEN", token)


def configure_web_secret(var: Path) -> None:
    """A cookie-signing key kept in var/, so a restart of make run keeps people signed in."""
    os.environ.setdefault("FW_WEB_SECRET_KEY", vault_master_key(var, "web-secret.key"))


STOP_GRACE = 15.0  # seconds a service gets after SIGINT before SIGTERM, then SIGKILL


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _pump(name: str, stream: IO[bytes], out: TextIO) -> None:
    for line in iter(stream.readline, b""):
        out.write(f"[{name}] {line.decode(errors='replace')}")
        out.flush()
    stream.close()


class Running:
    def __init__(self, spec: ServiceSpec, env: dict[str, str]) -> None:
        self.spec = spec
        self.proc = subprocess.Popen(
            spec.command(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # we forward signals ourselves, exactly once
        )
        self.pump = threading.Thread(target=_pump, args=(spec.name, self.proc.stdout, sys.stdout), daemon=True)
        self.pump.start()
        self.reported = False


def stop_services(running: list[Running]) -> None:
    alive = [r for r in running if r.proc.poll() is None]
    for r in alive:
        r.proc.send_signal(signal.SIGINT)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and any(r.proc.poll() is None for r in alive):
            time.sleep(0.1)
        for r in alive:
            if r.proc.poll() is None:
                print(f"run: {r.spec.name} did not stop, sending {sig.name}", flush=True)
                r.proc.send_signal(sig)
    for r in running:
        r.proc.wait()
        r.pump.join(2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fw_devenv.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--var", default="./var")
    ap.add_argument("--nats-port", type=int, default=14222)
    ap.add_argument("--nats-monitor-port", type=int, default=18222)
    ap.add_argument("--pg-port", type=int, default=15432)
    args = ap.parse_args(argv)

    with StopSignal() as stop:
        devenv: DevEnv | None = None
        nats_env: dict[str, str] = {}  # FW_<NAME>_NATS_USER/_PASSWORD of the local server
        external = bool(os.environ.get("NATS_URL") and os.environ.get("DATABASE_URL"))
        if external:
            nats_url = os.environ["NATS_URL"]
            dsns = {
                s.name: os.environ.get(f"{s.prefix}DATABASE_URL", os.environ["DATABASE_URL"])
                for s in SERVICES
            }
            print(f"run: using external NATS {nats_url} and DATABASE_URL (nothing started)", flush=True)
        else:
            devenv, dsns = start_and_provision(
                Path(args.var), args.nats_port, args.pg_port, args.nats_monitor_port
            )
            nats_url = devenv.nats_url
            nats_env = nats_credentials_env(devenv.nats.passwords or {})
            os.environ.setdefault("FW_RETENTION_MASTER_KEY", vault_master_key(devenv.var_dir))
            os.environ.setdefault("FW_BILLING_ARCHIVE_KEY",
                                  vault_master_key(devenv.var_dir, "billing-archive.key"))
            print(f"run: NATS {nats_url}   PostgreSQL {devenv.admin_dsn}", flush=True)
            api_token = vault_master_key(devenv.var_dir, "api-token")
            configure_api_keys(api_token)
            configure_web_secret(devenv.var_dir)
            print(f"run: API token for curl (also given to web): export FW_TOKEN='{api_token}'",
                  flush=True)
            os.environ.update({k: v for k, v in checkpoint_env(
                devenv.var_dir, nats_url, (devenv.nats.passwords or {}).get("audit")).items()
                if k not in os.environ})
            for line in audit_hint(devenv.var_dir, audit_readonly_dsn(devenv)):
                print(line, flush=True)

        running: list[Running] = []
        try:
            for spec in SERVICES:
                if stop.event.is_set():
                    break
                if not installed(spec.module):
                    print(f"run: SKIP {spec.name}: module {spec.module!r} is not installed in "
                          f"{sys.prefix} (add its dir to PACKAGES / run 'make venv')", flush=True)
                    continue
                env = {**os.environ, **spec.environment(nats_url, dsns.get(spec.name, "")),
                       **{k: v for k, v in nats_env.items() if k.startswith(spec.prefix)}}
                running.append(Running(spec, env))
                print(f"run: started {spec.name:<10} pid {running[-1].proc.pid:<7} "
                      + (f"http://127.0.0.1:{spec.port}" if spec.port else "(scheduled job)"), flush=True)
            if running:
                print("run: API docs (OpenAPI): " + "  ".join(
                    f"http://127.0.0.1:{r.spec.port}/docs" for r in running if r.spec.name != "web" and r.spec.port),
                    flush=True)
                print("run: Ctrl-C stops everything", flush=True)
            else:
                print("run: no service could be started; infrastructure stays up until Ctrl-C", flush=True)

            rc = 0
            while not stop.event.wait(0.5):
                for r in running:
                    code = r.proc.poll()
                    if code is not None and not r.reported:
                        r.reported = True
                        rc = rc or (code if code > 0 else 1)
                        print(f"run: {r.spec.name} exited with code {code} (not restarted)", flush=True)
                if running and all(r.reported for r in running):
                    print("run: no service left running, shutting down", flush=True)
                    break
            if stop.event.is_set():
                print("run: stopping services ...", flush=True)
        finally:
            stop_services(running)
            if devenv is not None:
                devenv.stop(include_adopted=False)
                print("run: infrastructure stopped", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
