"""The bundle's invoice documents: billing's real CII XMLs of a scripted history pass; each
defect (missing XML, changed total, tampered file, missing index entry, a destroyed year that
may not be destroyed yet, …) fails exactly ``invoice_documents`` and names the invoice number.

The XMLs are made by billing's own generator (``fw_billing.adapters.cii``) from the events, as
billing makes them when it issues; the export with a real archive is tested in
``tests/integration/test_invoice_documents_live.py``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fw_audit.archive import DocumentIndex
from fw_audit.bundle import BundleWriter
from fw_audit.checks.documents import UnreadableXml, parse_cii, xml_name
from fw_audit.model import Status
from fw_audit.runner import verify_bundle
from fw_audit.scripted import every_lifecycle
from fw_audit.source import Until
from fw_audit.verifier import VerifyOptions
from fw_billing.adapters.cii import cii_xml
from fw_billing.domain.documents import Party, cancellation_document, invoice_document
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_contracts import events as ev

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
STREAM = {"name": "FERNWARTUNG", "deny_delete": True, "deny_purge": True}
BUYER = Party(name="Muster Maschinenbau GmbH", contact="Erika Mustermann", street="Hauptstraße 5",
              postal_code="10115", city="Berlin")


def _document(inv: ev.InvoiceIssued, issuer=EXAMPLE_ISSUER):  # untyped: billing's types
    return invoice_document(
        kind=inv.kind, number=inv.invoice_number, issued_at=inv.issued_at, service_date=inv.service_date,
        issuer=issuer, recipient=BUYER, lines=inv.lines, net_total=inv.net_total, vat_rate=inv.vat_rate,
        vat_total=inv.vat_total, gross_total=inv.gross_total, customer_number=inv.customer_number,
        raw_seconds=inv.raw_seconds, billed_seconds=inv.billed_seconds, tariff_version=inv.tariff_version,
        e_invoice=True)


def write_bundle(directory: Path, *, full_cancelled: bool = True, documents: bool = True,
                 destroyed: dict[int, dict] | None = None,
                 issuer=EXAMPLE_ISSUER) -> tuple[Path, dict[str, ev.Event]]:
    """every_lifecycle with the full invoice cancelled too; billing's XML for each e-invoice."""
    history, script = every_lifecycle(END)
    full = script["invoice_full"]["invoice"]
    assert isinstance(full, ev.InvoiceIssued) and full.kind is ev.InvoiceKind.FULL
    named: dict[str, ev.Event] = {"full": full}
    if full_cancelled:
        # billing's cancellation event carries the negated amounts (the document's)
        c = history.cancel(full, full.issued_at + timedelta(days=2))
        neg = c.model_copy(update={"net_total": -c.net_total, "vat_total": -c.vat_total,
                                   "gross_total": -c.gross_total})
        history.replace(c, neg)
        named["storno"] = neg
    writer = BundleWriter(directory)
    for record in history.records():
        writer.add(record)
    section = None
    if documents:
        index = DocumentIndex(timezone="Europe/Berlin")
        for item in history.items():
            e = item.event
            if isinstance(e, ev.InvoiceIssued):
                entry: dict = {"type": "invoice", "year": e.issued_at.year, "e_invoice": e is full}
                if e is full:
                    writer.add_file(xml_name(e.invoice_number), cii_xml(_document(e, issuer)))
                    entry["xml"] = xml_name(e.invoice_number)
                index.documents[e.invoice_number] = entry
            elif isinstance(e, ev.InvoiceCancelled):
                entry = {"type": "cancellation", "year": e.cancelled_at.year, "e_invoice": e is named.get("storno")}
                if e is named.get("storno"):
                    doc = cancellation_document(_document(full, issuer), number=e.cancellation_number,
                                                issued_at=e.cancelled_at, reason_code=e.reason_code)
                    writer.add_file(xml_name(e.cancellation_number), cii_xml(doc))
                    entry["xml"] = xml_name(e.cancellation_number)
                index.documents[e.cancellation_number] = entry
        index.destroyed_years.update(destroyed or {})
        section = index.section()
    writer.close(STREAM, END, section)
    return directory, named


def verify(directory: Path, **kw):
    return verify_bundle(directory, VerifyOptions(), **kw)


def rewrite(directory: Path, name: str, data: bytes, *, update_manifest: bool) -> None:
    (directory / name).write_bytes(data)
    if update_manifest:
        manifest = json.loads((directory / "manifest.json").read_text())
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
        (directory / "manifest.json").write_text(json.dumps(manifest))


def edit_index(directory: Path, change) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    change(manifest["invoice_documents"])
    (directory / "manifest.json").write_text(json.dumps(manifest))


def only_documents_fail(report, number: str | None) -> list[str]:
    """Assert that exactly invoice_documents fails (and names ``number``); returns the reasons."""
    assert report.failed_checks == ["invoice_documents"], [c.to_dict() for c in report.checks if c.failures]
    res = report.check("invoice_documents")
    if number is not None:
        assert all(f.ids.get("number") == number for f in res.failures), [f.to_dict() for f in res.failures]
    assert report.exit_code == 1
    return [f.reason for f in res.failures]


def test_billings_xml_reads_back_exactly(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    full = named["full"]
    assert isinstance(full, ev.InvoiceIssued)
    facts = parse_cii((d / xml_name(full.invoice_number)).read_bytes())
    assert facts.number == full.invoice_number and facts.type_code == "380" and facts.referenced is None
    assert (facts.net, facts.vat, facts.gross) == (full.net_total, full.vat_total, full.gross_total)
    assert isinstance(facts.gross, Decimal) and facts.gross > Decimal(250)
    storno = named["storno"]
    assert isinstance(storno, ev.InvoiceCancelled)
    credit = parse_cii((d / xml_name(storno.cancellation_number)).read_bytes())
    assert credit.type_code == "381" and credit.referenced == full.invoice_number
    assert credit.gross == -storno.gross_total > 0  # a credit note states the amounts positive


def test_clean_bundle_passes_the_documents_check(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    manifest = json.loads((d / "manifest.json").read_text())
    full = named["full"]
    assert isinstance(full, ev.InvoiceIssued)
    assert xml_name(full.invoice_number) in manifest["files"]  # hashed like every other file
    report = verify(d)
    res = report.check("invoice_documents")
    assert res.status is Status.PASS and not report.failed_checks, [c.to_dict() for c in report.checks if c.failures]
    assert res.checked == 7  # 5 invoices + 2 cancellations
    assert "2 XMLs equal their events" in res.notes[0] and "5 documents without XML" in res.notes[0]
    # projections needs a database, bundle_signature a signed bundle and its key (tests/unit/
    # test_bundle_signature.py): the only skipped checks, so the verify exits 3, not 0
    assert report.skipped_checks == ["projections", "bundle_signature"] and report.exit_code == 3


def test_without_documents_the_check_is_skipped_and_says_why(tmp_path: Path) -> None:
    d, _ = write_bundle(tmp_path / "b", documents=False)
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["invoice_documents"]["included"] is False
    assert "not in this bundle" in manifest["invoice_documents"]["reason"]
    report = verify(d)
    res = report.check("invoice_documents")
    assert res.status is Status.SKIPPED and "--archive-key" in " ".join(res.notes)
    assert report.skipped_checks == ["projections", "invoice_documents", "bundle_signature"]
    assert report.exit_code == 3
    assert not report.failed_checks


def test_missing_xml_fails_and_names_the_invoice(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    number = named["full"].invoice_number  # type: ignore[attr-defined]
    (d / xml_name(number)).unlink()
    reasons = only_documents_fail(verify(d), number)
    assert any("missing" in r for r in reasons)
    assert not verify(d).check("integrity").failures  # the manifest problem is this check's, by number


def test_changed_total_in_the_xml_fails_even_with_a_matching_hash(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    full = named["full"]
    assert isinstance(full, ev.InvoiceIssued)
    name = xml_name(full.invoice_number)
    data = (d / name).read_bytes()
    old = f"<ram:GrandTotalAmount>{full.gross_total:.2f}</ram:GrandTotalAmount>".encode()
    assert data.count(old) == 1
    changed = data.replace(old, f"<ram:GrandTotalAmount>{full.gross_total + 1:.2f}</ram:GrandTotalAmount>".encode())
    rewrite(d, name, changed, update_manifest=True)
    (reason,) = only_documents_fail(verify(d), full.invoice_number)
    assert f"gross {full.gross_total + 1:.2f} != {full.gross_total}" in reason
    assert verify(d).check("invoice_documents").failures[0].seq is not None  # the event's sequence


def test_tampered_file_fails_by_its_hash(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    storno = named["storno"]
    assert isinstance(storno, ev.InvoiceCancelled)
    name = xml_name(storno.cancellation_number)
    data = (d / name).read_bytes()
    rewrite(d, name, data.replace(b"Muster Maschinenbau", b"Mister Maschinenbau"), update_manifest=False)
    report = verify(d)
    (reason,) = only_documents_fail(report, storno.cancellation_number)
    assert "does not match its SHA-256" in reason
    # the evidence never quotes the document (it names the recipient)
    assert "Maschinenbau" not in json.dumps(report.to_dict())


def test_a_different_issue_date_or_number_fails(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    full = named["full"]
    assert isinstance(full, ev.InvoiceIssued)
    name = xml_name(full.invoice_number)
    data = (d / name).read_bytes()
    day = full.issued_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")).strftime("%Y%m%d")
    other = (datetime.strptime(day, "%Y%m%d") + timedelta(days=1)).strftime("%Y%m%d")  # noqa: DTZ007 - a date
    data = data.replace(f">{day}<".encode(), f">{other}<".encode(), 1)
    data = data.replace(f"<ram:ID>{full.invoice_number}</ram:ID>".encode(), b"<ram:ID>FW-2026-999999</ram:ID>")
    rewrite(d, name, data, update_manifest=True)
    (reason,) = only_documents_fail(verify(d), full.invoice_number)
    assert "invoice number (BT-1) differs" in reason and "issue date" in reason


def test_missing_index_entry_and_e_invoice_without_xml_fail(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    number = named["full"].invoice_number  # type: ignore[attr-defined]
    edit_index(d, lambda s: s["documents"].pop(number))
    reasons = only_documents_fail(verify(d), number)
    assert any("no archived document in the bundle" in r for r in reasons)
    assert any("not in the document index" in r for r in reasons)  # and its XML is now unexplained

    d2, _ = write_bundle(tmp_path / "c")
    edit_index(d2, lambda s: s["documents"][number].pop("xml"))
    (d2 / xml_name(number)).unlink()
    manifest = json.loads((d2 / "manifest.json").read_text())
    del manifest["files"][xml_name(number)]
    (d2 / "manifest.json").write_text(json.dumps(manifest))
    (reason,) = only_documents_fail(verify(d2), number)
    assert "e-invoice, but the bundle holds no XML" in reason


def test_destroyed_year_is_reported_not_failed_only_after_the_retention_period(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    number = named["full"].invoice_number  # type: ignore[attr-defined]

    def destroyed_2026(section: dict) -> None:
        section["documents"].pop(number)
        section["destroyed_years"] = {"2026": {"destroyed_at": "2035-01-01T00:00:00+00:00", "in_bundle": 1}}

    edit_index(d, destroyed_2026)
    (d / xml_name(number)).unlink()
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["files"][xml_name(number)]
    (d / "manifest.json").write_text(json.dumps(manifest))
    # exported in 2026: the archive of 2026 may not be destroyed before 2035
    reasons = only_documents_fail(verify(d), None)
    assert any("retention period runs until 2035-01-01" in r for r in reasons)
    assert any(number in r for r in reasons)  # and the invoice is then simply missing
    # exported in 2035 the same bundle is fine: the destruction is reported, not a failure
    stream = json.loads((d / "stream.json").read_text())
    stream["exported_at"] = "2035-01-02T00:00:00+00:00"
    rewrite(d, "stream.json", json.dumps(stream).encode(), update_manifest=True)
    report = verify(d, as_of=END)
    res = report.check("invoice_documents")
    assert res.status is Status.PASS, [f.to_dict() for f in res.failures]
    assert any("archive of 2026 destroyed after its retention period" in n and "1 documents" in n for n in res.notes)


def test_unreadable_and_hostile_xml_is_refused(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    number = named["full"].invoice_number  # type: ignore[attr-defined]
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<x>&b;</x>")
    with pytest.raises(UnreadableXml, match="DTD"):
        parse_cii(bomb)
    with pytest.raises(UnreadableXml, match="well-formed"):
        parse_cii(b"<rsm:CrossIndustryInvoice")
    rewrite(d, xml_name(number), bomb, update_manifest=True)
    (reason,) = only_documents_fail(verify(d), number)
    assert "unreadable: carries a DTD" in reason


def test_an_extra_document_without_event_fails(tmp_path: Path) -> None:
    d, named = write_bundle(tmp_path / "b")
    full = named["full"]
    extra = "FW-2026-000077"
    data = (d / xml_name(full.invoice_number)).read_bytes().replace(  # type: ignore[attr-defined]
        full.invoice_number.encode(), extra.encode())  # type: ignore[attr-defined]
    rewrite(d, xml_name(extra), data, update_manifest=True)
    edit_index(d, lambda s: s["documents"].__setitem__(extra, {"type": "invoice", "year": 2026,
                                                                "xml": xml_name(extra)}))
    (reason,) = only_documents_fail(verify(d), extra)
    assert "without an InvoiceIssued/InvoiceCancelled event" in reason
    # with --until the later documents are not judged
    report = verify(d, until=Until(seq=10**6))
    assert not report.failed_checks and "up to --until" in " ".join(report.check("invoice_documents").notes)


def test_copying_a_bundle_keeps_it_verifiable(tmp_path: Path) -> None:
    d, _ = write_bundle(tmp_path / "b")
    shutil.copytree(d, tmp_path / "copy")
    assert not verify(tmp_path / "copy").failed_checks


def test_a_bundle_exported_with_pdfs_must_hold_one_per_document(tmp_path: Path) -> None:
    d, _ = write_bundle(tmp_path / "b")
    edit_index(d, lambda s: s.__setitem__("pdfs", True))
    report = verify(d)
    assert report.failed_checks == ["invoice_documents"]
    failures = report.check("invoice_documents").failures
    assert len(failures) == 7 and all("no PDF although" in f.reason and f.ids["number"] for f in failures)


def test_the_printed_issuer_must_be_the_one_in_force(tmp_path: Path) -> None:
    good, _ = write_bundle(tmp_path / "good")
    check = verify(good).check("invoice_documents")
    assert check.ok and "2 XMLs' printed issuer compared" in " ".join(check.notes)
    moved = EXAMPLE_ISSUER.model_copy(update={"street": "Andere Straße 9", "vat_id": "DE999999999"})
    directory, named = write_bundle(tmp_path / "moved", issuer=moved)
    check = verify(directory).check("invoice_documents")
    assert {f.ids["number"] for f in check.failures} == {named["full"].invoice_number,  # type: ignore[attr-defined]
                                                          named["storno"].cancellation_number}  # type: ignore[attr-defined]
    for f in check.failures:
        assert "printed issuer differs from the IssuerDetailsChanged in force in: street, vat_id" in f.reason
        assert "Andere" not in f.reason  # field names only, never the printed values
