"""Intake's create on real PostgreSQL: the request and its outbox row are one statement, run
without a transaction; a taken ticket writes neither."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from fw_contracts.events import CustomerType
from fw_intake.adapters.repository import SqlSupportRequests
from fw_intake.bootstrap import MIGRATIONS
from fw_intake.domain.request import decide_create, evolve
from fw_intake.domain.terms import TermsDocument
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
