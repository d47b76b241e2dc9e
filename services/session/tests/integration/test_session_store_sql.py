"""The session store on real PostgreSQL: one statement to load a session (row lock and events),
one to append (row change, events and their outbox rows), and a stale version refused with
nothing written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from fw_platform.db import create_pool, migrate
from fw_session.adapters.sql import SqlRequestStore, SqlSessionStore
from fw_session.application.ports import ConcurrentChange
from fw_session.bootstrap import MIGRATIONS
from fw_session.domain.requests import RequestStatus
from fw_session.domain.session import EndSession, StartSession, TakeOverSession, decide

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


async def _logged(queries: list[str]) -> list[str]:
    """The statements logged so far (asyncpg calls its query loggers soon after, not during)."""
    for _ in range(3):
        await asyncio.sleep(0)
    return queries


@asynccontextmanager
async def _migrated_pool(fw_env: Any) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fw_env.dsn("session"), "session")
    try:
        await migrate(pool, "session", MIGRATIONS)
        yield pool
    finally:
        await pool.close()


async def test_load_and_append_are_one_statement_each_and_a_stale_version_writes_nothing(fw_env: Any) -> None:
    pool = await create_pool(fw_env.dsn("session"), "session")
    try:
        await migrate(pool, "session", MIGRATIONS)
        request_id, session_id = uuid.uuid4(), uuid.uuid4()
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO requests(request_id, status) VALUES ($1, 'waiting')", request_id)
            queries: list[str] = []
            # asyncpg's own type introspection (once per connection and type) does not count
            conn.add_query_logger(lambda q: queries.append(q.query) if "sessions" in q.query else None)
            store = SqlSessionStore(conn)

            async with conn.transaction():
                assert await store.load(session_id, for_update=True) is None
                started = decide(StartSession(session_id=session_id, request_id=request_id, technician="tech-01",
                                              at=T0), None)
                (await _logged(queries)).clear()
                s1 = await store.append(None, started)
                assert len(await _logged(queries)) == 1
            async with conn.transaction():
                (await _logged(queries)).clear()
                loaded = await store.load(session_id, for_update=True)
                assert len(await _logged(queries)) == 1 and "FOR UPDATE" in queries[0]
                assert loaded == s1
                taken = decide(TakeOverSession(technician="tech-02", to_technician="tech-02", at=T0 + timedelta(seconds=5)), loaded)
                (await _logged(queries)).clear()
                s2 = await store.append(loaded, taken)
                assert len(await _logged(queries)) == 1
            # Another writer saw version 1 too: its append is refused and writes nothing.
            ended = decide(EndSession(at=T0 + timedelta(seconds=9), technician="tech-01"), s1)
            with pytest.raises(ConcurrentChange):
                async with conn.transaction():
                    await store.append(s1, ended)
            assert await conn.fetchval("SELECT count(*) FROM session_events WHERE session_id = $1", session_id) == 2
            assert await conn.fetchval("SELECT version FROM sessions WHERE session_id = $1", session_id) == 2
            assert await conn.fetchval("SELECT technician FROM sessions WHERE session_id = $1", session_id) == "tech-02"
            again = await store.load(session_id)
            assert again == s2 and again is not None and again.technician == "tech-02"
            assert [e.event_id for e in started + taken] == [
                r["event_id"] for r in await conn.fetch(
                    "SELECT event_id FROM session_events WHERE session_id = $1 ORDER BY version", session_id)]
            # The same session id again (a retried start): refused, nothing written.
            with pytest.raises(ConcurrentChange):
                async with conn.transaction():
                    await store.append(None, started)
            # The same statement wrote the outbox rows, in order, with the stored payload's bytes;
            # the refused appends wrote none.
            rows = await conn.fetch("SELECT event_id, subject, payload FROM outbox ORDER BY id")
            assert [(r["event_id"], r["subject"], bytes(r["payload"])) for r in rows] == [
                (e.event_id, e.subject(), e.to_json()) for e in started + taken]
    finally:
        await pool.close()


async def test_queue_runs_lock_or_create_many_entries_and_write_them_in_one_statement_each(fw_env: Any) -> None:
    known, new = uuid.uuid4(), uuid.uuid4()
    async with _migrated_pool(fw_env) as pool, pool.acquire() as conn:
        await conn.execute("INSERT INTO requests(request_id, status, ticket) VALUES ($1, 'waiting', 'K7MQ-3XA')",
                           known)
        store = SqlRequestStore(conn)
        queries: list[str] = []
        conn.add_query_logger(lambda q: queries.append(q.query) if "requests" in q.query else None)
        async with conn.transaction():
            entries = await store.lock_or_placeholders([new, known, new])
            assert len(await _logged(queries)) == 1
            assert set(entries) == {known, new}
            assert entries[known].status is RequestStatus.WAITING and entries[known].ticket == "K7MQ-3XA"
            assert entries[new].status is RequestStatus.UNSEEN  # the placeholder, ours and locked
            (await _logged(queries)).clear()
            await store.save_many([replace(entries[known], status=RequestStatus.STARTED),
                                   replace(entries[new], ticket="ABCD-EFG", created_at=T0)])
            await store.save_many([])
            assert len(await _logged(queries)) == 1
        assert (await store.get(known)).status is RequestStatus.STARTED  # type: ignore[union-attr]
        after_new = await store.get(new)
        assert after_new is not None and after_new.ticket == "ABCD-EFG" and after_new.created_at == T0
        # another transaction's lock on one of them makes the run wait for it (rows locked)
        async with pool.acquire() as other, other.transaction():
            await other.execute("SELECT 1 FROM requests WHERE request_id = $1 FOR UPDATE", known)
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '200ms'")
                with pytest.raises(asyncpg.exceptions.LockNotAvailableError):
                    await store.lock_or_placeholders([known])
