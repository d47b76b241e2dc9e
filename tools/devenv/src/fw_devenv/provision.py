"""Database provisioning: one database, one login role + one schema per service.

For each service ``svc`` with password ``pw``:
  * login role ``fw_svc`` (created, or password reset) -- no superuser,
    createdb, createrole, replication; ``search_path = svc`` in the database;
  * schema ``svc`` owned by ``fw_svc``;
  * ``CONNECT`` on the database (revoked from PUBLIC, so only service roles
    and superusers can connect to it; TEMP is not granted either);
  * ``ALL`` on schema ``public`` is revoked from PUBLIC.
No role gets any privilege on another service's schema: fw_intake can neither
create in nor read from schema billing. Everything is idempotent.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_LOCK_KEY = 0x66770001  # advisory lock serialising concurrent provisioners

T = TypeVar("T")


#: The read-only login of the audit: CONNECT only; each service grants it SELECT on its own
#: ``audit_*`` views (migration 019) and nothing else.
AUDIT_ROLE = "fw_audit_ro"


def audit_dsn(admin_dsn: str, database: str, password: str) -> str:
    """``postgresql://fw_audit_ro:<pw>@host:port/<database>``: the auditor's read-only DSN."""
    parts = urlsplit(admin_dsn)
    hostport = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme or "postgresql", f"{AUDIT_ROLE}:{quote(password, safe='')}@{hostport}",
                       "/" + database, "", ""))


def role_name(service: str) -> str:
    return f"fw_{service}"


def service_dsn(admin_dsn: str, database: str, service: str, password: str) -> str:
    """``postgresql://fw_<service>:<pw>@host:port/<database>`` on the admin DSN's host/port."""
    parts = urlsplit(admin_dsn)
    hostport = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{role_name(service)}:{quote(password, safe='')}@{hostport}"
    return urlunsplit((parts.scheme or "postgresql", netloc, "/" + database, "", ""))


def database_dsn(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


async def _ddl(conn: asyncpg.Connection, template: str, *args: Any) -> None:
    """Run DDL built server-side with format(): %I identifiers, %L literals
    (DDL cannot take bind parameters, and this gets quoting right)."""
    sql = await conn.fetchval(f"SELECT format($${template}$$, {', '.join(f'${i + 1}::text' for i in range(len(args)))})", *args)
    await conn.execute(sql)


async def provision(admin_dsn: str, database: str, services: Mapping[str, str], *,
                    audit_password: str | None = None) -> dict[str, str]:
    """Create/repair database, roles and schemas; return ``{service: dsn}``.

    With ``audit_password`` also the read-only login :data:`AUDIT_ROLE` (CONNECT only): it must
    exist before the services migrate, so that their ``audit_*`` views are granted to it."""
    if not _NAME.match(database):
        raise ValueError(f"invalid database name {database!r}")
    for svc, pw in services.items():
        if not _NAME.match(svc):
            raise ValueError(f"invalid service name {svc!r} (lowercase letters, digits, _)")
        if not pw:
            raise ValueError(f"empty password for service {svc!r}")

    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f"SELECT pg_advisory_lock({_LOCK_KEY})")
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            try:
                await _ddl(admin, "CREATE DATABASE %I ENCODING 'UTF8' TEMPLATE template0", database)
            except asyncpg.DuplicateDatabaseError:
                pass
        for svc, pw in services.items():
            role = role_name(svc)
            exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            await _ddl(
                admin,
                verb + " ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOREPLICATION NOBYPASSRLS INHERIT PASSWORD %L",
                role,
                pw,
            )
        if audit_password:
            exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", AUDIT_ROLE)
            await _ddl(admin, ("ALTER" if exists else "CREATE") + " ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB "
                       "NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD %L", AUDIT_ROLE, audit_password)
        await _ddl(admin, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database)
        for svc in services:
            await _ddl(admin, "GRANT CONNECT ON DATABASE %I TO %I", database, role_name(svc))
        if audit_password:
            await _ddl(admin, "GRANT CONNECT ON DATABASE %I TO %I", database, AUDIT_ROLE)

        db = await asyncpg.connect(database_dsn(admin_dsn, database))
        try:
            await db.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            for svc in services:
                role = role_name(svc)
                await _ddl(db, "CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I", svc, role)
                await _ddl(db, "ALTER SCHEMA %I OWNER TO %I", svc, role)
                await _ddl(db, "ALTER ROLE %I IN DATABASE %I SET search_path = %I", role, database, svc)
        finally:
            await db.close()
        await admin.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
    finally:
        await admin.close()
    return {svc: service_dsn(admin_dsn, database, svc, pw) for svc, pw in services.items()}


async def provision_from_template(admin_dsn: str, template: str, database: str, services: Mapping[str, str], *,
                                  audit_password: str | None = None) -> dict[str, str]:
    """A new database as a copy of ``template``, a database :func:`provision` made with the same
    ``services`` (and the audit login when ``audit_password``): what the copy cannot inherit is set
    again here (the database's own grants and each role's ``search_path`` in it) and the
    passwords are set again (roles belong to the cluster: another provisioning may have changed
    them). The copy's schemas, their owners and ``public``'s revocation come from the template.
    Several times faster than :func:`provision` (tests make one database each)."""
    for name in (template, database):
        if not _NAME.match(name):
            raise ValueError(f"invalid database name {name!r}")
    for svc in services:
        if not _NAME.match(svc):
            raise ValueError(f"invalid service name {svc!r} (lowercase letters, digits, _)")
    # Every name matched _NAME (lowercase letters, digits, _): quoting it is all it needs.
    logins = {role_name(svc): pw for svc, pw in services.items()}
    if audit_password is not None:
        logins[AUDIT_ROLE] = audit_password
    roles = list(logins)
    # The passwords again too: roles are the cluster's, and whoever provisioned last set them.
    passwords = [f"ALTER ROLE \"{role}\" PASSWORD '{pw.replace(chr(39), chr(39) * 2)}'" for role, pw in logins.items()]
    setup = ";\n".join([*passwords, f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC',
                        *(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"' for role in roles),
                        *(f'ALTER ROLE "{role_name(svc)}" IN DATABASE "{database}" SET search_path = "{svc}"'
                          for svc in services)])
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}" STRATEGY WAL_LOG')
        await admin.execute(setup)  # one round trip (CREATE DATABASE must stand alone)
    finally:
        await admin.close()
    return {svc: service_dsn(admin_dsn, database, svc, pw) for svc, pw in services.items()}


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also when the calling
    thread already runs an event loop (then in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    values: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            values.append(asyncio.run(coro))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    t = threading.Thread(target=target, name="fw_devenv-sync")
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return values[0]


def provision_sync(admin_dsn: str, database: str, services: Mapping[str, str], *,
                   audit_password: str | None = None) -> dict[str, str]:
    """Synchronous wrapper of :func:`provision`."""
    return run_sync(provision(admin_dsn, database, services, audit_password=audit_password))
