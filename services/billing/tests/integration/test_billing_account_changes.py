"""Customer accounts the office can work with: search (words in the body), change of e-mail and
address (CustomerAccountChanged without data), the account's invoices; over real NATS and
PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from fw_contracts import CustomerAccountCreated, CustomerPromoted, InvoiceIssued
from fw_contracts.events import CustomerAccountChanged

NEW_ADDRESS = {"street": "Neue Straße 9", "postal_code": "50667", "city": "Köln", "country": "DE"}


async def account(billing: Any, ended: Any) -> tuple[str, str]:
    event = ended(1801, promoted=True)
    billing.vault.store(event.request_id, statement=True)
    await billing.publish(CustomerPromoted(session_id=event.session_id, request_id=event.request_id,
                                           technician="tech-03", statement_sha256="b" * 64,
                                           stated_at=event.started_at))
    await billing.publish(event)
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    (created,) = await billing.events(CustomerAccountCreated)
    return created.customer_number, issued.invoice_number


async def test_search_change_and_invoices_of_an_account(billing: Any, ended: Any) -> None:
    number, invoice = await account(billing, ended)
    for q in ("beispiel ag", "MAX", "münchen", number.lower(), "80331"):
        found = await billing.http.post("/api/customers/search", json={"q": q})
        assert found.status_code == 200 and [c["customer_number"] for c in found.json()["items"]] == [number], q
    assert (await billing.http.post("/api/customers/search", json={"q": "niemand"})).json()["total"] == 0
    assert (await billing.http.get("/api/customers/search")).status_code == 422  # no customer number

    changed = await billing.http.patch(f"/api/customers/{number}", json={
        "email": "neu@example.org", "address": NEW_ADDRESS, "changed_by": "buero-02"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "neu@example.org" and changed.json()["address"] == NEW_ADDRESS
    assert changed.json()["company"] == "Beispiel AG"  # untouched
    (event,) = await billing.wait_for(CustomerAccountChanged)
    assert event.customer_number == number and [f.value for f in event.changed] == ["email", "address"]
    assert event.changed_by == "buero-02"
    raw = event.to_json().decode()
    for value in ("neu@example.org", "Neue Straße", "Köln", "50667", "max@example.org", "Ring 5"):
        assert value not in raw
    # the stored row holds ciphertext only
    assert "neu@example.org" not in str(await billing.rows("SELECT t::text FROM customer_accounts t"))

    only_email = await billing.http.patch(f"/api/customers/{number}", json={"email": None, "changed_by": "buero-02"})
    assert only_email.json()["email"] is None and only_email.json()["address"] == NEW_ADDRESS
    same = await billing.http.patch(f"/api/customers/{number}", json={"email": None, "changed_by": "buero-02"})
    assert same.status_code == 422 and same.json()["message_de"].startswith("Es wurde nichts geändert")
    for bad in ({"email": "kein-mail", "changed_by": "buero-02"}, {"email": "a@b.de"},
                {"email": "a@b.de", "changed_by": "Frau Müller"},
                {"address": {"street": "x"}, "changed_by": "buero-02"}):
        refused = await billing.http.patch(f"/api/customers/{number}", json=bad)
        assert refused.status_code == 422, bad
    assert (await billing.http.patch("/api/customers/K09999", json={"email": "a@b.de", "changed_by": "buero-02"})
            ).status_code == 404

    # the account's invoices, and the invoice keeps the recipient it was issued to
    listed = await billing.http.get("/api/invoice-list", params={"customer_number": number})
    assert [i["number"] for i in listed.json()["items"]] == [invoice]
    recipient = (await billing.http.get(f"/api/invoices/{invoice}")).json()["recipient"]
    assert recipient is None or "Köln" not in json.dumps(recipient)

    erased = await billing.http.post(f"/api/customers/{number}/erasure",
                                     json={"reason": "customer_request", "requested_by": "buero-02"})
    assert erased.status_code == 200
    closed = await billing.http.patch(f"/api/customers/{number}", json={"email": "x@example.org",
                                                                         "changed_by": "buero-02"})
    assert closed.status_code == 409 and closed.json()["code"] == "account_closed"
    assert len(await billing.events(CustomerAccountChanged)) == 2
