"""Intake's create on real PostgreSQL: the request and its outbox row are one statement, run
without a transaction; a taken ticket writes neither."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fw_contracts.events import CustomerType
from fw_intake.adapters.repository import SqlSupportRequests
from fw_intake.bootstrap import MIGRATIONS
from fw_intake.domain.request import RequestStatus, decide_create, evolve
from fw_intake.domain.terms import TermsDocument
from fw_platform import db
from fw_platform.db import create_pool, migrate

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
TERMS = TermsDocument.from_bytes("2026-01", b"Bedingungen")


def _created(ticket: str) -> tuple[Any, Any]:
    event = decide_create(request_id=uuid.uuid4(), ticket=ticket, customer_type=CustomerType.BUSINESS,
                          terms=TERMS, withdrawal_waiver=False, has_billing_address=True, has_email=False,
                          now=T0, download_sha256="0" * 64)
    return evolve(None, event), event


async def test_create_is_one_statement_and_a_taken_ticket_writes_nothing(fw_env: Any) -> None:
    pool = await create_pool(fw_env.dsn("intake"), "intake")
    try:
        await migrate(pool, "intake", MIGRATIONS)
        async with pool.acquire() as conn:
            queries: list[str] = []
            # asyncpg's own type introspection (once per connection and type) does not count
            conn.add_query_logger(lambda q: None if "pg_catalog" in q.query or "jit" in q.query
                                  else queries.append(q.query))
            repo = SqlSupportRequests(conn)
            state, event = _created("ABCD-EFG")
            assert await repo.add(state, event)
            for _ in range(3):  # asyncpg calls its query loggers soon after, not during
                await asyncio.sleep(0)
            assert len(queries) == 1 and "BEGIN" not in queries[0].upper()
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM support_requests") == 1
            rows = await conn.fetch("SELECT event_id, subject, event_type FROM outbox")
            assert [(r["event_id"], r["subject"], r["event_type"]) for r in rows] == [
                (event.event_id, event.subject(), event.event_type)]

            other_state, other_event = _created("ABCD-EFG")  # same ticket, another request
            assert not await repo.add(other_state, other_event)
            assert await conn.fetchval("SELECT count(*) FROM support_requests") == 1
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await pool.close()


async def test_status_runs_read_and_write_many_requests_in_one_statement_each(fw_env: Any) -> None:
    # what the batched handlers rely on: the known ones of the ids (unknown ones left out, a
    # repeated id once), locked; then all changed statuses written by one statement
    pool = await create_pool(fw_env.dsn("intake"), "intake")
    try:
        await migrate(pool, "intake", MIGRATIONS)
        async with pool.acquire() as conn:
            repo = SqlSupportRequests(conn)
            a, b = _created("AAAA-AAA")[0], _created("BBBB-BBB")[0]
            for state, event in ((a, _created("AAAA-AAA")[1]), (b, _created("BBBB-BBB")[1])):
                assert await repo.add(state, event.model_copy(update={"request_id": state.request_id}))
            async with conn.transaction():
                got = await repo.get_many([a.request_id, uuid.uuid4(), b.request_id, a.request_id], lock=True)
                assert set(got) == {a.request_id, b.request_id} and got[a.request_id] == a
                locked = await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'transactionid'")
                assert locked == 1  # FOR UPDATE took a transaction id
                queries: list[str] = []
                # asyncpg's own type introspection (once per connection and type) does not count
                conn.add_query_logger(lambda q: None if "pg_catalog" in q.query or "jit" in q.query
                                      else queries.append(q.query))
                later = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
                await repo.save_many([replace(got[a.request_id], status=RequestStatus.IN_SESSION, updated_at=later),
                                      replace(got[b.request_id], status=RequestStatus.ERASED, updated_at=later)])
                await repo.save_many([])  # nothing to write: no statement
                for _ in range(3):
                    await asyncio.sleep(0)
                assert len(queries) == 1
            after = await repo.get_many([a.request_id, b.request_id])
            assert after[a.request_id].status is RequestStatus.IN_SESSION
            assert after[b.request_id].status is RequestStatus.ERASED
            assert after[a.request_id].updated_at == later
            # a consumer's run: the write goes with the COMMIT, the same rows result
            tail: list[str] = []
            deferred = SqlSupportRequests(conn, at_commit=tail.append)
            latest = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
            await conn.execute("BEGIN")
            await deferred.save_many([replace(after[a.request_id], status=RequestStatus.ERASED, updated_at=latest)])
            assert len(tail) == 1 and (await repo.get_many([a.request_id]))[a.request_id].updated_at == later
            await db.commit(conn, tail)
            assert (await repo.get_many([a.request_id]))[a.request_id] == replace(
                after[a.request_id], status=RequestStatus.ERASED, updated_at=latest)
    finally:
        await pool.close()
