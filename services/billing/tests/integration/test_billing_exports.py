"""CSV exports for accounting: BOM, semicolons, decimal comma, documented columns."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from fw_billing.adapters.exports import CUSTOMER_COLUMNS, INVOICE_COLUMNS
from fw_billing.domain.formatting import local_date
from fw_contracts import CustomerPromoted, InvoiceIssued, utcnow


def parse(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


async def test_invoice_and_customer_exports(billing: Any, ended: Any, created: Any) -> None:
    full = ended(10 * 900, promoted=True)
    billing.vault.store(full.request_id, statement=True)
    await billing.publish(created(full.request_id, email=False))
    await billing.publish(CustomerPromoted(session_id=full.session_id, request_id=full.request_id,
                                           technician="tech-03", statement_sha256="b" * 64,
                                           stated_at=full.started_at))
    await billing.publish(full)
    await billing.publish(ended(1801))
    issued = await billing.wait_for(InvoiceIssued, 2)
    big = next(i for i in issued if i.session_id == full.session_id)
    small = next(i for i in issued if i.session_id != full.session_id)
    resp = await billing.http.post(f"/api/invoices/{big.invoice_number}/cancel", json={"reason_code": "goodwill"})
    storno = resp.json()["cancellation_number"]

    today = local_date(utcnow())
    export = await billing.http.get("/api/exports/invoices.csv",
                                    params={"from": str(today - timedelta(days=1)), "to": str(today)})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.content.decode("utf-8-sig").splitlines()[0] == ";".join(INVOICE_COLUMNS)
    rows = {r["Belegnummer"]: r for r in parse(export.content)}
    assert set(rows) == {big.invoice_number, small.invoice_number, storno}
    assert rows[big.invoice_number] | {"Sitzung": ""} == {
        "Belegart": "Rechnung", "Belegnummer": big.invoice_number, "Belegdatum": today.strftime("%d.%m.%Y"),
        "Leistungsdatum": "10.03.2026", "Bezugsbeleg": storno, "Kundennummer": "K00001",
        "Rechnungsempfänger": "Beispiel AG", "Netto": "240,00", "USt-Satz": "19,00", "USt": "45,60",
        "Brutto": "285,60", "Währung": "EUR", "E-Rechnung": "ja", "Stornogrund": "", "Tarif": "2026-01",
        "Sitzung": ""}
    assert rows[storno]["Belegart"] == "Stornorechnung" and rows[storno]["Brutto"] == "-285,60"
    assert rows[storno]["Bezugsbeleg"] == big.invoice_number and rows[storno]["Stornogrund"] == "Kulanz"
    assert rows[small.invoice_number]["Belegart"] == "Kleinbetragsrechnung"
    assert rows[small.invoice_number]["Rechnungsempfänger"] == "" and rows[small.invoice_number]["Brutto"] == "85,68"

    empty = await billing.http.get("/api/exports/invoices.csv", params={"from": "2020-01-01", "to": "2020-12-31"})
    assert parse(empty.content) == []
    bad = await billing.http.get("/api/exports/invoices.csv", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert bad.status_code == 422
    assert (await billing.http.get("/api/exports/invoices.csv", params={"from": "x", "to": "y"})).status_code == 422

    customers = await billing.http.get("/api/exports/customers.csv")
    assert customers.content.decode("utf-8-sig").splitlines()[0] == ";".join(CUSTOMER_COLUMNS)
    (row,) = parse(customers.content)
    assert row == {"Kundennummer": "K00001", "Firma": "Beispiel AG", "Ansprechpartner": "Max Beispiel",
                   "Telefon": "+4989123456", "E-Mail": "max@example.org", "Straße": "Ring 5", "PLZ": "80331",
                   "Ort": "München", "Land": "DE", "Angelegt am": today.strftime("%d.%m.%Y"), "Gelöscht am": ""}


async def test_datev_booking_batch_over_http(harness: Any, ended: Any, created: Any) -> None:
    """Real PostgreSQL: invoices (domestic, reverse charge) and a Storno of the period, the
    reverse-charge row with the recipient's VAT id (decrypted from the recipient copy)."""
    await harness.start_vault()
    await harness.start_instance(datev_consultant_number=1234567, datev_client_number=42,
                                 datev_chart="SKR04")
    domestic, austrian = ended(10 * 900), ended(1800)
    harness.vault.store(domestic.request_id)
    harness.vault.store(austrian.request_id, country="AT", vat_id="ATU12345678")
    for event in (domestic, austrian):
        await harness.publish(created(event.request_id, email=False))
        await harness.publish(event)
    issued = {i.session_id: i for i in await harness.wait_for(InvoiceIssued, 2)}
    big, rc = issued[domestic.session_id], issued[austrian.session_id]
    assert rc.tax_case.value == "reverse_charge" and rc.kind.value == "full"
    storno = (await harness.http.post(f"/api/invoices/{big.invoice_number}/cancel",
                                      json={"reason_code": "wrong_amount"})).json()["cancellation_number"]

    today = local_date(utcnow())
    resp = await harness.http.get("/api/exports/datev.csv", params={"from": str(today), "to": str(today)})
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/csv; charset=windows-1252"
    assert "EXTF_Buchungsstapel_" in resp.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(resp.content.decode("cp1252"), newline=""), delimiter=";"))
    header, titles, *rows = lines
    assert header[:5] == ["EXTF", "700", "21", "Buchungsstapel", "13"]
    assert (header[10], header[11], header[13], header[26]) == ("1234567", "42", "4", "04")
    assert header[14] == header[15] == today.strftime("%Y%m%d")
    by_number = {r[10]: dict(zip(titles, r, strict=True)) for r in rows}
    assert set(by_number) == {big.invoice_number, rc.invoice_number, storno}
    day = today.strftime("%d%m")
    assert {k: v for k, v in by_number[big.invoice_number].items() if v} == {
        "Umsatz (ohne Soll/Haben-Kz)": "285,60", "Soll/Haben-Kennzeichen": "S", "WKZ Umsatz": "EUR",
        "Konto": "10000", "Gegenkonto (ohne BU-Schlüssel)": "4400", "Belegdatum": day,
        "Belegfeld 1": big.invoice_number, "Buchungstext": f"Rechnung {big.invoice_number}",
        "Leistungsdatum": "10032026"}
    assert by_number[rc.invoice_number]["Gegenkonto (ohne BU-Schlüssel)"] == "4336"
    assert by_number[rc.invoice_number]["Umsatz (ohne Soll/Haben-Kz)"] == "48,00"
    assert by_number[rc.invoice_number]["EU-Land u. UStID (Bestimmung)"] == "ATU12345678"
    assert by_number[storno]["Soll/Haben-Kennzeichen"] == "H"
    assert by_number[storno]["Buchungstext"] == f"Storno zu {big.invoice_number}"

    wrong = await harness.http.get("/api/exports/datev.csv", params={"from": "2025-12-01", "to": "2026-01-31"})
    assert wrong.status_code == 422 and "Wirtschaftsjahr" in wrong.json()["message_de"]


async def test_datev_export_refuses_without_consultant_and_client_number(billing: Any) -> None:
    resp = await billing.http.get("/api/exports/datev.csv", params={"from": "2026-03-01", "to": "2026-03-31"})
    assert resp.status_code == 409 and resp.json()["code"] == "datev_not_configured"
    with pytest.raises(ValueError, match="Beraternummer and the Mandantennummer"):
        billing.settings(datev_consultant_number=1234567)
