"""The vault over real NATS request/reply, stored in real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from fw_contracts.vault import VaultError, VaultReply
from fw_contracts.wire import VaultSubject, vault_subject
from fw_devenv.vault_callers import VaultCallers
from fw_platform.vault_client import VaultRefused, VaultUnavailable
from fw_retention.application.service import RetentionService

from retention_testkit import MARKERS, Clock, personal_data, statement

VAULT_TABLES = ("vault_keys", "vault_entries", "vault_statements")


async def raw_vault_bytes(admin: asyncpg.Connection) -> bytes:
    """Every column of every vault row, as the database holds it."""
    out = b""
    for table in VAULT_TABLES:
        for row in await admin.fetch(f"SELECT * FROM retention.{table}"):
            out += b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    return out


async def test_put_get_statement_round_trip(service: RetentionService, nc: Client, clock: Clock,
                                            admin: asyncpg.Connection) -> None:
    vault = VaultCallers(nc)
    rid = uuid.uuid4()
    await vault.put(rid, personal_data())
    await vault.put(rid, personal_data())  # intake's retry
    await vault.add_statement(rid, statement())
    entry = await vault.get(rid, "customer_account")
    assert entry.data == personal_data() and entry.statement == statement()
    assert entry.stored_at == clock.now
    log = await admin.fetch("SELECT request_id, caller, purpose, outcome FROM retention.vault_access_log")
    assert [tuple(r) for r in log] == [(rid, "billing", "customer_account", "ok")]

    with pytest.raises(VaultRefused) as refused:
        await vault.put(rid, personal_data(contact_name="Jemand Anderes"))
    assert refused.value.error is VaultError.EXISTS
    with pytest.raises(VaultRefused) as missing:
        await vault.get(uuid.uuid4(), "queue")
    assert missing.value.error is VaultError.NOT_FOUND


async def test_ciphertext_holds_no_plaintext(service: RetentionService, nc: Client, admin: asyncpg.Connection) -> None:
    vault = VaultCallers(nc)
    rid = uuid.uuid4()
    await vault.put(rid, personal_data())
    await vault.add_statement(rid, statement())
    raw = await raw_vault_bytes(admin)
    assert len(raw) > 200
    for marker in MARKERS:
        assert marker.encode() not in raw
        assert marker.encode("utf-16-le") not in raw
    # Nor anywhere else in retention's schema (outbox, dead letters, access log, ...).
    tables = [r["tablename"] for r in await admin.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'retention'")]
    for table in tables:
        text = " ".join(str(tuple(r)) for r in await admin.fetch(f"SELECT * FROM retention.{table}"))
        for marker in MARKERS:
            assert marker not in text, table


async def test_invalid_bodies_get_invalid(service: RetentionService, nc: Client) -> None:
    for subject in (vault_subject(VaultSubject.PUT, "intake"), vault_subject(VaultSubject.GET, "session"),
                    vault_subject(VaultSubject.ADD_STATEMENT, "session"), vault_subject(VaultSubject.CLAIM, "intake")):
        msg = await nc.request(subject, f'{{"data": "{MARKERS[0]}"}}'.encode(), timeout=3)
        reply = VaultReply.model_validate_json(msg.data)
        assert reply == VaultReply(ok=False, error=VaultError.INVALID)
        assert MARKERS[0].encode() not in msg.data


async def test_concurrent_requests(service: RetentionService, nc: Client) -> None:
    vault = VaultCallers(nc)
    ids = [uuid.uuid4() for _ in range(40)]
    await asyncio.gather(*(vault.put(rid, personal_data(phone=f"+49301234{i:04d}")) for i, rid in enumerate(ids)))
    entries = await asyncio.gather(*(vault.get(rid, "queue") for rid in ids))
    assert [e.data.phone for e in entries] == [f"+49301234{i:04d}" for i in range(40)]
    # The same put raced from two callers: exactly one stores, the other sees an identical retry.
    rid = uuid.uuid4()
    await asyncio.gather(vault.put(rid, personal_data()), vault.put(rid, personal_data()))


async def test_no_vault_means_unavailable(fw_env: Any, nc: Client) -> None:
    with pytest.raises(VaultUnavailable):
        await VaultCallers(nc, timeout=0.5).put(uuid.uuid4(), personal_data())


async def test_each_caller_reads_only_for_its_own_purposes_and_the_log_names_it(
        service: RetentionService, nc: Client, admin: asyncpg.Connection) -> None:
    vault = VaultCallers(nc)
    rid = uuid.uuid4()
    await vault.put(rid, personal_data())
    # billing cannot read for the queue, session cannot read for billing (or the customer account)
    for client, purpose in ((vault.billing, "queue"), (vault.session, "billing"),
                            (vault.session, "customer_account"), (vault.billing, "data_subject_access")):
        with pytest.raises(VaultRefused) as refused:
            await client.get(rid, purpose)  # type: ignore[arg-type]
        assert refused.value.error is VaultError.FORBIDDEN and refused.value.reply.entry is None
    assert (await vault.session.get(rid, "queue")).data == personal_data()
    assert (await vault.billing.get(rid, "billing")).data == personal_data()
    log = await admin.fetch("SELECT caller, purpose, outcome FROM retention.vault_access_log"
                            " WHERE request_id = $1 ORDER BY id", rid)
    assert [tuple(r) for r in log] == [
        ("billing", "queue", "forbidden"), ("session", "billing", "forbidden"),
        ("session", "customer_account", "forbidden"), ("billing", "data_subject_access", "forbidden"),
        ("session", "queue", "ok"), ("billing", "billing", "ok")]
    # the old shared subject is served by nobody any more
    with pytest.raises((NoRespondersError, NatsTimeoutError)):
        await nc.request(VaultSubject.GET.value, b"{}", timeout=0.5)


async def test_concurrent_start_and_withdraw_claims_never_both_win(service: RetentionService, nc: Client) -> None:
    vault = VaultCallers(nc)
    for _ in range(20):
        rid = uuid.uuid4()
        await vault.put(rid, personal_data())
        results = await asyncio.gather(vault.claim(rid, "session_started"), vault.claim(rid, "withdrawn"),
                                       return_exceptions=True)
        won = [r for r in results if r is None]
        lost = [r for r in results if isinstance(r, VaultRefused)]
        assert len(won) == 1 and len(lost) == 1 and lost[0].error is VaultError.CLAIMED, results
