"""The bundle's invoice documents from billing's real archive (real services, NATS, PostgreSQL).

The four services issue real invoices: a Kleinbetragsrechnung, a B2B full invoice (with its
EN 16931 XML), a consumer's full invoice (no XML) and the Storno of the B2B invoice (a credit
note XML). ``fernwartung audit export`` with a read-only role and the archive key puts billing's
XMLs into the bundle, byte for byte as billing serves them; ``verify --bundle`` passes every
check. Then each defect on its own (missing XML, a changed total, a tampered file) fails exactly
``invoice_documents`` and names the invoice number; a wrong archive key is refused with a clear
message and writes nothing; without archive access the check is SKIPPED (exit 3).

A second test writes an archive year of 2017 through billing's own repository, destroys it
through billing's own destruction (the database agrees: its retention period is over) and
checks that the export reports the year as destroyed and verify does not count it as a failure.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from fw_audit.archive import ArchiveSource
from fw_audit.chain import generate_key
from fw_audit.model import AuditReport, Status
from fw_audit.runner import Conn, export_stream, verify_bundle
from fw_audit.scripted import publish
from fw_audit.source import connect
from fw_audit.tariff_files import read_tariff_dir
from fw_audit.verifier import VerifyOptions
from fw_contracts import events as ev
from fw_devenv.pytest_plugin import TEST_ARCHIVE_KEY, FwEnv, ServiceProcess
from fw_devenv.testing import eventually

#: Bills every session: one started 4-second interval is 10 + 150 = 160 EUR net = 190.40 gross
#: (a Kleinbetragsrechnung); two intervals are 368.90 gross (a full invoice).
TARIFF = """
version = "docs-1"
base_fee = 10.00
interval_seconds = 4
rate_per_interval = 150.00
min_billed_seconds = 1
free_threshold_seconds = 0
vat_rate = 0.19
timezone = "Europe/Berlin"
"""
LONG_SESSION_S = 5.5
#: Personal data of the requests: never in an error message or a finding.
COMPANY, CONTACT, STREET = "Zylinderkopf Audit GmbH", "Jürgen Prüfmann", "Ölweg 12"
CONSUMER = "Erika Verbraucherin"


def db_dsn(env: FwEnv) -> str:
    """The admin DSN pointed at this test's database (projections need every schema)."""
    parts = urlsplit(env.admin_dsn)
    return urlunsplit(parts._replace(path="/" + env.database))


async def read_only_role(env: FwEnv) -> str:
    """The auditor's provisioned read-only login (fw_audit_ro): billing's audit_* views only."""
    return env.audit_dsn


async def invoice(http: httpx.AsyncClient, procs: dict[str, ServiceProcess], body: dict[str, Any],
                  seconds: float) -> dict[str, Any]:
    """Request -> session of ``seconds`` -> the invoice billing issued (as its API shows it)."""
    def url(svc: str, path: str) -> str:
        return procs[svc].url + path

    r = await http.post(url("intake", "/api/support-requests"), json={
        "phone": "030 1234 5678", "terms_accepted": True, "terms_version": "2026-01", **body})
    assert r.status_code == 201, r.text
    request_id = r.json()["request_id"]

    async def queued() -> bool:
        q = await http.get(url("session", "/api/queue"))
        return any(x["request_id"] == request_id for x in q.json())

    await eventually(queued, timeout=30, interval=0.2)
    r = await http.post(url("session", "/api/sessions"), json={"request_id": request_id, "technician": "tech-01"})
    assert r.status_code == 201, r.text
    session_id = r.json()["session_id"]
    await asyncio.sleep(seconds)
    r = await http.post(url("session", f"/api/sessions/{session_id}/end"), headers={"Fw-Technician": "tech-01"})
    assert r.status_code == 200, r.text

    async def issued() -> dict[str, Any] | None:
        r = await http.get(url("billing", "/api/invoices"), params={"session_id": session_id})
        items = r.json() if r.status_code == 200 else []
        items = items if isinstance(items, list) else items.get("items", [])
        return items[0] if items else None

    found: dict[str, Any] = await eventually(issued, timeout=30, interval=0.2)
    return found


def audit_conn(env: FwEnv) -> Conn:
    """The stream as an auditor reads it: with the read-only ``audit`` NATS user."""
    user, password = env.nats_credentials("audit")
    return Conn(url=env.nats_plain_url, user=user, password=password)


async def cli(*args: str, env: FwEnv, extra_env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``fernwartung audit ...`` with the read-only ``audit`` NATS user."""
    user, password = env.nats_credentials("audit")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fw_audit", "audit", *args,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FW_AUDIT_")}, "NATS_URL": env.nats_plain_url,
             "NATS_USER": user, "NATS_PASSWORD": password, "COLUMNS": "200", **(extra_env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def options(env: FwEnv, *trusted: str) -> VerifyOptions:
    """Projections with the database, re-pricing with this test's tariff; ``trusted``: public keys
    (hex) for the manifest's signature (none: bundle_signature is SKIPPED)."""
    return VerifyOptions(database_url=db_dsn(env), tariff_files=read_tariff_dir(env.work_dir / "tariffs"),
                         trusted_keys=frozenset(trusted))


def not_passed(report: AuditReport) -> list[dict[str, Any]]:
    return [c.to_dict() for c in report.checks if c.status is not Status.PASS]


def rehash(bundle: Path, name: str) -> None:
    """Make the manifest agree with an edited file (only the content check can then see it)."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def fails_exactly_documents(report: AuditReport, number: str) -> list[str]:
    assert report.failed_checks == ["invoice_documents"], not_passed(report)
    assert report.exit_code == 1
    failures = report.check("invoice_documents").failures
    assert failures and all(f.ids.get("number") == number and f.seq for f in failures), \
        [f.to_dict() for f in failures]
    text = json.dumps(report.to_dict(), ensure_ascii=False)
    assert COMPANY not in text and CONTACT not in text and STREET not in text
    return [f.reason for f in failures]


@pytest.mark.long(25)
async def test_export_carries_billings_xmls_and_verify_checks_them(fw_env: FwEnv, procs, http, tmp_path: Path) -> None:
    address = {"street": STREET, "postal_code": "10115", "city": "Berlin", "country": "DE"}
    small = await invoice(http, procs, {"company": "Klein GmbH", "contact_name": "Karl Klein"}, 0)
    full = await invoice(http, procs, {"company": COMPANY, "contact_name": CONTACT, "address": address},
                         LONG_SESSION_S)
    consumer = await invoice(http, procs, {"company": "-", "contact_name": CONSUMER, "address": address,
                                           "customer_type": "consumer", "withdrawal_waiver": True}, LONG_SESSION_S)
    assert small["kind"] == "small" and full["kind"] == "full" and consumer["kind"] == "full"
    assert full["e_invoice"] is True and consumer["e_invoice"] is False and small["e_invoice"] is False
    r = await http.post(procs["billing"].url + f"/api/invoices/{full['number']}/cancel",
                        json={"reason_code": "goodwill"})
    assert r.status_code == 201, r.text
    storno = r.json()["cancellation_number"]
    numbers = {small["number"], full["number"], consumer["number"], storno}

    key_file = tmp_path / "billing-archive.key"
    key_file.write_text(TEST_ARCHIVE_KEY + "\n")  # the format of var/billing-archive.key
    ro_dsn = await read_only_role(fw_env)

    # --- without archive access: exported, but the manifest says so and the check is SKIPPED
    plain = tmp_path / "plain"
    code, out, err = await cli("export", str(plain), env=fw_env)
    assert code == 0, err
    assert "invoice documents NOT included" in out
    section = json.loads((plain / "manifest.json").read_text())["invoice_documents"]
    assert section["included"] is False and "--archive-key" in section["reason"]
    assert not (plain / "invoices").exists()

    async def settled() -> AuditReport | None:
        report = verify_bundle(plain, options(fw_env))
        return report if report.check("projections").status is Status.PASS else None

    report = await eventually(settled, timeout=30, interval=0.2)  # the services project eventually
    # exported without --signing-key too: the manifest's signature is SKIPPED as well
    assert report.skipped_checks == ["invoice_documents", "bundle_signature"] and not report.failed_checks, \
        not_passed(report)
    assert report.exit_code == 3
    code, out, _ = await cli("verify", "--bundle", str(plain), "--json", "--database-url", db_dsn(fw_env),
                             "--tariff-dir", str(fw_env.work_dir / "tariffs"), env=fw_env)
    assert code == 3 and json.loads(out)["skipped"] == ["invoice_documents", "bundle_signature"], out

    # the audit's Ed25519 key (the checkpoint key format) signs the manifests below
    signing_key = tmp_path / "audit.key"
    public = generate_key(signing_key)

    # --- with a read-only role and the archive key: billing's XMLs, exactly as billing serves them
    bundle = tmp_path / "bundle"
    code, out, err = await cli("export", str(bundle), "--database-url", ro_dsn, "--archive-key", str(key_file),
                               "--signing-key", str(signing_key), env=fw_env)
    assert code == 0, err
    assert "invoice documents: 2 XMLs, 0 PDFs" in out and "manifest signed" in out
    manifest = json.loads((bundle / "manifest.json").read_text())
    section = manifest["invoice_documents"]
    assert section["included"] is True and section["destroyed_years"] == {} and section["left_out"] == 0
    assert set(section["documents"]) == numbers
    year = int(full["number"].split("-")[1])  # FW-<year>-<seq>, the year of the archive key
    assert section["documents"][full["number"]] == {
        "type": "invoice", "year": year, "e_invoice": True, "xml": f"invoices/{full['number']}.xml"}
    assert section["documents"][storno]["xml"] == f"invoices/{storno}.xml"
    for number in (small["number"], consumer["number"]):
        assert "xml" not in section["documents"][number] and section["documents"][number]["e_invoice"] is False
    assert sorted(p.name for p in (bundle / "invoices").iterdir()) == sorted(
        [f"{full['number']}.xml", f"{storno}.xml"])
    for number in (full["number"], storno):
        name = f"invoices/{number}.xml"
        served = await http.get(procs["billing"].url + f"/api/invoices/{number}.xml")
        assert served.status_code == 200 and (bundle / name).read_bytes() == served.content
        assert manifest["files"][name] == hashlib.sha256(served.content).hexdigest()
    assert "personal data" in (bundle / "README.txt").read_text()

    # with database access, archive access and a signed manifest every check passes: exit 0
    report = verify_bundle(bundle, options(fw_env, public))
    assert report.ok and report.exit_code == 0, not_passed(report)
    docs = report.check("invoice_documents")
    assert docs.checked == 4 and "2 XMLs equal their events" in docs.notes[0], docs.to_dict()
    code, out, _ = await cli("verify", "--bundle", str(bundle), "--json", "--database-url", db_dsn(fw_env),
                             "--tariff-dir", str(fw_env.work_dir / "tariffs"),
                             "--public-key", f"{signing_key}.pub", env=fw_env)
    assert code == 0 and json.loads(out)["ok"] is True, out

    # --- with PDFs: every archived document, as billing serves it
    with_pdfs = tmp_path / "with-pdfs"
    code, out, err = await cli("export", str(with_pdfs), "--database-url", ro_dsn, "--with-pdfs",
                               "--signing-key", str(signing_key), env=fw_env,
                               extra_env={"FW_AUDIT_ARCHIVE_KEY": TEST_ARCHIVE_KEY})
    assert code == 0 and "invoice documents: 2 XMLs, 4 PDFs" in out, (out, err)
    for number in numbers:
        served = await http.get(procs["billing"].url + f"/api/invoices/{number}.pdf")
        assert (with_pdfs / "invoices" / f"{number}.pdf").read_bytes() == served.content
    assert verify_bundle(with_pdfs, options(fw_env, public)).ok

    # --- each defect on its own fails exactly invoice_documents and names the invoice number
    missing = tmp_path / "missing"
    shutil.copytree(bundle, missing)
    (missing / "invoices" / f"{full['number']}.xml").unlink()
    reasons = fails_exactly_documents(verify_bundle(missing, options(fw_env)), full["number"])
    assert any("missing" in r for r in reasons)
    code, out, _ = await cli("verify", "--bundle", str(missing), "--json", "--database-url", db_dsn(fw_env),
                             "--tariff-dir", str(fw_env.work_dir / "tariffs"),
                             env=fw_env)
    assert code == 1 and json.loads(out)["failed"] == ["invoice_documents"]

    changed = tmp_path / "changed-total"
    shutil.copytree(bundle, changed)
    name = f"invoices/{full['number']}.xml"
    xml = (changed / name).read_bytes()
    gross = Decimal(full["gross_total"])
    tag = f"<ram:GrandTotalAmount>{gross:.2f}</ram:GrandTotalAmount>".encode()
    assert xml.count(tag) == 1
    (changed / name).write_bytes(xml.replace(tag, f"<ram:GrandTotalAmount>{gross - 100:.2f}"
                                                  f"</ram:GrandTotalAmount>".encode()))
    rehash(changed, name)
    (reason,) = fails_exactly_documents(verify_bundle(changed, options(fw_env)), full["number"])
    assert f"gross {gross - 100:.2f} != {gross:.2f}" in reason
    # with the key, the rewritten manifest is caught by its signature as well
    report = verify_bundle(changed, options(fw_env, public))
    assert report.failed_checks == ["invoice_documents", "bundle_signature"], not_passed(report)

    # the limitation the signature closes: an e-invoice's XML dropped with its entry and flag
    dropped = tmp_path / "dropped"
    shutil.copytree(bundle, dropped)
    name = f"invoices/{full['number']}.xml"
    (dropped / name).unlink()
    manifest = json.loads((dropped / "manifest.json").read_text())
    del manifest["files"][name]
    entry = manifest["invoice_documents"]["documents"][full["number"]]
    entry["e_invoice"] = False
    del entry["xml"]
    (dropped / "manifest.json").write_text(json.dumps(manifest))
    report = verify_bundle(dropped, options(fw_env, public))
    assert report.failed_checks == ["bundle_signature"] and report.exit_code == 1, not_passed(report)

    tampered = tmp_path / "tampered"
    shutil.copytree(bundle, tampered)
    name = f"invoices/{storno}.xml"
    xml = (tampered / name).read_bytes()
    assert COMPANY.encode() in xml  # the credit note names the recipient
    (tampered / name).write_bytes(xml.replace(COMPANY.encode(), b"Andere Firma GmbH"))
    (reason,) = fails_exactly_documents(verify_bundle(tampered, options(fw_env)), storno)
    assert "does not match its SHA-256" in reason

    # --- a wrong archive key: refused before anything is written, clearly, without personal data
    wrong = tmp_path / "wrong.key"
    wrong.write_text(base64.b64encode(b"w" * 32).decode())
    code, out, err = await cli("export", str(tmp_path / "never"), "--database-url", ro_dsn, "--archive-key", str(wrong),
                               env=fw_env)
    assert code == 2, (out, err)
    message = " ".join(err.split())
    assert f"the archive key does not fit: the data key of year(s) {year} cannot be unwrapped" \
        in message and "FW_BILLING_ARCHIVE_KEY" in message and "Nothing was exported" in message
    for secret in (COMPANY, CONTACT, STREET, CONSUMER, base64.b64encode(b"w" * 32).decode(), TEST_ARCHIVE_KEY):
        assert secret not in out + err
    assert not (tmp_path / "never").exists()
    garbage = tmp_path / "garbage.key"
    garbage.write_text("geheim-und-falsch")
    code, out, err = await cli("export", str(tmp_path / "never"), "--database-url", ro_dsn, "--archive-key",
                               str(garbage), env=fw_env)
    assert code == 2 and "not an archive key in billing's format" in " ".join(err.split())
    assert "geheim" not in out + err and not (tmp_path / "never").exists()
    code, _, err = await cli("export", str(tmp_path / "never"), "--database-url", ro_dsn, env=fw_env)
    assert code == 2 and "--archive-key" in err and not (tmp_path / "never").exists()


async def test_a_destroyed_archive_year_is_reported_not_failed(fw_env: FwEnv, tmp_path: Path) -> None:
    """An invoice of 2017 whose archive billing destroyed after the 8 years, and one of this year."""
    from fw_billing.adapters.deliveries import SqlArchiveStore
    from fw_billing.adapters.keys import KeyRing
    from fw_billing.adapters.rendering import PdfRenderer
    from fw_billing.adapters.repository import SqlBillingRepository
    from fw_billing.application.ports import NewInvoice, SessionRecord
    from fw_billing.bootstrap import MIGRATIONS
    from fw_billing.domain.documents import Party, invoice_document
    from fw_billing.domain.invoicing import SessionStatus, invoice_year
    from fw_billing.domain.issuer import EXAMPLE_ISSUER
    from fw_platform.db import create_pool, migrate

    pool = await create_pool(fw_env.dsn("billing"), "billing", min_size=1, max_size=2)
    await migrate(pool, "billing", MIGRATIONS)
    keys = KeyRing(base64.b64decode(TEST_ARCHIVE_KEY))
    renderer = PdfRenderer()
    buyer = Party(name=COMPANY, contact=CONTACT, street=STREET, postal_code="10115", city="Berlin")
    lines = (ev.InvoiceLine(description="Fernwartung", quantity=Decimal(2), unit="C62",
                            unit_price=Decimal("150.00"), net=Decimal("300.00")),)
    events: list[ev.InvoiceIssued] = []
    now = datetime.now(UTC)
    for issued_at in (datetime(2017, 6, 1, 10, 0, tzinfo=UTC), now - timedelta(minutes=5)):
        year = invoice_year(issued_at)
        number = f"FW-{year}-000001"
        session_id, request_id = uuid.uuid4(), uuid.uuid4()
        event = ev.InvoiceIssued(
            invoice_number=number, session_id=session_id, request_id=request_id, kind=ev.InvoiceKind.FULL,
            issued_at=issued_at, service_date=issued_at, tariff_version="2026-01", raw_seconds=1800,
            billed_seconds=1800, lines=lines, net_total=Decimal("300.00"), vat_rate=Decimal("0.19"),
            vat_total=Decimal("57.00"), gross_total=Decimal("357.00"), occurred_at=issued_at)
        doc = invoice_document(kind=event.kind, number=number, issued_at=issued_at, service_date=issued_at,
                               issuer=EXAMPLE_ISSUER, recipient=buyer, lines=lines, net_total=event.net_total,
                               vat_rate=event.vat_rate, vat_total=event.vat_total, gross_total=event.gross_total,
                               customer_number=None, raw_seconds=1800, billed_seconds=1800,
                               tariff_version="2026-01", e_invoice=True)
        async with pool.acquire() as conn, conn.transaction():
            repo = SqlBillingRepository(conn, keys)
            await repo.claim_session(SessionRecord(
                session_id=session_id, request_id=request_id, started_at=issued_at, ended_at=issued_at,
                raw_seconds=1800, promoted=False, tariff_version="2026-01", status=SessionStatus.PENDING,
                source_event_id=uuid.uuid4()))
            await repo.add_invoice(NewInvoice(
                number=number, year=year, seq=1, session_id=session_id, request_id=request_id,
                kind=event.kind, issued_at=issued_at, service_date=issued_at, tariff_version="2026-01",
                raw_seconds=1800, billed_seconds=1800, lines=lines, net_total=event.net_total,
                vat_rate=event.vat_rate, vat_total=event.vat_total, gross_total=event.gross_total,
                customer_number=None, event_id=event.event_id, recipient=None, e_invoice=True))
            await repo.archive(number, "invoice", year, renderer.render(doc), issued_at)
        events.append(event)
    # billing's destruction; the database checks the 8 years against its own clock
    async with pool.acquire() as conn, conn.transaction():
        destroyed = await SqlArchiveStore(conn).destroy_year(2017, now)
    assert (destroyed.year, destroyed.documents) == (2017, 1)
    await pool.close()

    nc = await connect(fw_env.nats_url)
    try:
        from fw_audit.scripted import Item

        await publish(nc.jetstream(), [Item(e.subject(), e.to_json(), e.occurred_at, e) for e in events])
    finally:
        await nc.close()
    ro_dsn = await read_only_role(fw_env)
    source = ArchiveSource(ro_dsn, base64.b64decode(TEST_ARCHIVE_KEY))
    manifest = await export_stream(audit_conn(fw_env), tmp_path / "bundle", archive=source)
    section: dict[str, Any] = manifest["invoice_documents"]  # type: ignore[assignment]
    old, current = events[0].invoice_number, events[1].invoice_number
    assert set(section["destroyed_years"]) == {"2017"}
    assert section["destroyed_years"]["2017"]["in_bundle"] == 1
    assert section["destroyed_years"]["2017"]["documents_destroyed"] == 1
    assert old not in section["documents"] and section["documents"][current]["xml"] == f"invoices/{current}.xml"
    report = verify_bundle(tmp_path / "bundle", VerifyOptions())
    docs = report.check("invoice_documents")
    assert docs.status is Status.PASS, docs.to_dict()
    assert any("archive of 2017 destroyed after its retention period" in n and "1 documents" in n
               for n in docs.notes), docs.notes
    assert "1 XMLs equal their events" in docs.notes[0]
