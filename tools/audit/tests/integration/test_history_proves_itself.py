"""The history proves itself (issue 19): a live office prices with a tariff file the auditor never
sees; the checkpoint job seals the stream as it goes. ``fernwartung audit verify`` then passes
with only the audit NATS user, the read-only DSN (role fw_audit_ro) and the office's public key,
and fails on a copy of the history with an altered tariff event, an altered invoice total, or
one rewritten message (naming the sealed range it lies in)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fw_audit.model import AuditReport, Record
from fw_audit.runner import Conn, verify_stream
from fw_audit.scripted import Item, publish
from fw_audit.source import connect, read_direct, stream_state
from fw_audit.verifier import VerifyOptions
from fw_contracts import decode
from fw_contracts.events import AuditCheckpoint, InvoiceIssued, SessionStarted
from fw_contracts.reference import TariffPublished
from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_devenv.pytest_plugin import FwEnv, ServiceProcess
from fw_devenv.testing import eventually
from fw_platform.audit_chain import generate_key, load_key, public_hex
from fw_platform.bus import connect as fw_connect
from fw_platform.bus import ensure_stream
from fw_platform.checkpointer import JobSettings, Sealer, run

#: The office's own price list: a version the audit has no file of, with an evening surcharge.
TARIFF = """
version = "office-7"
base_fee = 12.50
interval_seconds = 600
rate_per_interval = 19.90
min_billed_seconds = 600
free_threshold_seconds = 2
vat_rate = 0.19
timezone = "Europe/Berlin"

[[surcharges]]
kind = "evening"
from = "00:00"
until = "24:00"
percent = 12.5
description = "Rund-um-die-Uhr-Zuschlag"
"""


async def invoiced_lifecycle(http: httpx.AsyncClient, procs: dict[str, ServiceProcess]) -> str:
    def url(svc: str, path: str) -> str:
        return procs[svc].url + path

    r = await http.post(url("intake", "/api/support-requests"), json={
        "company": "Prüfung Beispiel GmbH", "contact_name": "Erika Prüf", "phone": "+493012345678",
        "terms_accepted": True, "terms_version": "2026-01"})
    assert r.status_code == 201, r.text
    request_id: str = r.json()["request_id"]

    async def queued() -> bool:
        return any(x["request_id"] == request_id for x in (await http.get(url("session", "/api/queue"))).json())

    await eventually(queued, timeout=45, interval=0.2)
    r = await http.post(url("session", "/api/sessions"), json={"request_id": request_id, "technician": "tech-01"})
    assert r.status_code == 201, r.text
    await asyncio.sleep(2.1)  # above the tariff's 2 s free threshold: billed
    r = await http.post(url("session", f"/api/sessions/{r.json()['session_id']}/end"),
                        headers={"Fw-Technician": "tech-01"})
    assert r.status_code == 200, r.text

    async def erased() -> bool:
        r = await http.get(url("retention", f"/api/requests/{request_id}/status"))
        return r.status_code == 200 and r.json()["state"] == "erased"

    await eventually(erased, timeout=45, interval=0.2)
    return request_id


async def stored(env: FwEnv) -> list[Record]:
    nc = await connect(env.nats_url)
    try:
        state = await stream_state(nc.jetstream(), "FERNWARTUNG")
        return [r async for r in read_direct(nc, state, ["fw.>"])]
    finally:
        await nc.close()


async def cli_verify(env: FwEnv, public_key: Path) -> tuple[int, dict[str, Any]]:
    """What the auditor runs: the audit user, the read-only DSN, the public key. Nothing else."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fw_audit", "audit", "verify", "--json", "--public-key", str(public_key),
        env={"PATH": os.environ.get("PATH", ""), "NATS_URL": env.nats_plain_url, "NATS_USER": "audit",
             "NATS_PASSWORD": env.nats_credentials("audit")[1], "FW_AUDIT_DATABASE_URL": env.audit_dsn},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode in (0, 1, 3), err.decode()
    return proc.returncode, json.loads(out)


async def verify_copy(records: list[Record], tmp_path: Path, name: str, public: str,
                      change: Callable[[Record], bytes | None]) -> AuditReport:
    """The history replayed into a fresh stream (a copied store), with ``change`` applied."""
    server = NatsServer(tmp_path / name / "nats", free_port())
    await asyncio.to_thread(server.start)
    try:
        nc = await fw_connect(server.url, name="test-admin")
        await ensure_stream(nc.jetstream())
        items = [Item(r.subject, change(r) or r.body, r.time) for r in records]
        assert await publish(nc.jetstream(), items) == [r.seq for r in records]
        await nc.close()
        return await verify_stream(Conn(url=server.url), VerifyOptions(trusted_keys=frozenset({public})))
    finally:
        await asyncio.to_thread(server.stop)


def _edit(body: bytes, **changes: Any) -> bytes:
    data = json.loads(body)
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return json.dumps(data).encode()


async def test_the_history_proves_itself_with_only_the_stream_the_views_and_the_key(
        fw_env: FwEnv, procs: dict[str, ServiceProcess], http: httpx.AsyncClient, tmp_path: Path) -> None:
    key_file = tmp_path / "office" / "audit-checkpoint.key"
    key_file.parent.mkdir()
    public = generate_key(key_file)
    key: Ed25519PrivateKey = load_key(key_file)
    user, password = fw_env.nats_credentials("audit")
    # every 4 events, and a remainder of fewer after 2 s (the job's 10 min would outlast the test: how
    # many events a lifecycle adds is not this test's business)
    settings = JobSettings(nats_url=fw_env.nats_plain_url, user=user, password=password, every=4, poll=0.1,
                           interval=timedelta(seconds=2))
    sealer, stop = Sealer(key, every=4, interval=settings.interval), asyncio.Event()
    job = asyncio.create_task(run(settings, key, stop, sealer=sealer))
    try:
        await invoiced_lifecycle(http, procs)

        async def sealed_and_quiet() -> bool:
            records = await stored(fw_env)
            last = records[-1]
            return (not job.done() and sealer.pending == 0 and last.subject == AuditCheckpoint.subject()
                    and sealer.chain.seq == last.seq)

        await eventually(sealed_and_quiet, timeout=45, interval=0.2)
    finally:
        stop.set()
        await asyncio.wait_for(job, 10)
    records = await stored(fw_env)
    assert public_hex(key) == public

    # the tariff is in the stream, the auditor never saw the file; the invoice names its hash
    events = {r.seq: decode(r.body, r.subject) for r in records}
    (tariff,) = [e for e in events.values() if isinstance(e, TariffPublished) and e.tariff_version == "office-7"]
    (invoice_seq, invoice), = [(s, e) for s, e in events.items() if isinstance(e, InvoiceIssued)]
    assert invoice.tariff_version == "office-7" and invoice.tariff_sha256 == tariff.tariff_sha256
    assert len(invoice.lines) == 3  # base fee, time, the surcharge: re-priced line by line

    async def passes() -> tuple[int, dict[str, Any]] | None:
        code, report = await cli_verify(fw_env, key_file.with_name(key_file.name + ".pub"))
        return (code, report) if code == 0 else None

    _, report = await eventually(passes, timeout=30, interval=0.2)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True and report["skipped"] == []
    totals = " ".join(checks["invoice_totals"]["notes"])
    assert "1 invoices re-priced with the reference pricing" in totals and "--tariff-dir" not in totals
    integrity = " ".join(checks["integrity"]["notes"])
    assert "last good covers seq" in integrity and "not pinned" not in integrity
    assert "projections" in checks and checks["projections"]["status"] == "pass"

    # --- an altered tariff event (cheaper rate, its hash left as it was)
    tariff_seq = next(s for s, e in events.items() if e is tariff)
    altered = await verify_copy(records, tmp_path, "tariff", public, lambda r: _edit(
        r.body, tariff__rate_per_interval="9.90") if r.seq == tariff_seq else None)
    assert {"invoice_totals", "integrity"} <= set(altered.failed_checks)
    assert any(f.seq == tariff_seq and "altered tariff event" in f.reason
               for f in altered.check("invoice_totals").failures)

    # --- an altered invoice total
    altered = await verify_copy(records, tmp_path, "total", public, lambda r: _edit(
        r.body, gross_total=str(invoice.gross_total + 1)) if r.seq == invoice_seq else None)
    assert {"invoice_totals", "integrity"} <= set(altered.failed_checks)
    assert [f.seq for f in altered.check("invoice_totals").failures] == [invoice_seq]

    # --- one rewritten message: the signed checkpoints name the sealed range it lies in
    started_seq = next(s for s, e in events.items() if isinstance(e, SessionStarted))
    altered = await verify_copy(records, tmp_path, "rewritten", public, lambda r: _edit(
        r.body, technician="tech-99") if r.seq == started_seq else None)
    assert altered.failed_checks == ["integrity"]
    # the chain is cumulative: every checkpoint sealed after the rewrite disagrees; the first one
    # names the narrowest range, at most one sealing interval wide, and every range holds the message
    failures = altered.check("integrity").failures
    ranges = [tuple(int(x) for x in f.reason.split("a message in seqs ")[1].split(" ")[0].split(".."))
              for f in failures]
    assert ranges and all(lo <= started_seq <= hi for lo, hi in ranges), ranges
    lo, hi = ranges[0]
    assert hi - lo < 4 + 2 and failures[0].seq == min(f.seq for f in failures), failures[0].reason


async def test_the_read_only_login_reads_the_audit_views_and_no_table(
        fw_env: FwEnv, procs: dict[str, ServiceProcess]) -> None:
    import asyncpg

    conn = await asyncpg.connect(fw_env.audit_dsn)
    try:
        for view in ("intake.audit_support_requests", "session.audit_sessions", "billing.audit_invoices",
                     "billing.audit_session_billing", "billing.audit_archive_keys", "retention.audit_erasures"):
            await conn.fetch(f"SELECT * FROM {view}")
        for table in ("intake.support_requests", "billing.invoices", "billing.customer_accounts",
                      "billing.data_keys", "retention.vault_entries"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {table}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM billing.audit_invoices")
    finally:
        await conn.close()
