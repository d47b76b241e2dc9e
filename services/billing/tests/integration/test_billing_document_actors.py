"""A Storno and a corrected invoice record the office user who made them (a staff id, never a
name): stored with the document, shown by the invoice, cancellation and list APIs, and not in the
events (InvoiceCancelled and InvoiceIssued carry no actor)."""

from __future__ import annotations

from typing import Any

from fw_contracts import InvoiceIssued


async def test_storno_and_correction_keep_the_acting_office_user(billing: Any, ended: Any) -> None:
    session = ended(4 * 900)
    await billing.publish(session)
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    number = issued.invoice_number

    refused = await billing.http.post(f"/api/invoices/{number}/cancel",
                                      json={"reason_code": "wrong_amount", "acted_by": "Erika Beispiel"})
    assert refused.status_code == 422 and "Erika" not in refused.text
    cancel = await billing.http.post(f"/api/invoices/{number}/cancel",
                                     json={"reason_code": "wrong_amount", "acted_by": "buero-2"})
    assert cancel.status_code == 201, cancel.text
    storno = cancel.json()["cancellation_number"]
    fixed = await billing.http.post(f"/api/invoices/{number}/correction",
                                    json={"reason_code": "wrong_duration", "billed_seconds": 1800,
                                          "acted_by": "buero-3"})
    assert fixed.status_code == 201, fixed.text
    corrected = fixed.json()["invoice_number"]

    original = (await billing.http.get(f"/api/invoices/{number}")).json()
    assert original["cancelled_by"] == storno and original["cancelled_by_user"] == "buero-2"
    assert original["issued_by_user"] is None  # billing issued it by itself
    new = (await billing.http.get(f"/api/invoices/{corrected}")).json()
    assert new["issued_by_user"] == "buero-3" and new["cancelled_by_user"] is None
    assert (await billing.http.get(f"/api/cancellations/{storno}")).json()["acted_by"] == "buero-2"
    rows = {r["number"]: r for r in (await billing.http.get("/api/invoice-list")).json()["items"]}
    assert rows[number]["cancelled_by_user"] == "buero-2" and rows[corrected]["issued_by_user"] == "buero-3"

    await billing.settle()
    for event in await billing.events():
        assert "buero-2" not in event.model_dump_json() and "buero-3" not in event.model_dump_json()


async def test_a_storno_without_an_actor_is_still_accepted(billing: Any, ended: Any) -> None:
    """Older callers (and scripts) send no actor: the document is made, the actor stays empty."""
    await billing.publish(ended(4 * 900))
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    cancel = await billing.http.post(f"/api/invoices/{issued.invoice_number}/cancel", json={"reason_code": "goodwill"})
    assert cancel.status_code == 201
    assert (await billing.http.get(f"/api/invoices/{issued.invoice_number}")).json()["cancelled_by_user"] is None
