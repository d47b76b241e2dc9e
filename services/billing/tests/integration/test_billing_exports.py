"""CSV exports for accounting: BOM, semicolons, decimal comma, documented columns."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from fw_contracts import CustomerPromoted, InvoiceIssued, utcnow

from fw_billing.adapters.exports import CUSTOMER_COLUMNS, INVOICE_COLUMNS
from fw_billing.domain.formatting import local_date


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
