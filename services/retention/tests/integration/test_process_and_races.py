"""The service as a real process (``python -m fw_retention``), and puts racing erasures."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client

from fw_contracts import Header
from fw_contracts.events import ErasureReason, PersonalDataErased, SupportRequestWithdrawn
from fw_contracts.vault import VaultError
from fw_devenv.pytest_plugin import ServiceProcess
from fw_devenv.testing import eventually
from fw_devenv.vault_callers import VaultCallers
from fw_platform.vault_client import VaultRefused
from fw_retention.adapters.store import PgVaultStore
from fw_retention.application.erasure import erase
from fw_retention.application.service import RetentionService

from retention_testkit import MARKERS, personal_data, read_subject, statement


async def test_puts_racing_erasures_leave_nothing(service: RetentionService, nc: Client,
                                                  admin: asyncpg.Connection) -> None:
    vault = VaultCallers(nc)
    ids = [uuid.uuid4() for _ in range(30)]

    async def put(rid: uuid.UUID) -> str:
        try:
            await vault.put(rid, personal_data())
            return "stored"
        except VaultRefused as exc:
            assert exc.error is VaultError.ERASED  # noqa: PT017 - a race: either outcome is valid
            return "refused"

    async def withdraw(rid: uuid.UUID) -> None:
        event = SupportRequestWithdrawn(request_id=rid)
        await nc.jetstream().publish(event.subject(), event.to_json(), headers={Header.MSG_ID: str(event.event_id)})

    await asyncio.gather(*(f(rid) for rid in ids for f in (put, withdraw)))

    async def all_erased() -> bool:
        return len(await read_subject(nc.jetstream(), PersonalDataErased.subject())) >= len(ids)

    await eventually(all_erased)
    # Late retries of the put are refused, and nothing of any request is left in the vault.
    assert {await put(rid) for rid in ids} == {"refused"}
    for table in ("vault_keys", "vault_entries", "vault_statements"):
        assert await admin.fetchval(f"SELECT count(*) FROM retention.{table}") == 0


async def test_put_waits_for_a_running_erasure(service: RetentionService, nc: Client,
                                              admin: asyncpg.Connection) -> None:
    """Deterministic version of the race: a put cannot slip between an erasure's check and commit."""
    rid = uuid.uuid4()
    async with service.unit_of_work() as uow:
        store = PgVaultStore(uow.conn)
        await store.lock(rid)  # an erasure has begun
        put = asyncio.create_task(VaultCallers(nc, timeout=10).put(rid, personal_data()))
        await asyncio.sleep(0.5)
        assert not put.done()  # the put waits for the erasure's transaction
        await erase(store, uow, rid, ErasureReason.WITHDRAWN, now=service.clock())
    with pytest.raises(VaultRefused) as refused:
        await put
    assert refused.value.error is VaultError.ERASED
    assert await admin.fetchval("SELECT count(*) FROM retention.vault_entries WHERE request_id = $1", rid) == 0


async def test_runs_as_a_process_and_logs_no_personal_data(fw_env: Any, nc: Client) -> None:
    proc = ServiceProcess("retention", fw_env)
    await asyncio.to_thread(proc.start)
    try:
        with urllib.request.urlopen(f"{proc.url}/readyz", timeout=5) as resp:
            assert json.load(resp)["ready"] is True
        vault = VaultCallers(nc)
        rid = uuid.uuid4()
        await vault.put(rid, personal_data())
        await vault.add_statement(rid, statement())
        assert (await vault.get(rid, "billing")).statement == statement()
        await nc.request("vault.v1.put.intake", json.dumps({"data": MARKERS[0]}).encode(), timeout=3)  # invalid
    finally:
        await asyncio.to_thread(proc.stop)
    log = proc.log_path.read_text(encoding="utf-8")
    assert '"service": "retention"' in log and "vault listening" in log
    for marker in MARKERS:
        assert marker not in log
