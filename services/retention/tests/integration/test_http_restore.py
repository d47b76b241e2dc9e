"""HTTP API through the app's lifespan, restore safety (reapply), and what a dump still holds."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from nats.aio.client import Client

from fw_contracts import Header
from fw_contracts.events import BillingBlocked, PersonalDataErased, SupportRequestWithdrawn
from fw_devenv import pg_bin_dir
from fw_devenv.provision import database_dsn
from fw_devenv.testing import eventually
from fw_devenv.vault_callers import VaultCallers
from fw_retention.application.service import RetentionService
from fw_retention.bootstrap import build

from retention_testkit import MARKERS, Clock, personal_data, read_subject, settings_for, statement

VAULT_TABLES = ("vault_keys", "vault_entries", "vault_statements")


@pytest_asyncio.fixture
async def api(fw_env: Any, clock: Clock) -> AsyncIterator[tuple[httpx.AsyncClient, RetentionService]]:
    app = build(settings_for(fw_env), clock=clock).http
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, app.state.service


async def withdraw(nc: Client, rid: uuid.UUID) -> SupportRequestWithdrawn:
    event = SupportRequestWithdrawn(request_id=rid)
    await nc.jetstream().publish(event.subject(), event.to_json(), headers={Header.MSG_ID: str(event.event_id)})
    return event


async def erased_count(nc: Client) -> int:
    return len(await read_subject(nc.jetstream(), PersonalDataErased.subject()))


async def rows_of(admin: asyncpg.Connection, rid: uuid.UUID) -> dict[str, list[asyncpg.Record]]:
    return {t: await admin.fetch(f"SELECT * FROM retention.{t} WHERE request_id = $1", rid) for t in VAULT_TABLES}


async def restore_rows(admin: asyncpg.Connection, saved: dict[str, list[asyncpg.Record]]) -> None:
    """Put rows back as a restored backup would (keys first: the others reference them)."""
    for table in VAULT_TABLES:
        for row in saved[table]:
            cols = list(row.keys())
            marks = ", ".join(f"${i + 1}" for i in range(len(cols)))
            await admin.execute(f"INSERT INTO retention.{table} ({', '.join(cols)}) VALUES ({marks})", *row.values())


async def test_http_views(api: tuple[httpx.AsyncClient, RetentionService], nc: Client, clock: Clock) -> None:
    client, _ = api
    vault = VaultCallers(nc)
    kept, gone = uuid.uuid4(), uuid.uuid4()
    await vault.put(kept, personal_data())
    await vault.put(gone, personal_data())
    event = await withdraw(nc, gone)

    async def erased() -> dict[str, Any] | None:
        body = (await client.get(f"/api/requests/{gone}/status")).json()
        return body if body["state"] == "erased" else None

    status = await eventually(erased)
    assert status["erased_at"] and status["reason"] == "withdrawn" and "stored_at" not in status
    stored = (await client.get(f"/api/requests/{kept}/status")).json()
    assert stored["state"] == "stored" and "erased_at" not in stored
    assert (await client.get(f"/api/requests/{uuid.uuid4()}/status")).json()["state"] == "unknown"

    log = (await client.get("/api/erasures", params={"limit": 10})).json()
    assert [(e["request_id"], e["reason"], e["trigger_event_id"]) for e in log] == [
        (str(gone), "withdrawn", str(event.event_id))]
    pending = (await client.get("/api/pending-erasures")).json()
    assert [p["request_id"] for p in pending] == [str(kept)]
    assert pending[0]["deadline"].startswith((clock.now + timedelta(days=14)).date().isoformat())

    everything = " ".join(r.text for r in (
        await client.get("/api/erasures"), await client.get("/api/pending-erasures"),
        await client.get(f"/api/requests/{kept}/status")))
    for marker in MARKERS:
        assert marker not in everything

    bad = await client.get("/api/requests/not-a-uuid/status")
    assert bad.status_code == 422 and "not-a-uuid" not in bad.text
    assert (await client.get("/api/erasures", params={"limit": 0})).status_code == 422
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["vault"] is True


async def test_reapply_after_restore(api: tuple[httpx.AsyncClient, RetentionService], nc: Client,
                                     admin: asyncpg.Connection) -> None:
    client, retention = api
    vault = VaultCallers(nc)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for rid in (a, b, c):
        await vault.put(rid, personal_data())
    await vault.add_statement(a, statement())
    backup = {rid: await rows_of(admin, rid) for rid in (a, b)}  # the backup, taken now
    await withdraw(nc, a)
    await withdraw(nc, b)
    await eventually(lambda: _at_least(nc, 2))

    # Restore: a and b have their rows back; b's marker is lost (the backup predates it).
    await restore_rows(admin, backup[a])
    await restore_rows(admin, backup[b])
    await admin.execute("DELETE FROM retention.erasures WHERE request_id = $1", b)
    assert (await client.get(f"/api/requests/{b}/status")).json()["state"] == "stored"

    without_stream = await client.post("/api/erasure-log/reapply", params={"from_stream": "false"})
    assert without_stream.json() == {"count": 1, "markers_restored": 0, "holds_restored": 0}  # a only
    result = await client.post("/api/erasure-log/reapply")
    assert result.status_code == 200 and result.json() == {"count": 1, "markers_restored": 1, "holds_restored": 0}
    for rid in (a, b):
        assert all(not rows for rows in (await rows_of(admin, rid)).values())
    assert (await client.get(f"/api/requests/{b}/status")).json()["state"] == "erased"
    assert (await vault.get(c, "queue")).data == personal_data()  # untouched
    assert await erased_count(nc) == 2  # reapply publishes nothing
    again = await retention.reapply()
    assert (again.requests_purged, again.markers_restored, again.holds_restored) == (0, 0, 0)


async def test_billing_holds_come_back_from_the_stream_after_a_restore(
        api: tuple[httpx.AsyncClient, RetentionService], nc: Client, admin: asyncpg.Connection, clock: Clock) -> None:
    """A backup from before the BillingBlocked has no hold; the durable consumer will not deliver
    the event again. Without the hold the sweep would erase the request at 14 days."""
    client, retention = api
    rid = uuid.uuid4()
    await VaultCallers(nc).put(rid, personal_data())
    blocked = BillingBlocked(session_id=uuid.uuid4(), request_id=rid, missing=("billing_address",),
                             occurred_at=clock.now)
    await nc.jetstream().publish(blocked.subject(), blocked.to_json(), headers={Header.MSG_ID: str(blocked.event_id)})
    hold = "SELECT blocked_at FROM retention.billing_holds WHERE request_id = $1"
    await eventually(lambda: admin.fetchval(hold, rid))
    await admin.execute("DELETE FROM retention.billing_holds")  # the restored backup predates it

    result = await client.post("/api/erasure-log/reapply")
    assert result.status_code == 200 and result.json()["holds_restored"] == 1
    assert await admin.fetchval(hold, rid) == blocked.occurred_at
    clock.advance(days=15)
    assert await retention.sweep() == 0  # held, as before the restore
    status = (await client.get(f"/api/requests/{rid}/status")).json()
    assert status["state"] == "stored" and status["billing_blocked_at"] is not None
    assert (await retention.reapply()).holds_restored == 0  # known holds change nothing


async def _at_least(nc: Client, n: int) -> bool:
    return await erased_count(nc) >= n


async def test_dump_after_erasure_holds_no_trace(service: RetentionService, nc: Client, fw_env: Any,
                                                  admin: asyncpg.Connection) -> None:
    vault = VaultCallers(nc)
    rid, other = uuid.uuid4(), uuid.uuid4()
    await vault.put(rid, personal_data())
    await vault.add_statement(rid, statement())
    await vault.put(other, personal_data(company="Andere Firma KG"))
    ciphertexts = [bytes(v) for t in VAULT_TABLES for row in (await rows_of(admin, rid))[t]
                   for k, v in row.items() if k in ("ciphertext", "wrapped_key")]
    assert len(ciphertexts) == 3
    before = await pg_dump(fw_env)
    assert all(ct.hex() in before for ct in ciphertexts)  # the check below can see them
    for marker in MARKERS:
        assert marker not in before

    await withdraw(nc, rid)
    await eventually(lambda: _at_least(nc, 1))
    await admin.execute(f"VACUUM FULL {', '.join('retention.' + t for t in VAULT_TABLES)}")
    after = await pg_dump(fw_env)
    for ct in ciphertexts:
        assert ct.hex() not in after
    assert "Andere Firma" not in after  # the other request's data are encrypted too


async def pg_dump(fw_env: Any) -> str:
    """A plain-text dump of retention's schema, as a backup would hold it."""
    proc = await asyncio.create_subprocess_exec(
        str(pg_bin_dir() / "pg_dump"), "--schema=retention", "--no-owner",
        f"--dbname={database_dsn(fw_env.admin_dsn, fw_env.database)}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ})
    out, err = await proc.communicate()
    if proc.returncode != 0:
        pytest.fail(f"pg_dump failed: {err.decode()[-500:]}")
    return out.decode()
