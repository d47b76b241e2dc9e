"""``make audit`` / ``python -m fw_devenv.audit [verify options]``: audit the local office.

Finds what an auditor of the dev system needs under ``./var``: the NATS user ``audit`` and its
password, the read-only login ``fw_audit_ro`` of the database ``fernwartung`` (passwords in
``var/secrets.json``, as ``make run`` created them) and the office's checkpoint key
``var/audit-checkpoint.key.pub`` (pinned). Then runs ``fernwartung audit verify`` with them,
passing the secrets through the environment, never on the command line. Extra arguments go to
``verify`` (e.g. ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .devenv import DATABASE
from .nats_auth import secret_key
from .provision import audit_dsn

#: ``var/secrets.json`` key of the read-only audit login (``fw_devenv.cli.AUDIT_DB_SECRET``).
AUDIT_DB_SECRET = "db_audit_ro"
CHECKPOINT_PUBLIC_KEY = "audit-checkpoint.key.pub"


def audit_command(var: Path, nats_port: int, pg_port: int, extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """``(argv, environment)`` of the verify run; :class:`SystemExit` with a hint if ``make run``
    never ran here."""
    secrets_file = var / "secrets.json"
    try:
        stored = json.loads(secrets_file.read_text())
    except (OSError, ValueError):
        raise SystemExit(f"audit: {secrets_file} not found or unreadable: start the office once with `make run`") from None
    missing = [k for k in (secret_key("audit"), AUDIT_DB_SECRET) if not stored.get(k)]
    if missing:
        raise SystemExit(f"audit: {secrets_file} lacks {', '.join(missing)}: start the office with `make run` "
                         "(it creates them)")
    admin_like = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
    env = {**os.environ,
           "NATS_URL": f"nats://127.0.0.1:{nats_port}", "NATS_USER": "audit",
           "NATS_PASSWORD": stored[secret_key("audit")],
           "FW_AUDIT_DATABASE_URL": audit_dsn(admin_like, DATABASE, stored[AUDIT_DB_SECRET])}
    argv = [sys.executable, "-m", "fw_audit", "audit", "verify"]
    public = var / CHECKPOINT_PUBLIC_KEY
    if public.is_file():
        argv += ["--public-key", str(public)]
    return argv + extra, env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fw_devenv.audit", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--var", default="./var")
    ap.add_argument("--nats-port", type=int, default=14222)
    ap.add_argument("--pg-port", type=int, default=15432)
    args, extra = ap.parse_known_args(argv)
    command, env = audit_command(Path(args.var), args.nats_port, args.pg_port, extra)
    print("audit: " + " ".join(command[1:]) + "   (NATS user audit, read-only DSN: fw_audit_ro@fernwartung)",
          file=sys.stderr, flush=True)
    os.execvpe(command[0], command, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
