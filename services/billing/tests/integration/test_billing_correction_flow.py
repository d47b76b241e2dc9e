"""Rechnungskorrektur end to end over real NATS and PostgreSQL: an invoice issued from the
stream, cancelled and corrected over HTTP; the corrected invoice ends in its own InvoiceIssued
on the stream, with a new number, archived, and the database keeps one original per session."""

from __future__ import annotations

from typing import Any

from fw_contracts.events import InvoiceCancelled, InvoiceIssued


async def test_cancel_then_correct_over_http(billing: Any, ended: Any, created: Any) -> None:
    event = ended(10 * 900)
    billing.vault.store(event.request_id)
    await billing.publish(created(event.request_id, email=False))
    await billing.publish(event)
    (original,) = await billing.wait_for(InvoiceIssued)
    number = original.invoice_number

    body = {"reason_code": "wrong_duration", "billed_seconds": 8 * 900}
    refused = await billing.http.post(f"/api/invoices/{number}/correction", json=body)
    assert refused.status_code == 409 and refused.json()["code"] == "not_cancelled"
    assert refused.json()["message_de"] and refused.json()["message_en"]

    storno = await billing.http.post(f"/api/invoices/{number}/cancel", json={"reason_code": "wrong_amount"})
    assert storno.status_code == 201
    resp = await billing.http.post(f"/api/invoices/{number}/correction", json=body)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["corrects"] == number and out["invoice_number"] != number and out["kind"] == "small"
    assert out["gross_total"] == "228.48"  # 8 × 24.00 net + 19 %

    issued = await billing.wait_for(InvoiceIssued, 2)
    (corrected,) = [i for i in issued if i.invoice_number == out["invoice_number"]]
    assert (corrected.corrects, corrected.correction_reason.value, corrected.priced_seconds) == \
        (number, "wrong_duration", 8 * 900)
    assert corrected.session_id == original.session_id
    assert len(await billing.wait_for(InvoiceCancelled)) == 1
    pdf = await billing.http.get(f"/api/invoices/{corrected.invoice_number}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    old_view = (await billing.http.get(f"/api/invoices/{number}")).json()
    new_view = (await billing.http.get(f"/api/invoices/{corrected.invoice_number}")).json()
    assert (old_view["cancelled_by"], old_view["corrected_by"]) == (storno.json()["cancellation_number"],
                                                                    corrected.invoice_number)
    assert (new_view["corrects"], new_view["correction_reason"], new_view["tax_case"]) == \
        (number, "wrong_duration", "domestic")
    session = (await billing.http.get("/api/invoices", params={"session_id": str(original.session_id)})).json()
    assert [i["number"] for i in session["items"]] == [number, corrected.invoice_number]

    again = await billing.http.post(f"/api/invoices/{number}/correction", json=body)
    assert again.status_code == 409 and again.json()["code"] == "already_corrected"
    assert again.json()["correction_number"] == corrected.invoice_number
    bad = await billing.http.post(f"/api/invoices/{corrected.invoice_number}/correction", json={
        "reason_code": "wrong_recipient", "recipient": {
            "company": "Muster GmbH", "contact_name": "Erika", "street": "Ring 1", "postal_code": "1010",
            "city": "Wien", "country": "AT", "vat_id": "ATU1"}})
    assert bad.status_code == 422 and "ATU1" not in bad.text
    assert {e["code"] for e in bad.json()["errors"]} == {"vat_id_invalid"}
    missing = await billing.http.post(f"/api/invoices/{number}/correction", json={"billed_seconds": 900})
    assert missing.status_code == 422  # no reason: refused
    # GoBD: the corrected invoice, too, re-renders byte-identical from what is stored.
    from fw_billing.application.cancellation import stored_invoice_document

    app = billing.apps[0].state
    async with app.runtime.unit_of_work() as uow:
        stored = await app.service.deps.repository(uow.conn).invoice_for_cancellation(corrected.invoice_number)
    again = app.service.deps.renderer.render(stored_invoice_document(stored, app.service.deps))
    assert again.pdf == (await app.views.document(corrected.invoice_number)).pdf
    rows = await billing.rows("SELECT number, corrects FROM invoices WHERE session_id = $1 ORDER BY seq",
                              original.session_id)
    assert [(r["number"], r["corrects"]) for r in rows] == [(number, None), (corrected.invoice_number, number)]
