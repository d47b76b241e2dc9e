"""PostgreSQL access: one pool per service, bound to the service's own schema, and migrations."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import asyncpg

from fw_platform.handling import TransientError

log = logging.getLogger(__name__)


async def _reset_nothing_session_scoped(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back into the pool: nothing beyond asyncpg's own step.

    asyncpg always rolls back a transaction left open (and drops listeners) first. Its default
    reset then runs ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on
    every release: one more round trip, and work for the server, per unit of work. Our code
    keeps only transaction-scoped state on pooled connections (``pg_advisory_xact_lock``,
    ``set_config(..., true)``, ``SET LOCAL``), which the commit or rollback has already ended.
    Session-scoped state (``SET``, ``pg_advisory_lock``, ``LISTEN``, cursors outside a
    transaction) must not be used on a pooled connection.
    """


async def create_pool(dsn: str, schema: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see only ``schema`` (plus pg_catalog) by default."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        reset=_reset_nothing_session_scoped,
        server_settings={"search_path": schema, "application_name": f"fw-{schema}",
                         "timezone": "UTC"},
        command_timeout=30,
    )
    assert pool is not None
    return pool


class DatabaseUnavailable(TransientError):
    """No connection could be had from the pool (PostgreSQL away, restarting, pool closing)."""


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction, committed when the block ends without error.

    Any error while *getting* the connection or opening the transaction is an availability
    problem, whatever its type (asyncpg may raise a plain ``OSError`` for a refused connect to
    several addresses): it is raised as :class:`DatabaseUnavailable`, a transient error.
    Errors from inside the block keep their type, so a handler's own ``OSError`` stays its own.
    """
    async with connection(pool) as conn:
        try:
            tx = conn.transaction()
            await tx.start()
        except Exception as exc:
            raise DatabaseUnavailable(type(exc).__name__) from exc
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(Exception):
                await tx.rollback()
            raise
        await tx.commit()


@contextlib.asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection without a transaction (each statement commits by itself).

    Errors while getting it are :class:`DatabaseUnavailable`, as in :func:`transaction`.
    """
    try:
        conn_cm = pool.acquire()
        conn = await conn_cm.__aenter__()
    except Exception as exc:
        raise DatabaseUnavailable(type(exc).__name__) from exc
    try:
        yield conn
    finally:
        await conn_cm.__aexit__(None, None, None)


def _platform_sql() -> list[tuple[str, str]]:
    pkg = resources.files("fw_platform") / "sql"
    return sorted((f"platform/{p.name}", p.read_text(encoding="utf-8")) for p in pkg.iterdir()
                  if p.name.endswith(".sql"))


def _service_sql(migrations_dir: Path) -> list[tuple[str, str]]:
    return sorted((p.name, p.read_text(encoding="utf-8")) for p in migrations_dir.glob("*.sql"))


async def migrate(pool: asyncpg.Pool, schema: str, migrations_dir: Path) -> list[str]:
    """Apply the platform's and the service's SQL files once each, in order, under a lock.

    A changed file that was already applied is refused: migrations are append-only.
    """
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        # Several instances may start at once; the lock serialises their migrations.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"]: r["sha256"] for r in await conn.fetch("SELECT name, sha256 FROM schema_migrations")}
        for name, sql in _platform_sql() + _service_sql(migrations_dir):
            digest = hashlib.sha256(sql.encode()).hexdigest()
            if name in done:
                if done[name] != digest:
                    raise RuntimeError(f"migration {name} was changed after it was applied")
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations(name, sha256) VALUES ($1, $2)", name, digest)
            applied.append(name)
    if applied:
        log.info("migrations applied", extra={"schema": schema, "migrations": applied})
    return applied
