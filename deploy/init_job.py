"""The admin init job (compose service ``init``): database roles + schemas, then the stream.

Runs once before the services (they wait for it to complete) and on every ``up`` again; every
step is idempotent. It reuses ``fw_devenv.provision.provision`` (one login role ``fw_<svc>`` and
one schema per service, nothing else granted) and ``fw_platform.bus.ensure_stream`` (the only
place the stream ``FERNWARTUNG`` is created or changed; services have no right to).

Environment (see deploy/.env.example):

* ``FW_INIT_DATABASE_ADMIN_URL`` -- the PostgreSQL superuser's DSN (any database, e.g. ``postgres``)
* ``FW_<SVC>_DATABASE_URL`` -- each service's DSN; role password and database name come from it,
  so the role is created with exactly the password the service connects with
* ``FW_INIT_NATS_URL``, ``FW_INIT_NATS_USER`` (admin), ``FW_INIT_NATS_PASSWORD``
* ``FW_INIT_STREAM_REPLICAS`` -- 1 (single node) or 3 (deploy/cluster)
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

#: Services with a database schema and role (web has neither).
DB_SERVICES: tuple[str, ...] = ("intake", "session", "billing", "retention", "reporting")
#: Every variable this job reads (tests/deploy checks compose against it).
INIT_ENV: tuple[str, ...] = ("FW_INIT_DATABASE_ADMIN_URL", "FW_INIT_NATS_URL", "FW_INIT_NATS_USER",
                             "FW_INIT_NATS_PASSWORD", "FW_INIT_STREAM_REPLICAS", "FW_INIT_AUDIT_DB_PASSWORD")
#: Give the servers this long to come up (compose also waits for their health checks).
WAIT_S = 120.0

log = logging.getLogger("fw_init")


def service_passwords(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """``(database, {service: password})`` from the services' own DSNs (one database for all)."""
    databases: set[str] = set()
    passwords: dict[str, str] = {}
    for svc in DB_SERVICES:
        url = env.get(f"FW_{svc.upper()}_DATABASE_URL")
        if not url:
            raise SystemExit(f"FW_{svc.upper()}_DATABASE_URL is not set")
        parts = urlsplit(url)
        if parts.username != f"fw_{svc}" or not parts.password:
            raise SystemExit(f"FW_{svc.upper()}_DATABASE_URL must be postgresql://fw_{svc}:<password>@host/db")
        passwords[svc] = unquote(parts.password)
        databases.add(parts.path.lstrip("/"))
    if len(databases) != 1:
        raise SystemExit("all services must use the same database (one schema each)")
    return databases.pop(), passwords


async def _retry(what: str, step):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return await step()
        except (TimeoutError, OSError, ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("%s not reachable yet (%s), retrying", what, type(exc).__name__)
            await asyncio.sleep(2)


async def run(env: Mapping[str, str]) -> None:
    """Provision PostgreSQL, then create/update the stream."""
    from fw_devenv.provision import provision
    from fw_platform.bus import connect, ensure_stream

    database, passwords = service_passwords(env)
    admin_dsn = env["FW_INIT_DATABASE_ADMIN_URL"]
    # the auditor's read-only login (fw_audit_ro), before the services migrate their audit_* views
    audit_password = env.get("FW_INIT_AUDIT_DB_PASSWORD") or None
    await _retry("postgresql", lambda: provision(admin_dsn, database, passwords, audit_password=audit_password))
    log.info("database %s: roles and schemas for %s", database, ", ".join(passwords))

    replicas = int(env.get("FW_INIT_STREAM_REPLICAS", "1"))
    nc = await connect(env["FW_INIT_NATS_URL"], name="fw-init", user=env.get("FW_INIT_NATS_USER"),
                       password=env.get("FW_INIT_NATS_PASSWORD"))
    try:
        # a fresh cluster needs a moment to elect its meta leader before streams can be created
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                await ensure_stream(nc.jetstream(timeout=10), replicas=replicas)
                break
            except Exception as exc:  # retried until the deadline, then raised
                if time.monotonic() > deadline:
                    raise
                log.warning("stream not created yet (%s), retrying", type(exc).__name__)
                await asyncio.sleep(2)
    finally:
        await nc.close()
    log.info("stream ready with %d replica(s)", replicas)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fw_init %(levelname)s %(message)s")
    asyncio.run(run(os.environ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
