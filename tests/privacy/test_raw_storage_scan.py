"""The raw-storage scan: after every path to erasure, no trace of the callers anywhere on disk.

Several lifecycles run through the four real services (processes, real NATS + PostgreSQL), each
with its own marker strings for company, contact, phone, e-mail, address and statement:

* ``small``     – Kleinbetragsrechnung (no recipient data), e-mail given;
* ``full``      – > 250 EUR gross with the address given at intake: a full §14 invoice;
* ``promoted``  – the caller becomes a regular customer (account kept, encrypted);
* ``withdrawn`` – withdrawn by the caller at intake;
* ``blocked``   – > 250 EUR without address: billing blocks, the technician enters the address
  (vault.v1.address), billing issues the full invoice and retention erases after it;
* ``abandoned`` – never taken from the queue: erased by the deadline sweep.

Then ``VACUUM FULL`` and ``CHECKPOINT``, and the scan: a ``pg_dump`` of the whole database, every
file of the JetStream store, every service log and nats-server's log, and the raw PostgreSQL
files of this database plus the WAL written during the test. No marker may appear in any
encoding (plain, lower/upper case, JSON, URL, hex, base64, UTF-16; the phone as typed, E.164,
national, without plus). Billing keeps the full invoice's recipient, the invoice archive, the
customer account and the e-mail of a pending delivery only *encrypted* (billing 002), so those
markers must not appear in clear either: the allowance below is empty.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from privacy_kit import (
    ACTING,
    LONG_SESSION_S,
    Markers,
    MarkerSearch,
    Office,
    admin_db_dsn,
    create_request,
    end_session,
    files_under,
    invoice_of,
    pg_dump,
    start_session,
    status_of,
    wait_erased,
)

from fw_devenv.postgres import PostgresServer
from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.testing import eventually

pytestmark = pytest.mark.e2e

#: Markers allowed in clear, as ``label.field``. Empty: billing encrypts what it keeps. Were
#: billing to store a recipient or account in clear again, this scan fails on it.
PLAINTEXT_ALLOWED: frozenset[str] = frozenset()


async def run_lifecycles(office: Office) -> tuple[dict[str, Markers], dict[str, str]]:
    """Run every scenario; returns the markers and the request id per scenario."""
    m = {label: Markers(label) for label in ("small", "full", "promoted", "withdrawn", "blocked", "abandoned")}
    rid: dict[str, str] = {}
    http = office.http

    rid["small"] = await create_request(office, m["small"])
    sid = await start_session(office, rid["small"])
    await end_session(office, sid)
    assert (await invoice_of(office, sid))["kind"] == "small"

    rid["full"] = await create_request(office, m["full"], address=True)
    sid = await start_session(office, rid["full"])
    await end_session(office, sid, after_s=LONG_SESSION_S)
    assert (await invoice_of(office, sid))["kind"] == "full"

    rid["promoted"] = await create_request(office, m["promoted"], address=True)
    sid = await start_session(office, rid["promoted"])
    r = await http.post(office.url("session", f"/api/sessions/{sid}/promotion"),
                        json={"statement": m["promoted"].statement}, headers=ACTING)
    assert r.status_code == 201, r.text
    await end_session(office, sid)
    invoice = await invoice_of(office, sid)
    assert invoice.get("customer_number")

    rid["withdrawn"] = await create_request(office, m["withdrawn"])
    r = await http.post(office.url("intake", f"/api/support-requests/{rid['withdrawn']}/withdraw"))
    assert r.status_code == 200, r.text

    # billing blocked: the technician is asked for the address and enters it
    rid["blocked"] = await create_request(office, m["blocked"], email=False)
    blocked_sid = await start_session(office, rid["blocked"])
    await end_session(office, blocked_sid, after_s=LONG_SESSION_S)

    async def is_blocked() -> dict | None:
        s = (await http.get(office.url("session", f"/api/sessions/{blocked_sid}"), headers=ACTING)).json()
        return s if s["billing_blocked"] else None

    state = await eventually(is_blocked, timeout=30, what="billing blocked shown on the session")
    assert state["missing"] == ["billing_address"]
    r = await http.post(office.url("session", f"/api/sessions/{blocked_sid}/billing-address"),
                        json=m["blocked"].address(), headers=ACTING)
    assert r.status_code == 200 and r.json()["billing_blocked"] is False, r.text
    # The Art. 15 export shows the address now in the vault (and records the export) -- unless
    # billing was quicker: it re-bills on BillingAddressProvided and retention erases after the
    # invoice, so the request may already be erased, for that reason and no other.
    export = (await http.get(office.url("retention", f"/api/requests/{rid['blocked']}/export"))).json()
    if export["state"] == "stored":
        assert export["personal_data"]["address"]["street"] == m["blocked"].street, export
    else:
        assert export["state"] == "erased" and export["erasure"]["reason"] == "invoice_issued", export
    # either way the address reached billing: the blocked session is billed with a full invoice
    assert (await invoice_of(office, blocked_sid))["kind"] == "full"

    rid["abandoned"] = await create_request(office, m["abandoned"])
    return m, rid


@pytest.mark.long(35)
async def test_no_marker_survives_any_erasure_path(office: Office, fw_env: FwEnv, pg_server: PostgresServer) -> None:
    started = time.time()
    m, rid = await run_lifecycles(office)
    for label in ("small", "full", "promoted", "withdrawn", "blocked"):
        await wait_erased(office, rid[label])
    assert (await status_of(office, rid["abandoned"]))["state"] == "stored"

    # The deadline sweep: retention again, with a deadline of one second and a fast sweep.
    office.restart("retention", FW_RETENTION_ABANDON_AFTER_S="1", FW_RETENTION_SWEEP_INTERVAL_S="0.5")
    reasons = {label: (await wait_erased(office, rid[label]))["reason"] for label in rid}
    assert reasons == {"small": "invoice_issued", "full": "invoice_issued", "promoted": "invoice_issued",
                       "withdrawn": "withdrawn", "abandoned": "abandoned", "blocked": "invoice_issued"}
    after = (await office.http.get(office.url("retention", f"/api/requests/{rid['small']}/export"))).json()
    assert after["state"] == "erased" and after["personal_data"] is None and after["erasure"]["erased_at"]

    for svc in list(office.procs):
        office.stop(svc)  # flush and close every log
    admin = await asyncpg.connect(admin_db_dsn(fw_env))
    try:
        await admin.execute("VACUUM FULL")
        await admin.execute("CHECKPOINT")
        oid = await admin.fetchval("SELECT oid FROM pg_database WHERE datname = current_database()")
        # what billing keeps exists (encrypted): the scan below must not find it in clear
        kept = {t: await admin.fetchval(f"SELECT count(*) FROM billing.{t}")
                for t in ("invoice_recipients", "customer_accounts", "invoice_archive")}
        assert kept["invoice_recipients"] >= 1 and kept["customer_accounts"] == 1 and kept["invoice_archive"] >= 3, kept
        assert await admin.fetchval("SELECT count(*) FROM retention.vault_entries") == 0
    finally:
        await admin.close()

    search = MarkerSearch(m.values())
    hits: dict[str, list[str]] = {}

    def scan(name: str, blob: bytes) -> None:
        found = [h for h in search.find(blob) if h.split("(")[0] not in PLAINTEXT_ALLOWED]
        if found:
            hits[name] = found

    dump = await asyncio.to_thread(pg_dump, fw_env)
    assert b"CREATE TABLE retention.vault_entries" in dump and b"COPY billing.invoices" in dump
    scan("pg_dump", dump)
    store = files_under(fw_env.nats.store_dir)
    assert store, "the JetStream store directory is empty"
    stream_bytes = b"".join(p.read_bytes() for p in store)
    assert b"fw.billing.invoice_issued.v3" in stream_bytes  # the scan does see message data
    for path in store:
        scan(f"jetstream:{path.relative_to(fw_env.nats.store_dir)}", path.read_bytes())
    for path in office.log_files():
        assert path.stat().st_size > 0, path
        scan(f"log:{path.name}", path.read_bytes())
    scan("postgres.log", pg_server.log_file.read_bytes())
    raw = [*files_under(pg_server.data_dir / "base" / str(oid)),
           *(p for p in files_under(pg_server.data_dir / "pg_wal") if p.stat().st_mtime >= started - 1)]
    assert any("base" in str(p) for p in raw) and any("pg_wal" in str(p) for p in raw), "raw PostgreSQL files not found"
    for path in raw:
        scan(f"pgdata:{path.relative_to(pg_server.data_dir)}", path.read_bytes())

    assert not hits, "personal data found in raw storage:\n" + "\n".join(
        f"  {where}: {', '.join(sorted(set(h)))}" for where, h in sorted(hits.items()))
