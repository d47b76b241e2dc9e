"""The store contract against PostgreSQL (the retention role, its own schema, real migrations)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest_asyncio

from fw_contracts.events import PersonalDataErased
from fw_platform.db import create_pool, migrate
from fw_retention.adapters.store import PgVaultStore
from fw_retention.bootstrap import MIGRATIONS, SERVICE

from store_contract import T0, VaultStoreContract, entry, erasure


class TestPgVaultStore(VaultStoreContract):
    @pytest_asyncio.fixture
    async def tx(self, fw_env: Any) -> AsyncIterator[Callable[[], AbstractAsyncContextManager[PgVaultStore]]]:
        pool = await create_pool(fw_env.dsn(SERVICE), SERVICE, min_size=1, max_size=2)
        await migrate(pool, SERVICE, MIGRATIONS)

        @asynccontextmanager
        async def open_tx() -> AsyncIterator[PgVaultStore]:
            async with pool.acquire() as conn, conn.transaction():
                yield PgVaultStore(conn)

        try:
            yield open_tx
        finally:
            await pool.close()


async def test_a_marker_and_its_event_are_one_statement_and_a_repeat_writes_neither(fw_env: Any) -> None:
    """The erasure's PersonalDataErased goes to the outbox with its marker, only with a new one."""
    pool = await create_pool(fw_env.dsn(SERVICE), SERVICE, min_size=1, max_size=2)
    try:
        await migrate(pool, SERVICE, MIGRATIONS)
        rid = uuid.uuid4()
        marker = erasure(rid)
        event = PersonalDataErased(request_id=rid, reason=marker.reason, trigger_event_id=marker.trigger_event_id,
                                   erased_at=marker.erased_at, had_data=marker.had_data, scope=marker.scope)
        async with pool.acquire() as conn, conn.transaction():
            store = PgVaultStore(conn)
            assert await store.insert_erasure(marker, event) is True
            assert await store.insert_erasure(erasure(rid, T0 + timedelta(1)), event) is False
            rows = await conn.fetch("SELECT event_id, subject, payload FROM outbox")
            assert [(r["event_id"], r["subject"], bytes(r["payload"])) for r in rows] == [
                (event.event_id, event.subject(), event.to_json())]
    finally:
        await pool.close()


async def test_markers_of_several_requests_and_their_events_are_one_statement(fw_env: Any) -> None:
    """The batched erasure's write: every new marker's event goes to the outbox in the list's
    order, none for a request that had its marker already."""
    pool = await create_pool(fw_env.dsn(SERVICE), SERVICE, min_size=1, max_size=2)
    try:
        await migrate(pool, SERVICE, MIGRATIONS)
        first, known, last = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        markers = [erasure(rid) for rid in (first, known, last)]
        events = [PersonalDataErased(request_id=m.request_id, reason=m.reason, trigger_event_id=m.trigger_event_id,
                                     erased_at=m.erased_at, had_data=m.had_data, scope=m.scope) for m in markers]
        async with pool.acquire() as conn, conn.transaction():
            store = PgVaultStore(conn)
            assert await store.insert_erasure(erasure(known, T0 - timedelta(1))) is True
            queries: list[str] = []
            conn.add_query_logger(lambda q: queries.append(q.query))
            assert await store.insert_erasures(list(zip(markers, events, strict=True))) == {first, last}
            rows = await conn.fetch("SELECT event_id, payload FROM outbox ORDER BY id")
            assert [(r["event_id"], bytes(r["payload"])) for r in rows] == [
                (events[0].event_id, events[0].to_json()), (events[2].event_id, events[2].to_json())]
        assert len([q for q in queries if "INSERT INTO erasures" in q]) == 1
    finally:
        await pool.close()


async def test_put_new_waits_for_an_erasure_holding_the_lock_and_sees_its_marker(fw_env: Any) -> None:
    """The race the lock exists for: an erasure has locked the request and written its marker, not
    committed yet. put_new waits for the lock and then sees the committed marker (each query of
    the function takes a fresh snapshot): nothing is stored for an erased request."""
    pool = await create_pool(fw_env.dsn(SERVICE), SERVICE, min_size=2, max_size=2)
    try:
        await migrate(pool, SERVICE, MIGRATIONS)
        rid = uuid.uuid4()
        async with pool.acquire() as eraser, pool.acquire() as putter:
            tx = eraser.transaction()
            await tx.start()
            await PgVaultStore(eraser).lock(rid)
            assert await PgVaultStore(eraser).insert_erasure(erasure(rid)) is True
            put = asyncio.create_task(PgVaultStore(putter).put_new(entry(rid)))
            await asyncio.sleep(0.3)
            assert not put.done()  # waiting for the erasure's lock
            await tx.commit()
            assert await asyncio.wait_for(put, 5) == "erased"
            assert await putter.fetchval("SELECT count(*) FROM vault_keys WHERE request_id = $1", rid) == 0
    finally:
        await pool.close()
