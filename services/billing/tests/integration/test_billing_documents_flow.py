"""Documents over the real stream and database: archived PDF/XML served as issued, Storno over
HTTP, personal data only as ciphertext in the database."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import facturx
import pytest

from fw_billing.domain.invoicing import invoice_year
from fw_contracts import InvoiceCancelled, InvoiceIssued, InvoiceKind, utcnow
from fw_contracts.events import CustomerType

from ..unit.documents_support import check_xsd, contains, pdf_text

FULL_SECONDS = 10 * 900
PERSONAL = ("Beispiel AG", "Max Beispiel", "Ring 5", "80331", "max@example.org", "+4989123456",
            "Stammkunde")


async def issue_full(billing: Any, ended: Any, created: Any, **facts: Any) -> InvoiceIssued:
    event = ended(FULL_SECONDS)
    billing.vault.store(event.request_id)
    await billing.publish(created(event.request_id, **facts))
    await billing.publish(event)
    (issued,) = [i for i in await billing.wait_for(InvoiceIssued) if i.session_id == event.session_id]
    return issued


async def test_full_b2b_invoice_pdf_and_xml_are_served_as_archived(billing: Any, ended: Any, created: Any) -> None:
    issued = await issue_full(billing, ended, created, email=False)
    pdf = await billing.http.get(f"/api/invoices/{issued.invoice_number}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    xml = await billing.http.get(f"/api/invoices/{issued.invoice_number}.xml")
    assert xml.status_code == 200 and check_xsd(xml.content)
    assert facturx.get_facturx_xml_from_pdf(pdf.content) == ("factur-x.xml", xml.content)
    text = pdf_text(pdf.content)
    for value in ("Beispiel AG", "Max Beispiel", "Ring 5", "80331 München", issued.invoice_number,
                  "USt-IdNr.: DE123456789", "Gesamtbetrag brutto 285,60 €"):
        assert contains(text, value), value
    # Served from the archive, not re-rendered: the bytes are what was stored at issue.
    rows = await billing.rows("SELECT pdf_enc, year FROM invoice_archive WHERE document_number = $1",
                              issued.invoice_number)
    view = await billing.apps[0].state.views.document(issued.invoice_number)
    assert view.pdf == pdf.content and rows[0]["year"] == invoice_year(issued.issued_at)
    body = (await billing.http.get(f"/api/invoices/{issued.invoice_number}")).json()
    assert body["e_invoice"] is True and body["cancelled_by"] is None
    assert body["recipient"]["company"] == "Beispiel AG"


async def test_archived_documents_can_be_regenerated_identically(billing: Any, ended: Any, created: Any) -> None:
    """GoBD: an identical copy can be re-created from the stored invoice (no hidden inputs)."""
    from fw_billing.application.cancellation import stored_invoice_document

    issued = await issue_full(billing, ended, created, email=False)
    app = billing.apps[0].state
    async with app.runtime.unit_of_work() as uow:
        stored = await app.service.deps.repository(uow.conn).invoice_for_cancellation(issued.invoice_number)
    again = app.service.deps.renderer.render(stored_invoice_document(stored, app.service.deps))
    archived = await app.views.document(issued.invoice_number)
    assert again.pdf == archived.pdf and again.xml == archived.xml


async def test_small_invoice_pdf_has_no_recipient_and_no_xml(billing: Any, ended: Any) -> None:
    await billing.publish(ended(1801))
    (issued,) = await billing.wait_for(InvoiceIssued)
    pdf = await billing.http.get(f"/api/invoices/{issued.invoice_number}.pdf")
    assert pdf.status_code == 200 and "Rechnungsempfänger" not in pdf_text(pdf.content)
    assert contains(pdf_text(pdf.content), "Gesamtbetrag brutto 85,68 €")
    missing = await billing.http.get(f"/api/invoices/{issued.invoice_number}.xml")
    assert missing.status_code == 404 and missing.json()["code"] == "document_not_found"
    assert (await billing.http.get("/api/invoices/FW-2026-999999.pdf")).status_code == 404


async def test_consumer_full_invoice_has_no_e_invoice(billing: Any, ended: Any, created: Any) -> None:
    issued = await issue_full(billing, ended, created, email=False, customer_type=CustomerType.CONSUMER)
    assert issued.kind is InvoiceKind.FULL
    assert (await billing.http.get(f"/api/invoices/{issued.invoice_number}.xml")).status_code == 404


async def test_storno_flow_over_http(billing: Any, ended: Any, created: Any) -> None:
    issued = await issue_full(billing, ended, created, email=False)
    before = await billing.rows("SELECT * FROM invoices WHERE number = $1", issued.invoice_number)
    resp = await billing.http.post(f"/api/invoices/{issued.invoice_number}/cancel",
                                   json={"reason_code": "wrong_amount"})
    assert resp.status_code == 201, resp.text
    number = f"FW-S-{invoice_year(utcnow())}-000001"
    assert resp.json() == {"cancellation_number": number, "invoice_number": issued.invoice_number,
                           "reason_code": "wrong_amount", "net_total": "-240.00", "vat_total": "-45.60",
                           "gross_total": "-285.60"}
    (event,) = await billing.wait_for(InvoiceCancelled)
    assert (event.cancellation_number, event.invoice_number, event.request_id) == \
        (number, issued.invoice_number, issued.request_id)
    assert event.gross_total == Decimal("-285.60") and "Beispiel" not in event.model_dump_json()

    again = await billing.http.post(f"/api/invoices/{issued.invoice_number}/cancel", json={"reason_code": "other"})
    assert again.status_code == 409 and again.json()["code"] == "already_cancelled"
    assert again.json()["cancellation_number"] == number
    of_storno = await billing.http.post(f"/api/invoices/{number}/cancel", json={"reason_code": "other"})
    assert of_storno.status_code == 409 and of_storno.json()["code"] == "not_cancellable"
    unknown = await billing.http.post("/api/invoices/FW-2026-999999/cancel", json={"reason_code": "other"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "invoice_not_found"
    bad = await billing.http.post(f"/api/invoices/{issued.invoice_number}/cancel", json={"reason_code": "oops"})
    assert bad.status_code == 422 and "oops" not in bad.text

    pdf = await billing.http.get(f"/api/invoices/{number}.pdf")
    text = pdf_text(pdf.content)
    for value in ("Stornorechnung", f"Storno zu Rechnung: {issued.invoice_number}", "Beispiel AG",
                  "Gesamtbetrag brutto -285,60 €", "Rechnungsbetrag fehlerhaft"):
        assert contains(text, value), value
    xml = (await billing.http.get(f"/api/invoices/{number}.xml")).content
    assert check_xsd(xml) and b"<ram:TypeCode>381</ram:TypeCode>" in xml
    view = (await billing.http.get(f"/api/cancellations/{number}")).json()
    assert view["invoice_number"] == issued.invoice_number and view["gross_total"] == "-285.60"
    assert (await billing.http.get(f"/api/invoices/{issued.invoice_number}")).json()["cancelled_by"] == number
    # The original is never edited, and the database refuses to.
    assert await billing.rows("SELECT * FROM invoices WHERE number = $1", issued.invoice_number) == before
    for stmt in ("UPDATE cancellations SET gross_total = 0 WHERE number = $1",
                 "DELETE FROM cancellations WHERE number = $1"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await billing.sql(stmt, number)
    await billing.settle()
    # Every number ends in exactly one terminal event.
    assert [e.invoice_number for e in await billing.events(InvoiceIssued)] == [issued.invoice_number]
    assert [e.cancellation_number for e in await billing.events(InvoiceCancelled)] == [number]


async def test_concurrent_cancellations_yield_one_storno(billing: Any, ended: Any) -> None:
    await billing.publish(ended(1800))
    (issued,) = await billing.wait_for(InvoiceIssued)
    results = await asyncio.gather(*(
        billing.http.post(f"/api/invoices/{issued.invoice_number}/cancel", json={"reason_code": "duplicate"})
        for _ in range(6)))
    assert sorted(r.status_code for r in results) == [201] + [409] * 5
    assert await billing.sql("SELECT last_seq FROM cancellation_counters") == 1


async def test_personal_data_are_only_ciphertext_in_the_database(billing: Any, ended: Any, created: Any) -> None:
    from fw_contracts import CustomerPromoted
    event = ended(FULL_SECONDS, promoted=True)
    billing.vault.store(event.request_id, statement=True)
    await billing.publish(created(event.request_id, email=False))
    await billing.publish(CustomerPromoted(session_id=event.session_id, request_id=event.request_id,
                                           technician="tech-03", statement_sha256="b" * 64,
                                           stated_at=event.started_at))
    await billing.publish(event)
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    account = (await billing.http.get(f"/api/customers/{issued.customer_number}")).json()
    assert account["company"] == "Beispiel AG" and account["statement"] == "Wir möchten Stammkunde werden."
    # Dump every table of the schema as text: no personal value appears anywhere.
    tables = [r["tablename"] for r in
              await billing.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'billing'")]
    dump = ""
    for table in tables:
        for row in await billing.rows(f'SELECT * FROM "{table}"'):
            dump += repr(dict(row))
    assert "invoice_archive" in tables and issued.invoice_number in dump
    for personal in PERSONAL:
        assert personal not in dump, personal
