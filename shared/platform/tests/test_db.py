"""The database helpers on real PostgreSQL: a transaction whose BEGIN travels with its first
statement (one round trip), its commit and rollback, SQL savepoints, literals; and the consumer's
idempotency record going with the BEGIN (one round trip for a chunk of new events, the long way
for a chunk with a duplicate)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from fw_contracts.events import SessionEnded, SessionStarted
from fw_devenv.testing import eventually
from fw_platform import db
from fw_platform.applying import Applier
from fw_platform.failures import Outcome
from fw_platform.handling import UnitOfWork, batched, utc_now
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings

# ---------------------------------------------------------------------------- pure


@pytest.mark.parametrize(("value", "sql"), [
    (None, "NULL"),
    (0, "0"),
    (-17, "-17"),
    (uuid.UUID("12345678-1234-5678-1234-567812345678"), "'12345678-1234-5678-1234-567812345678'"),
    ("billing--session_ended", "'billing--session_ended'"),
    ("O'Brien", "'O''Brien'"),
    ("", "''"),
])
def test_literal(value: Any, sql: str) -> None:
    assert db.literal(value) == sql


@pytest.mark.parametrize("value", ["a\x00b", "a\\b"])
def test_literal_refuses_nul_and_backslash(value: str) -> None:
    with pytest.raises(ValueError, match="NUL or backslash"):
        db.literal(value)


def test_literal_refuses_bool() -> None:
    with pytest.raises(TypeError):
        db.literal(True)


def test_literal_of_times_and_bytes() -> None:
    at = datetime(2026, 12, 3, 14, 5, 6, 789, tzinfo=UTC)
    assert db.literal(at) == "'2026-12-03T14:05:06.000789+00:00'::timestamptz"
    assert db.literal(b"\x00'\\") == "decode('00275c', 'hex')"
    with pytest.raises(ValueError, match="naive"):
        db.literal(datetime(2026, 12, 3))  # noqa: DTZ001 - the point of the test


def test_literal_of_lists() -> None:
    rid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert db.literal([rid, None]) == "ARRAY['12345678-1234-5678-1234-567812345678',NULL]"
    assert db.literal(["a'b", "c"]) == "ARRAY['a''b','c']"
    assert db.literal([]) == "'{}'"


def test_bind_replaces_each_parameter_by_its_literal() -> None:
    rid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert db.bind("UPDATE t SET n = $2 WHERE k = $1 OR k = $3 AND n <> $2", "O'x", 10, rid) == (
        "UPDATE t SET n = 10 WHERE k = 'O''x' OR k = '12345678-1234-5678-1234-567812345678' AND n <> 10")


# ---------------------------------------------------------------------------- real PostgreSQL


class _Logged:
    """A pool of one connection whose statements are recorded (asyncpg's own type
    introspection left out)."""

    def __init__(self, pool: asyncpg.Pool, queries: list[str]) -> None:
        self.pool = pool
        self.queries = queries

    async def statements(self) -> list[str]:
        for _ in range(3):  # asyncpg calls its query loggers soon after, not during
            await asyncio.sleep(0)
        taken = list(self.queries)
        self.queries.clear()
        return taken


@pytest.fixture
async def logged(fw_env: Any, tmp_path: Path) -> AsyncIterator[_Logged]:
    pool = await db.create_pool(fw_env.dsn("intake"), "intake", min_size=1, max_size=1)
    try:
        migrations = tmp_path / "migrations"
        migrations.mkdir()
        (migrations / "001_t.sql").write_text("CREATE TABLE t (k text PRIMARY KEY, n integer NOT NULL);\n"
                                              "CREATE TABLE seen (session_id uuid PRIMARY KEY);\n")
        await db.migrate(pool, "intake", migrations)
        queries: list[str] = []
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda q: None if "pg_catalog" in q.query or "jit" in q.query
                                  else queries.append(q.query))
        yield _Logged(pool, queries)
    finally:
        await pool.close()


async def _rows(pool: asyncpg.Pool) -> list[tuple[str, int]]:
    async with pool.acquire() as conn:
        return [(r["k"], r["n"]) for r in await conn.fetch("SELECT k, n FROM t ORDER BY k")]


async def test_begin_and_the_first_statement_are_one_round_trip(logged: _Logged) -> None:
    first = f"INSERT INTO t VALUES ({db.literal('a')}, 1)"
    async with db.transaction_opened_by(logged.pool, first) as (conn, status):
        assert status == "INSERT 0 1"
        assert conn.is_in_transaction()
        await conn.execute("INSERT INTO t VALUES ($1, $2)", "b", 2)
    assert await logged.statements() == ["BEGIN;" + first, "INSERT INTO t VALUES ($1, $2)", "COMMIT"]
    assert await _rows(logged.pool) == [("a", 1), ("b", 2)]


async def test_a_literal_with_a_quote_is_stored_as_given(logged: _Logged) -> None:
    async with db.transaction_opened_by(logged.pool, f"INSERT INTO t VALUES ({db.literal(chr(39) + 'x')}, 1)"):
        pass
    assert await _rows(logged.pool) == [("'x", 1)]


async def test_an_error_in_the_block_rolls_everything_back(logged: _Logged) -> None:
    async def failing() -> None:
        async with db.transaction_opened_by(logged.pool, "INSERT INTO t VALUES ('a', 1)") as (conn, _):
            await conn.execute("INSERT INTO t VALUES ('b', 2)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing()
    assert (await logged.statements())[-1] == "ROLLBACK"
    assert await _rows(logged.pool) == []
    async with logged.pool.acquire() as conn:
        assert not conn.is_in_transaction()


async def test_a_failing_first_statement_keeps_its_error_type_and_leaves_nothing_open(logged: _Logged) -> None:
    with pytest.raises(asyncpg.UndefinedTableError):
        async with db.transaction_opened_by(logged.pool, "INSERT INTO missing VALUES (1)"):
            raise AssertionError("the block must not run")
    async with logged.pool.acquire() as conn:
        assert not conn.is_in_transaction()
    # the pool's connection is usable as before
    async with db.transaction_opened_by(logged.pool, "INSERT INTO t VALUES ('a', 1)"):
        pass
    assert await _rows(logged.pool) == [("a", 1)]


async def test_a_swallowed_statement_error_fails_the_commit_instead_of_passing_for_one(logged: _Logged) -> None:
    async def swallowing() -> None:
        async with db.transaction_opened_by(logged.pool, "INSERT INTO t VALUES ('a', 1)") as (conn, _):
            with contextlib.suppress(asyncpg.UniqueViolationError):
                await conn.execute("INSERT INTO t VALUES ('a', 2)")
            # PostgreSQL answers the COMMIT of an aborted transaction with ROLLBACK, no error

    with pytest.raises(db.TransactionAborted):
        await swallowing()
    assert await _rows(logged.pool) == []


async def test_the_tail_goes_with_the_commit_in_one_round_trip(logged: _Logged) -> None:
    at = datetime(2026, 12, 3, 14, 5, 6, 789, tzinfo=UTC)
    tail: list[str] = []
    async with db.transaction_opened_by(logged.pool, "INSERT INTO t VALUES ('a', 1)", tail) as (conn, _):
        tail.append(db.bind("INSERT INTO t VALUES ($1, $2)", "b", 2))
        # a value the database reads back exactly as asyncpg would have sent it
        tail.append(db.bind("INSERT INTO t SELECT $1, extract(microseconds FROM $2) + length($3)", "c", at,
                            b"\x00\xff"))
        assert await conn.fetchval("SELECT count(*) FROM t") == 1  # not sent yet
    statements = await logged.statements()
    assert len(statements) == 3 and statements[-1].endswith(";COMMIT"), statements
    assert await _rows(logged.pool) == [("a", 1), ("b", 2), ("c", 6_000_789 + 2)]


async def test_the_outbox_statement_keeps_the_events_order_and_skips_a_copy(logged: _Logged) -> None:
    from fw_platform import outbox

    events = [_started() for _ in range(4)]
    async with db.transaction(logged.pool, [outbox.append_statement(events),
                                            outbox.append_statement(events[1:2])]):
        pass
    async with logged.pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, subject, event_type, payload FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [e.event_id for e in events]
    assert [(r["subject"], r["event_type"], bytes(r["payload"])) for r in rows] == [
        (e.subject(), e.event_type, e.to_json()) for e in events]


async def test_a_failing_tail_statement_rolls_back_the_whole_transaction(logged: _Logged) -> None:
    async def two_rows_then(opened: Any) -> None:
        async with opened as got:
            conn = got if isinstance(got, asyncpg.pool.PoolConnectionProxy) else got[0]
            await conn.execute("INSERT INTO t VALUES ('a', 1)")
            await conn.execute("INSERT INTO t VALUES ('b', 2)")

    for opened in (db.transaction(logged.pool, ["INSERT INTO t VALUES ('a', 3)"]),
                   db.transaction_opened_by(logged.pool, "SELECT 1", ["INSERT INTO t VALUES ('a', 3)"])):
        with pytest.raises(asyncpg.UniqueViolationError):
            await two_rows_then(opened)
        assert await _rows(logged.pool) == []
        async with logged.pool.acquire() as conn:
            assert not conn.is_in_transaction()


async def test_a_deferred_transaction_sends_its_tail_with_the_commit_or_alone(logged: _Logged) -> None:
    async with db.deferred_transaction(logged.pool, ["INSERT INTO t VALUES ('b', 2)"]) as conn:
        await db.begin_with(conn, "SELECT pg_advisory_xact_lock(7, 1)")
        await conn.execute("INSERT INTO t VALUES ('a', 1)")
    assert (await logged.statements())[-1] == "INSERT INTO t VALUES ('b', 2);COMMIT"
    async with db.deferred_transaction(logged.pool, ["INSERT INTO t VALUES ('c', 3)",
                                                     "INSERT INTO t VALUES ('d', 4)"]):
        pass  # nothing begun: the tail alone, one query (atomic)
    assert await logged.statements() == ["INSERT INTO t VALUES ('c', 3);INSERT INTO t VALUES ('d', 4)"]
    assert await _rows(logged.pool) == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]


@pytest.mark.parametrize("opened_by_us", [True, False])
async def test_a_savepoint_rolls_back_its_block_and_the_transaction_goes_on(logged: _Logged,
                                                                          opened_by_us: bool) -> None:
    async def conflicting(conn: asyncpg.Connection) -> None:
        async with db.savepoint(conn):
            await conn.execute("INSERT INTO t VALUES ('b', 2)")
            await conn.execute("INSERT INTO t VALUES ('a', 3)")  # fails: the block rolls back

    async def work(conn: asyncpg.Connection) -> None:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conflicting(conn)
        async with db.savepoint(conn):
            await conn.execute("INSERT INTO t VALUES ('c', 4)")

    if opened_by_us:
        async with db.transaction_opened_by(logged.pool, "INSERT INTO t VALUES ('a', 1)") as (conn, _):
            await work(conn)
    else:
        async with db.transaction(logged.pool) as conn:
            await conn.execute("INSERT INTO t VALUES ('a', 1)")
            await work(conn)
    assert await _rows(logged.pool) == [("a", 1), ("c", 4)]


async def test_a_savepoint_left_to_the_commit_with_a_statement_in_its_round_trip(logged: _Logged) -> None:
    async def failing(conn: asyncpg.Connection) -> None:
        async with db.savepoint(conn, release=False, then="SELECT pg_advisory_xact_lock(7, 2)"):
            await conn.execute("INSERT INTO t VALUES ('b', 2)")
            raise RuntimeError("issuing failed")

    async with db.transaction(logged.pool) as conn:
        await conn.execute("INSERT INTO t VALUES ('a', 1)")
        with pytest.raises(RuntimeError):
            await failing(conn)
        async with db.savepoint(conn, release=False, then="SELECT pg_advisory_xact_lock(7, 2)"):
            await conn.execute("INSERT INTO t VALUES ('c', 3)")
        await conn.execute("INSERT INTO t VALUES ('d', 4)")  # after the block: still committed
    statements = await logged.statements()
    assert [s for s in statements if s.startswith("SAVEPOINT")] == [
        s for s in statements if s.endswith(";SELECT pg_advisory_xact_lock(7, 2)")]
    assert len([s for s in statements if s.startswith("SAVEPOINT")]) == 2
    assert not any(s.startswith("RELEASE") for s in statements)
    assert await _rows(logged.pool) == [("a", 1), ("c", 3), ("d", 4)]


def _started() -> SessionStarted:
    return SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                          started_at=datetime.now(UTC))


def _applier(logged: _Logged, handled: list[uuid.UUID], outcome: Outcome) -> Applier:
    @batched
    async def on_started(events: list[SessionStarted], uow: UnitOfWork) -> None:
        handled.extend(e.session_id for e in events)
        await uow.conn.execute("INSERT INTO seen SELECT unnest($1::uuid[])", [e.session_id for e in events])

    return Applier(durable="intake--o'test", pool=logged.pool, handlers={SessionStarted: on_started},
                   clock=utc_now, on_commit=lambda: None, outcome=outcome)


def _chunk(events: list[SessionStarted], first_seq: int) -> list[tuple[Any, SessionStarted]]:
    return [(SimpleNamespace(metadata=SimpleNamespace(sequence=SimpleNamespace(stream=first_seq + i))), e)
            for i, e in enumerate(events)]


async def test_arrays_in_the_tail_arrive_as_asyncpg_would_send_them(logged: _Logged) -> None:
    at = datetime(2026, 12, 3, 14, 5, 6, 789, tzinfo=UTC)
    sql = ("INSERT INTO t SELECT k || coalesce(v, '-') || coalesce(extract(microseconds FROM w)::text, '-'), n"
           " FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[]) AS u(k, v, w, n)")
    async with db.transaction(logged.pool, [db.bind(sql, ["a", "b'"], ["x", None], [at, None], [1, 2])]):
        pass
    async with db.transaction(logged.pool, [db.bind(sql, [], [], [], [])]):
        pass  # an empty run writes nothing
    assert await _rows(logged.pool) == [("ax6000789", 1), ("b'--", 2)]


async def test_a_second_group_of_a_chunk_sees_the_first_groups_final_writes(logged: _Logged) -> None:
    """Final writes go with the COMMIT; a chunk with two handler groups sends the first group's
    before the second group runs, so it reads what the first wrote."""
    seen_by_second: list[int] = []

    @batched
    async def on_started(events: list[SessionStarted], uow: UnitOfWork) -> None:
        uow.write_at_commit(db.bind("INSERT INTO t VALUES ($1, $2)", str(events[0].session_id), len(events)))

    async def on_ended(event: SessionEnded, uow: UnitOfWork) -> None:
        seen_by_second.append(await uow.conn.fetchval("SELECT count(*) FROM t"))

    applier = Applier(durable="intake--groups", pool=logged.pool,
                      handlers={SessionStarted: on_started, SessionEnded: on_ended},
                      clock=utc_now, on_commit=lambda: None, outcome=Outcome())
    started = [_started(), _started()]
    ended = SessionEnded(session_id=started[0].session_id, request_id=started[0].request_id, technician="tech-01",
                         started_at=started[0].started_at, ended_at=started[0].started_at, duration_seconds=0,
                         promoted=False)
    await applier.apply_chunk(_chunk([*started, ended], 1))  # type: ignore[list-item]
    assert seen_by_second == [1]
    assert await _rows(logged.pool) == [(str(started[0].session_id), 2)]


async def test_the_idempotency_record_of_a_new_chunk_goes_with_the_begin(logged: _Logged) -> None:
    handled: list[uuid.UUID] = []
    outcome = Outcome()
    applier = _applier(logged, handled, outcome)
    events = [_started() for _ in range(5)]
    await applier.apply_chunk(_chunk(events, 1))
    statements = await logged.statements()
    assert len(statements) == 3, statements
    assert statements[0].startswith("BEGIN;INSERT INTO processed_events") and statements[-1] == "COMMIT"
    assert handled == [e.session_id for e in events]
    assert (outcome.handled, outcome.duplicates) == (5, 0)
    async with logged.pool.acquire() as conn:
        rows = await conn.fetch("SELECT consumer, event_id, stream_seq FROM processed_events ORDER BY stream_seq")
    assert [(r["consumer"], r["event_id"], r["stream_seq"]) for r in rows] == [
        ("intake--o'test", e.event_id, i + 1) for i, e in enumerate(events)]


async def test_a_chunk_with_a_duplicate_takes_the_long_way_and_each_event_runs_once(logged: _Logged) -> None:
    handled: list[uuid.UUID] = []
    outcome = Outcome()
    applier = _applier(logged, handled, outcome)
    old, new = _started(), [_started() for _ in range(3)]
    await applier.apply_chunk(_chunk([old], 1))
    await logged.statements()
    # the old event again (a redelivery) and a copy of a new one within the chunk
    await applier.apply_chunk(_chunk([new[0], old, new[1], new[1], new[2]], 2))
    statements = await logged.statements()
    assert statements[0].startswith("BEGIN;INSERT INTO processed_events") and statements[1] == "ROLLBACK"
    assert statements[2] == "BEGIN" and statements[-1] == "COMMIT"  # the long way: its own transaction
    assert handled == [old.session_id] + [e.session_id for e in new]
    assert (outcome.handled, outcome.duplicates) == (4, 2)
    async with logged.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM seen") == 4
        assert await conn.fetchval("SELECT count(*) FROM processed_events") == 4


async def test_a_single_event_records_with_the_begin_and_a_duplicate_runs_nothing(logged: _Logged) -> None:
    handled: list[uuid.UUID] = []
    outcome = Outcome()
    applier = _applier(logged, handled, outcome)
    event = _started()
    await applier.apply_one(_chunk([event], 7)[0][0], event)
    await applier.apply_one(_chunk([event], 8)[0][0], event)
    statements = await logged.statements()
    assert [s.split(" ")[0] for s in statements] == ["BEGIN;INSERT", "INSERT", "COMMIT", "BEGIN;INSERT", "COMMIT"]
    assert handled == [event.session_id]
    assert (outcome.handled, outcome.duplicates) == (1, 1)


# ---------------------------------------------------------------------------- deferred BEGIN


async def test_a_deferred_transaction_is_begun_by_its_lock_in_the_same_round_trip(logged: _Logged) -> None:
    async with db.deferred_transaction(logged.pool) as conn:
        assert not conn.is_in_transaction()
        assert await db.begin_with(conn, "SELECT pg_advisory_xact_lock(7, 1)") == "SELECT 1"
        assert conn.is_in_transaction()
        assert await db.begin_with(conn, "SELECT pg_advisory_xact_lock(7, 2)") == "SELECT 1"
        await conn.execute("INSERT INTO t VALUES ('a', 1)")
    assert await logged.statements() == ["BEGIN;SELECT pg_advisory_xact_lock(7, 1)",
                                         "SELECT pg_advisory_xact_lock(7, 2)",
                                         "INSERT INTO t VALUES ('a', 1)", "COMMIT"]
    assert await _rows(logged.pool) == [("a", 1)]


async def test_a_deferred_transaction_rolls_back_what_came_after_its_lock(logged: _Logged) -> None:
    async def failing() -> None:
        async with db.deferred_transaction(logged.pool) as conn:
            await conn.execute("INSERT INTO t VALUES ('before', 1)")  # no lock yet: commits by itself
            await db.begin_with(conn, "SELECT pg_advisory_xact_lock(7, 1)")
            await conn.execute("INSERT INTO t VALUES ('after', 2)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing()
    assert await _rows(logged.pool) == [("before", 1)]
    async with logged.pool.acquire() as conn:
        assert not conn.is_in_transaction()
        # the lock went with the rollback
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                                   " (SELECT oid FROM pg_database WHERE datname = current_database())") == 0


async def test_a_deferred_transaction_without_a_lock_opens_none(logged: _Logged) -> None:
    async with db.deferred_transaction(logged.pool) as conn:
        await conn.execute("INSERT INTO t VALUES ('a', 1)")
    assert await logged.statements() == ["INSERT INTO t VALUES ('a', 1)"]
    assert await _rows(logged.pool) == [("a", 1)]


async def test_a_deferred_unit_of_work_writes_its_events_in_its_transaction_or_in_one_of_their_own(
        fw_env: Any, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001_t.sql").write_text("CREATE TABLE t (k text PRIMARY KEY);\n")
    rt = Runtime("intake", ServiceSettings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("intake")), migrations)
    await rt.start()
    try:
        locked, unlocked = _started(), _started()
        async with rt.deferred_unit_of_work() as uow:
            await db.begin_with(uow.conn, "SELECT pg_advisory_xact_lock(7, 1)")
            await uow.conn.execute("INSERT INTO t VALUES ('locked')")
            uow.emit(locked)
        async with rt.deferred_unit_of_work() as uow:
            uow.emit(unlocked)  # e.g. a command that needed no lock: the outbox row still commits

        async def failing() -> None:
            async with rt.deferred_unit_of_work() as uow:
                await db.begin_with(uow.conn, "SELECT pg_advisory_xact_lock(7, 1)")
                await uow.conn.execute("INSERT INTO t VALUES ('failed')")
                uow.emit(_started())
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await failing()

        async def published() -> bool:
            assert rt.relay is not None
            return rt.relay.published == 2

        await eventually(published)
        async with rt.pool.acquire() as conn:
            assert [r["k"] for r in await conn.fetch("SELECT k FROM t")] == ["locked"]
        info = await rt.js.stream_info("FERNWARTUNG")
        assert info.state.messages == 2
    finally:
        await rt.stop()
