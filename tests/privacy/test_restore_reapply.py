"""Restore safety: a backup taken before an erasure never brings the erased data back.

A lifecycle runs through the real services; a ``pg_dump`` of the retention schema is taken while
the request is still stored; the invoice is issued and the request erased; then the backup is
restored (drop schema, ``psql``) exactly as an operator would. The restored database holds the
erased request's vault rows again and has lost its marker. The erasure log is re-applied from
the stream, and the vault has nothing for the request any more. See docs/privacy/restore.md.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from privacy_kit import (
    Markers,
    Office,
    admin_db_dsn,
    create_request,
    end_session,
    find,
    invoice_of,
    pg_dump,
    psql,
    start_session,
    status_of,
    wait_erased,
)

from fw_devenv.pytest_plugin import FwEnv
from fw_platform.bus import connect

pytestmark = pytest.mark.e2e


async def vault_rows(env: FwEnv, request_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(admin_db_dsn(env))
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM retention.{t} WHERE request_id = $1",
                                       uuid.UUID(request_id))
                for t in ("vault_keys", "vault_entries", "erasures")}
    finally:
        await conn.close()


async def vault_get(env: FwEnv, request_id: str) -> dict:
    """Read the vault as billing would (admin connection; the reply is the contract's)."""
    nc = await connect(env.nats_url, name="restore-probe")
    try:
        msg = await nc.request("vault.v1.get.billing", json.dumps({"request_id": request_id, "purpose": "billing"}).encode(),
                               timeout=5)
        return json.loads(msg.data)
    finally:
        await nc.close()


def sealed_rows(dump: bytes, request_id: str) -> list[bytes]:
    """The bytea values (hex) of the request's rows in vault_entries and vault_keys of a dump."""
    out, table = [], b""
    for line in dump.splitlines():
        if line.startswith(b"COPY "):
            table = line.split()[1]
        elif table in (b"retention.vault_entries", b"retention.vault_keys") and line.startswith(request_id.encode()):
            out += [v for v in line.split(b"\t") if v.startswith(b"\\\\x") and len(v) > 40]
    return out


def restore(env: FwEnv, dump: bytes) -> None:
    """What an operator does with a plain-SQL backup of the schema."""
    psql(env, b"DROP SCHEMA retention CASCADE;")
    psql(env, dump)


async def test_restore_then_reapply_leaves_nothing_of_the_erased_request(office: Office, fw_env: FwEnv) -> None:
    erased_m, kept_m = Markers("erased"), Markers("kept")
    # without an e-mail for the invoice: erased at once (a kept delivery e-mail and its restore:
    # services/retention/tests/unit/test_delivery_erasure.py)
    rid = await create_request(office, erased_m, address=True, email=False)
    kept = await create_request(office, kept_m)
    sid = await start_session(office, rid)

    backup = pg_dump(fw_env, "--schema=retention")  # taken while the request is still stored
    ciphertexts = sealed_rows(backup, rid)
    assert len(ciphertexts) == 2  # the entry and the wrapped data key

    await end_session(office, sid)
    await invoice_of(office, sid)
    await wait_erased(office, rid)
    assert await vault_rows(fw_env, rid) == {"vault_keys": 0, "vault_entries": 0, "erasures": 1}

    # 1. Restore with the automatic re-application switched off, to show what it guards against.
    office.stop("retention")
    restore(fw_env, backup)
    assert await vault_rows(fw_env, rid) == {"vault_keys": 1, "vault_entries": 1, "erasures": 0}
    office.restart("retention", FW_RETENTION_REAPPLY_ON_START="false")
    leaked = await vault_get(fw_env, rid)
    assert leaked["ok"] is True and leaked["entry"]["data"]["company"] == erased_m.company  # the danger

    r = await office.http.post(office.url("retention", "/api/erasure-log/reapply"))
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 1, "markers_restored": 1, "holds_restored": 0}
    assert await vault_rows(fw_env, rid) == {"vault_keys": 0, "vault_entries": 0, "erasures": 1}
    refused = await vault_get(fw_env, rid)
    assert refused["ok"] is False and refused["error"] == "erased"
    status = await status_of(office, rid)
    assert status["state"] == "erased" and status["reason"] == "invoice_issued"
    export = (await office.http.get(office.url("retention", f"/api/requests/{rid}/export"))).text
    assert not find(export.encode(), [erased_m])
    # the request that was stored in the backup and never erased is still there
    assert (await vault_get(fw_env, kept))["entry"]["data"]["company"] == kept_m.company

    # 2. The default: retention re-applies the log before its vault answers the first request.
    office.stop("retention")
    restore(fw_env, backup)
    assert (await vault_rows(fw_env, rid))["vault_entries"] == 1
    office.restart("retention")
    assert await vault_rows(fw_env, rid) == {"vault_keys": 0, "vault_entries": 0, "erasures": 1}
    assert (await vault_get(fw_env, rid))["error"] == "erased"
    assert (await status_of(office, kept))["state"] == "stored"
    # and a dump taken now holds nothing of the erased request, not even its ciphertext
    now = pg_dump(fw_env, "--schema=retention")
    assert not find(now, [erased_m]) and not any(ct in now for ct in ciphertexts)
