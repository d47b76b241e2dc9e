"""PostgreSQL access: one pool per service, bound to the service's own schema, and migrations."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

from fw_platform.handling import TRANSIENT, TransientError

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
async def transaction(pool: asyncpg.Pool, tail: Sequence[str] = ()) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction, committed when the block ends without error
    (with the statements in ``tail`` as they are then, see :func:`commit`).

    Any error while *getting* the connection or opening the transaction is an availability
    problem, whatever its type (asyncpg may raise a plain ``OSError`` for a refused connect to
    several addresses): it is raised as :class:`DatabaseUnavailable`, a transient error.
    Errors from inside the block keep their type, so a handler's own ``OSError`` stays its own.
    A plain ``BEGIN``/``COMMIT`` (so the ``COMMIT`` can carry ``tail``): :func:`savepoint`, not
    ``Connection.transaction()``, inside it.
    """
    async with connection(pool) as conn:
        try:
            await conn.execute("BEGIN")
        except Exception as exc:
            await _rollback(conn)
            raise DatabaseUnavailable(type(exc).__name__) from exc
        try:
            yield conn
        except BaseException:
            await _rollback(conn)
            raise
        await commit(conn, tail)


class TransactionAborted(Exception):
    """``COMMIT`` answered ``ROLLBACK``: a statement of the transaction failed and its error was
    swallowed, so nothing of it was stored. Raised instead of reporting a commit that did not
    happen (the work is then retried, and parked if it keeps failing)."""


@contextlib.asynccontextmanager
async def transaction_opened_by(pool: asyncpg.Pool, first: str,
                                tail: Sequence[str] = ()) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """Like :func:`transaction`, with ``BEGIN`` and the transaction's first statement sent as one
    query (one round trip instead of two); yields the connection and that statement's status
    (``"INSERT 0 1"``).

    ``first`` is sent by PostgreSQL's simple query protocol: one complete statement without
    ``$n`` parameters, whose values the caller has rendered as literals it checked
    (:func:`literal`). The transaction is a plain ``BEGIN``/``COMMIT``: use SQL ``SAVEPOINT``s
    inside it, not ``Connection.transaction()`` (asyncpg refuses that in a transaction it did
    not open). A commit that PostgreSQL answers with ``ROLLBACK`` raises
    :class:`TransactionAborted`. ``tail``: statements sent with the ``COMMIT`` (:func:`commit`).
    """
    async with connection(pool) as conn:
        try:
            status = await conn.execute("BEGIN;" + first)
        except TRANSIENT as exc:
            await _rollback(conn)
            raise DatabaseUnavailable(type(exc).__name__) from exc
        except BaseException:
            await _rollback(conn)
            raise
        try:
            yield conn, status
        except BaseException:
            await _rollback(conn)
            raise
        await commit(conn, tail)


async def begin_with(conn: asyncpg.Connection, statement: str) -> str:
    """Run ``statement`` (no ``$n`` parameters; literals from :func:`literal`); on a connection of
    :func:`deferred_transaction` that has not begun its transaction yet, ``BEGIN`` goes with it
    in the same round trip. Returns the statement's status. For the statement that takes a
    command's lock: everything after it is in the transaction."""
    if conn.is_in_transaction():
        return str(await conn.execute(statement))
    return str(await conn.execute("BEGIN;" + statement))


@contextlib.asynccontextmanager
async def deferred_transaction(pool: asyncpg.Pool, tail: Sequence[str] = ()) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection whose transaction is begun by the block's first :func:`begin_with`
    (its lock), so ``BEGIN`` costs no round trip of its own; committed (checked, as in
    :func:`transaction_opened_by`) when the block ends without error, rolled back otherwise.

    Until that statement each statement commits by itself: only for code that takes its lock
    before anything else, or runs a single statement instead (a refused vault read that only
    writes its access-log row). Plain ``BEGIN``/``COMMIT``: :func:`savepoint`, not
    ``Connection.transaction()``, inside it. Errors while getting the connection are
    :class:`DatabaseUnavailable`. ``tail``: statements sent with the ``COMMIT``
    (:func:`commit`); if no transaction was begun, they run alone (one query, atomic).
    """
    async with connection(pool) as conn:
        try:
            yield conn
        except BaseException:
            await _rollback(conn)
            raise
        if conn.is_in_transaction():
            await commit(conn, tail)
        elif tail:
            await conn.execute(";".join(tail))


@contextlib.asynccontextmanager
async def savepoint(conn: asyncpg.Connection, *, release: bool = True, then: str | None = None) -> AsyncIterator[None]:
    """A ``SAVEPOINT`` in the connection's open transaction: what the block changed is rolled back
    when it raises, and the transaction goes on. Plain SQL, so it works in every transaction of
    this module (asyncpg's nested ``Connection.transaction()`` works only in one asyncpg opened).
    ``release=False``: left to the ``COMMIT`` (which releases every savepoint), one round trip
    less, for a savepoint that nothing after the block rolls back to. ``then``: a statement
    (literals only, :func:`bind`) sent right after the ``SAVEPOINT`` in the same query, e.g. a lock
    the block needs."""
    name = f"sp_{next(_savepoints)}"
    await conn.execute(f"SAVEPOINT {name}" + (f";{then}" if then else ""))
    try:
        yield
    except BaseException:
        if conn.is_in_transaction():
            await conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
        raise
    if release:
        await conn.execute(f"RELEASE SAVEPOINT {name}")


_savepoints = itertools.count()


async def commit(conn: asyncpg.Connection, tail: Sequence[str] = ()) -> None:
    """``COMMIT`` the connection's open transaction, with the statements of ``tail`` before it in
    the same query (one round trip for all): writes whose results nobody reads, rendered with
    :func:`bind`. If one of them fails, the transaction is rolled back and its error raised.
    A commit that PostgreSQL answers with ``ROLLBACK`` raises :class:`TransactionAborted`."""
    try:
        status = await conn.execute("".join(f"{statement};" for statement in tail) + "COMMIT")
    except BaseException:
        await _rollback(conn)
        raise
    if status != "COMMIT":
        raise TransactionAborted("a statement of the transaction failed; nothing was committed")


async def _rollback(conn: asyncpg.Connection) -> None:
    # a connection the pool already took back (PostgreSQL dropped it) refuses even the question
    with contextlib.suppress(Exception):  # a broken connection is discarded by the pool
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")


Literal = str | int | uuid.UUID | datetime | bytes | list[Any] | None


def literal(value: Literal) -> str:
    """``value`` as an SQL literal for :func:`transaction_opened_by` and :func:`bind`: ``None`` as
    ``NULL``, an ``int`` or a UUID as such, an aware datetime as ``timestamptz`` (microseconds,
    as asyncpg sends it), bytes as ``decode('<hex>', 'hex')``, text quoted with ``'`` doubled, a
    list as ``ARRAY[...]`` of these (``'{}'`` when empty: the statement casts it, ``$1::uuid[]``).
    Text with NUL or a backslash is refused, so the literal means the same whatever
    ``standard_conforming_strings`` says."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        raise TypeError("no bool literals")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime in an SQL literal")
        return f"'{value.isoformat()}'::timestamptz"
    if isinstance(value, bytes):
        return f"decode('{value.hex()}', 'hex')"
    if isinstance(value, list):
        return f"ARRAY[{','.join(literal(v) for v in value)}]" if value else "'{}'"
    if "\x00" in value or "\\" in value:
        raise ValueError("NUL or backslash in an SQL literal")
    return "'" + value.replace("'", "''") + "'"


async def write(conn: asyncpg.Connection, at_commit: Callable[[str], None] | None, statement: str,
                *args: Literal) -> None:
    """Run the write ``statement`` now, or, given ``at_commit`` (``UnitOfWork.write_at_commit``),
    send it with the transaction's ``COMMIT`` (:func:`bind`, :func:`commit`): for a repository
    whose caller decides whether its writes are the last of the unit of work."""
    if at_commit is not None:
        at_commit(bind(statement, *args))
    else:
        await conn.execute(statement, *args)


_PARAM = re.compile(r"\$(\d+)")


def bind(statement: str, *args: Literal) -> str:
    """``statement`` with its ``$n`` parameters replaced by :func:`literal` values: a statement
    for :func:`commit`'s ``tail`` (sent by the simple query protocol, which takes no
    parameters). ``statement`` must not contain ``$`` otherwise (no dollar quoting)."""
    return _PARAM.sub(lambda m: literal(args[int(m.group(1)) - 1]), statement)


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
