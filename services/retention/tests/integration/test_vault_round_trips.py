"""The vault's requests on real PostgreSQL: the request's lock begins the transaction in the same
round trip (no BEGIN of its own), marker and entry (for a claim: marker, entry and claim) are
one look-up, the final writes go with the COMMIT (three round trips per request), a refused
read is one statement, a failure rolls back."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from fw_contracts.vault import ClaimRequest, GetRequest, PutRequest, VaultError
from fw_contracts.wire import VaultSubject, vault_subject
from fw_platform import db
from fw_platform.handling import UnitOfWork
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.adapters.store import PgVaultStore
from fw_retention.application.erasure import ErasureHandlers
from fw_retention.bootstrap import MIGRATIONS, SERVICE
from fw_retention.entrypoints.vault_responder import INTERNAL, VaultResponder

from retention_testkit import Clock, invoice_issued, personal_data


class _Vault:
    def __init__(self, responder: VaultResponder, pool: Any, queries: list[str], cipher: EnvelopeCipher,
                 clock: Clock) -> None:
        self.responder = responder
        self.pool = pool
        self.queries = queries
        self.cipher = cipher
        self.clock = clock

    async def statements(self) -> list[str]:
        for _ in range(3):  # asyncpg calls its query loggers soon after, not during
            await asyncio.sleep(0)
        taken = [" ".join(q.split()) for q in self.queries]
        self.queries.clear()
        return taken

    async def call(self, op: VaultSubject, caller: str, body: Any) -> Any:
        return await self.responder.handle(vault_subject(op, caller), body.model_dump_json().encode())


@pytest.fixture
async def vault(fw_env: Any) -> AsyncIterator[_Vault]:
    pool = await db.create_pool(fw_env.dsn(SERVICE), SERVICE, min_size=1, max_size=1)
    try:
        await db.migrate(pool, SERVICE, MIGRATIONS)
        queries: list[str] = []
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda q: None if "pg_catalog" in q.query or "jit" in q.query
                                  else queries.append(q.query))
        clock = Clock()

        @asynccontextmanager
        async def deferred() -> AsyncIterator[UnitOfWork]:  # what Runtime.deferred_unit_of_work does
            tail: list[str] = []
            async with db.deferred_transaction(pool, tail) as conn:
                yield UnitOfWork(conn=conn, now=clock(), at_commit=tail)

        cipher = EnvelopeCipher(os.urandom(32))
        responder = VaultResponder(unit_of_work=deferred, store_for=PgVaultStore, cipher=cipher, clock=clock)
        yield _Vault(responder, pool, queries, cipher, clock)
    finally:
        await pool.close()


async def test_a_new_put_is_one_statement_and_a_get_begins_with_the_lock(vault: _Vault) -> None:
    rid = uuid.uuid4()
    assert (await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data()))).ok
    put = await vault.statements()
    reply = await vault.call(VaultSubject.GET, "billing", GetRequest(request_id=rid, purpose="billing"))
    assert reply.ok and reply.entry.data == personal_data()
    get = await vault.statements()
    # a new request: lock, look-up and insert in one statement that commits by itself (migration 024)
    assert put == ["SELECT vault_put_new($1, $2, $3, $4, $5, $6, $7, $8)"]
    assert get[0].startswith("BEGIN;SELECT pg_advisory_xact_lock("), get
    assert get[-1].endswith(";COMMIT")
    assert not any(s.upper().startswith("BEGIN") for s in get[1:])
    # BEGIN with the lock, marker and entry in one look-up, the access-log row with the COMMIT
    assert len(get) == 3
    assert get[1].startswith("SELECT r.id AS asked, m.*, x.*") and get[2].startswith("INSERT INTO vault_access_log")
    async with vault.pool.acquire() as conn:
        assert await conn.fetchval("SELECT outcome FROM vault_access_log WHERE request_id = $1", rid) == "ok"
        assert await conn.fetchval("SELECT count(*) FROM vault_entries WHERE request_id = $1", rid) == 1


async def test_a_put_again_is_decided_after_the_lock(vault: _Vault) -> None:
    """The same data again is an identical retry (ok), other data are refused, an erased request
    too: each after the one statement found the request, with the lock and a look-up."""
    rid = uuid.uuid4()
    assert (await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data()))).ok
    await vault.statements()
    assert (await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data()))).ok
    again = await vault.statements()
    assert again[0] == "SELECT vault_put_new($1, $2, $3, $4, $5, $6, $7, $8)"
    assert again[1].startswith("BEGIN;SELECT pg_advisory_xact_lock(") and again[2].startswith("SELECT r.id AS asked")
    other = await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data(phone="+4930999")))
    assert not other.ok and other.error is VaultError.EXISTS
    async with vault.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM vault_keys WHERE request_id = $1", rid) == 1


async def test_a_first_claim_is_one_statement_and_a_claim_again_one_look_up_after_the_lock(vault: _Vault) -> None:
    rid = uuid.uuid4()
    assert (await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data()))).ok
    await vault.statements()
    start = ClaimRequest(request_id=rid, outcome="session_started")
    assert (await vault.call(VaultSubject.CLAIM, "session", start)).ok
    # the lock, the look-up, the claim and its access-log row in one statement (migration 025)
    assert await vault.statements() == ["SELECT vault_claim_new($1, $2, $3, $4, $5, $6, $7)"]
    assert (await vault.call(VaultSubject.CLAIM, "session", start)).ok  # the same claim again
    claim = await vault.statements()
    # after the one statement: BEGIN with the lock, one look-up, the access-log row with the COMMIT
    assert len(claim) == 4, claim
    assert claim[1].startswith("BEGIN;SELECT pg_advisory_xact_lock(")
    assert claim[2].startswith("SELECT m.*, e.stored_at AS entry_stored_at, e.claimed_outcome")
    assert claim[3].startswith("INSERT INTO vault_access_log") and claim[3].endswith(";COMMIT")
    again = await vault.call(VaultSubject.CLAIM, "intake", ClaimRequest(request_id=rid, outcome="withdrawn"))
    assert not again.ok and again.error == "claimed"
    async with vault.pool.acquire() as conn:
        assert await conn.fetchval("SELECT claimed_outcome FROM vault_entries WHERE request_id = $1", rid) \
            == "session_started"
        assert [r["outcome"] for r in await conn.fetch(
            "SELECT outcome FROM vault_access_log WHERE request_id = $1 AND purpose LIKE 'claim%' ORDER BY id", rid,
        )] == ["ok", "unchanged", "claimed"]


async def test_a_refused_read_is_its_access_log_row_alone(vault: _Vault) -> None:
    rid = uuid.uuid4()
    reply = await vault.call(VaultSubject.GET, "session", GetRequest(request_id=rid, purpose="billing"))
    assert not reply.ok and reply.error == "forbidden"
    statements = await vault.statements()
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO vault_access_log"), statements
    async with vault.pool.acquire() as conn:
        assert await conn.fetchval("SELECT outcome FROM vault_access_log WHERE request_id = $1", rid) == "forbidden"


async def _undecided(self: PgVaultStore, *args: Any, **kwargs: Any) -> str:
    return "other"


async def test_a_failure_after_the_lock_rolls_the_request_back(vault: _Vault,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    rid = uuid.uuid4()
    assert (await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data()))).ok

    async def broken(self: PgVaultStore, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    # the claim is logged, then storing its outcome fails: neither may remain (the claim after
    # the lock, as for a claim the one statement did not decide)
    monkeypatch.setattr(PgVaultStore, "claim_new", _undecided)
    monkeypatch.setattr(PgVaultStore, "set_claim", broken)
    assert await vault.call(VaultSubject.CLAIM, "session", ClaimRequest(request_id=rid, outcome="session_started")) == INTERNAL
    assert (await vault.statements())[-1] == "ROLLBACK"
    async with vault.pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM vault_access_log WHERE request_id = $1"
                                   " AND purpose LIKE 'claim%'", rid) == 0
        assert await conn.fetchval("SELECT claimed_outcome FROM vault_entries WHERE request_id = $1", rid) is None


async def test_a_final_write_failing_at_the_commit_rolls_the_request_back(vault: _Vault,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rid = uuid.uuid4()
    assert (await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data()))).ok

    async def failing_at_commit(self: PgVaultStore, *args: Any, **kwargs: Any) -> None:
        await self._write("INSERT INTO no_such_table VALUES ($1)", 1)

    # the claim's two writes go with the COMMIT; the second fails there: neither may remain
    monkeypatch.setattr(PgVaultStore, "claim_new", _undecided)
    monkeypatch.setattr(PgVaultStore, "set_claim", failing_at_commit)
    assert await vault.call(VaultSubject.CLAIM, "session", ClaimRequest(request_id=rid, outcome="session_started")) == INTERNAL
    statements = await vault.statements()
    assert statements[-2].endswith("INSERT INTO no_such_table VALUES (1);COMMIT") and statements[-1] == "ROLLBACK"
    async with vault.pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM vault_access_log WHERE request_id = $1"
                                   " AND purpose LIKE 'claim%'", rid) == 0
    # and the request works once the write does
    monkeypatch.undo()
    assert (await vault.call(VaultSubject.CLAIM, "session", ClaimRequest(request_id=rid, outcome="session_started"))).ok


async def test_a_chunk_of_erasures_costs_the_statements_of_one(vault: _Vault) -> None:
    """The consumer's batched handler: lock, look-up, kept addresses, delete and markers with
    their events are one statement each, for one InvoiceIssued as for five."""
    handlers = ErasureHandlers(PgVaultStore, cipher=vault.cipher, delivery_hold=timedelta(days=14))
    counts = []
    for n in (1, 5):
        ids = [uuid.uuid4() for _ in range(n)]
        for rid in ids:
            assert (await vault.call(VaultSubject.PUT, "intake", PutRequest(request_id=rid, data=personal_data()))).ok
        await vault.statements()
        async with db.transaction(vault.pool) as conn:
            await handlers.on_invoices_issued([invoice_issued(rid) for rid in ids],
                                              UnitOfWork(conn=conn, now=vault.clock()))
        statements = await vault.statements()
        counts.append(len(statements))
        assert statements[0] == "BEGIN" and statements[-1] == "COMMIT"
        assert sum("pg_advisory_xact_lock" in s for s in statements) == 1
        async with vault.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM vault_entries WHERE request_id = ANY($1)", ids) == 0
            assert await conn.fetchval("SELECT count(*) FROM vault_delivery_emails WHERE request_id = ANY($1)",
                                       ids) == n  # the first step keeps the address
            assert await conn.fetchval(
                "SELECT count(*) FROM erasures WHERE request_id = ANY($1) AND scope = 'all_but_delivery_email'",
                ids) == n
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'PersonalDataErased'"
                                       " AND convert_from(payload, 'UTF8')::jsonb->>'request_id' = ANY($1::text[])",
                                       [str(r) for r in ids]) == n
    assert counts[0] == counts[1] == 7, counts  # BEGIN, lock, look-up, addresses, delete, markers, COMMIT

