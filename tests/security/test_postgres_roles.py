"""Each service's PostgreSQL role works in its own schema and nowhere else.

After every service's migrations ran *with its own role* (as the service's Runtime runs them),
every role tries to read, write and create in every other service's schema and in ``public``:
each attempt must fail with ``InsufficientPrivilegeError``, and the same in its own schema works.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import asyncpg
import pytest

from fw_devenv.devenv import SERVICES as DB_SERVICES
from fw_devenv.provision import database_dsn, role_name
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.db import create_pool, migrate

#: Every role provisioned that has migrations to run (reporting may come without a package).
WITH_MIGRATIONS = tuple(s for s in DB_SERVICES if importlib.util.find_spec(f"fw_{s}") is not None)


def migrations_of(service: str) -> Path:
    return importlib.import_module(f"fw_{service}.bootstrap").MIGRATIONS


async def migrate_all(fw_env: FwEnv) -> dict[str, str]:
    """Run each service's migrations with its own role; return ``{schema: one of its tables}``."""
    for svc in WITH_MIGRATIONS:
        pool = await create_pool(fw_env.dsn(svc), svc, min_size=1, max_size=1)
        try:
            assert await migrate(pool, svc, migrations_of(svc))
        finally:
            await pool.close()
    admin = await asyncpg.connect(database_dsn(fw_env.admin_dsn, fw_env.database))
    try:
        # a table in public, owned by the administrator, for the read attempts
        await admin.execute("CREATE TABLE public.probe (x int); INSERT INTO public.probe VALUES (1)")
        tables = {}
        for schema in (*WITH_MIGRATIONS, "public"):
            tables[schema] = await admin.fetchval(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename LIMIT 1", schema)
            assert tables[schema], f"schema {schema} has no table"
        # the table's owner is the service's role: nothing was created by anyone else
        for svc in WITH_MIGRATIONS:
            owners = {r["tableowner"] for r in await admin.fetch(
                "SELECT tableowner FROM pg_tables WHERE schemaname = $1", svc)}
            assert owners == {role_name(svc)}
        return tables
    finally:
        await admin.close()


def attempts(schema: str, table: str) -> dict[str, str]:
    """What a role must not do in a schema that is not its own."""
    return {
        "select": f'SELECT * FROM "{schema}"."{table}" LIMIT 1',
        "insert": f'INSERT INTO "{schema}"."{table}" DEFAULT VALUES',
        "update": f'UPDATE "{schema}"."{table}" SET ctid = ctid WHERE false',
        "delete": f'DELETE FROM "{schema}"."{table}"',
        "truncate": f'TRUNCATE "{schema}"."{table}"',
        "drop": f'DROP TABLE "{schema}"."{table}"',
        "create table": f'CREATE TABLE "{schema}".intruder (x int)',
        "create view": f'CREATE VIEW "{schema}".intruder AS SELECT 1 AS x',
        "create function": f'CREATE FUNCTION "{schema}".intruder() RETURNS int LANGUAGE sql AS $$SELECT 1$$',
    }


@pytest.mark.parametrize("service", WITH_MIGRATIONS)
async def test_a_role_has_no_rights_outside_its_own_schema(service: str, fw_env: FwEnv) -> None:
    tables = await migrate_all(fw_env)
    conn = await asyncpg.connect(fw_env.dsn(service))
    try:
        refused: list[str] = []
        allowed: list[str] = []
        for schema, table in tables.items():
            if schema == service:
                continue
            for what, sql in attempts(schema, table).items():
                try:
                    await conn.execute(sql)
                except asyncpg.InsufficientPrivilegeError:
                    refused.append(f"{what} in {schema}")
                else:
                    allowed.append(f"{what} in {schema}")
        assert allowed == []
        assert len(refused) == len(attempts("x", "y")) * (len(tables) - 1)

        # nor around the schemas: new schemas, temporary tables, another service's role
        other = next(s for s in DB_SERVICES if s != service)
        for sql in ("CREATE SCHEMA intruder", "CREATE TEMP TABLE intruder (x int)",
                    f'SET ROLE "{role_name(other)}"', "CREATE DATABASE intruder"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


@pytest.mark.parametrize("service", WITH_MIGRATIONS)
async def test_a_role_can_work_in_its_own_schema(service: str, fw_env: FwEnv) -> None:
    await migrate_all(fw_env)
    conn = await asyncpg.connect(fw_env.dsn(service))
    try:
        # unqualified names land in the own schema (the role's search_path)
        assert await conn.fetchval("SELECT current_schema()") == service
        await conn.execute("CREATE TABLE own_probe (x int)")
        await conn.execute("INSERT INTO own_probe VALUES (1), (2)")
        await conn.execute("UPDATE own_probe SET x = x + 10")
        await conn.execute("DELETE FROM own_probe WHERE x = 11")
        assert await conn.fetchval(f'SELECT sum(x) FROM "{service}".own_probe') == 12
        await conn.execute("DROP TABLE own_probe")
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") >= 1
    finally:
        await conn.close()

