"""The office's invoice list over real NATS and PostgreSQL: newest first, paged, every filter and
the search; ids, numbers, amounts and status only (no recipient data in the list)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fw_billing.domain.formatting import local_date
from fw_contracts import CustomerPromoted, InvoiceIssued, utcnow


async def test_list_filters_search_and_paging(billing: Any, ended: Any, created: Any) -> None:
    full = ended(10 * 900, promoted=True)
    billing.vault.store(full.request_id, statement=True)
    await billing.publish(created(full.request_id, email=False))
    await billing.publish(CustomerPromoted(session_id=full.session_id, request_id=full.request_id,
                                           technician="tech-03", statement_sha256="b" * 64,
                                           stated_at=full.started_at))
    await billing.publish(full)
    small = ended(1801)
    await billing.publish(small)  # no SupportRequestCreated: no ticket known
    issued = await billing.wait_for(InvoiceIssued, 2)
    await billing.settle()
    big = next(i for i in issued if i.session_id == full.session_id)
    little = next(i for i in issued if i.session_id == small.session_id)
    storno = (await billing.http.post(f"/api/invoices/{big.invoice_number}/cancel",
                                      json={"reason_code": "goodwill"})).json()["cancellation_number"]

    async def numbers(**params: Any) -> list[str]:
        resp = await billing.http.get("/api/invoice-list", params=params)
        assert resp.status_code == 200, resp.text
        return [i["number"] for i in resp.json()["items"]]

    everything = await billing.http.get("/api/invoice-list")
    body = everything.json()
    assert body["total"] == 2 and body["limit"] == 50 and body["offset"] == 0
    newest_first = sorted(issued, key=lambda i: (i.issued_at, i.invoice_number), reverse=True)
    assert [i["number"] for i in body["items"]] == [i.invoice_number for i in newest_first]
    row = next(i for i in body["items"] if i["number"] == big.invoice_number)
    assert row["status"] == "cancelled" and row["cancelled_by"] == storno and row["cancelled_at"]
    assert row["ticket"] == "K7MQ-3XA" and row["customer_number"] == "K00001" and row["kind"] == "full"
    assert row["e_invoice"] is True and row["gross_total"] == "285.60"
    assert "recipient" not in row and "Beispiel" not in everything.text and "München" not in everything.text
    other = next(i for i in body["items"] if i["number"] == little.invoice_number)
    assert other["status"] == "issued" and other["ticket"] is None and other["cancelled_by"] is None

    assert await numbers(status="cancelled") == [big.invoice_number]
    assert await numbers(status="issued") == [little.invoice_number]
    assert await numbers(kind="small") == [little.invoice_number]
    assert await numbers(kind="kleinbetrag") == [little.invoice_number]  # the value before v3
    assert other["kind"] == "small"
    assert await numbers(kind="full") == [big.invoice_number]
    assert await numbers(kind="e_invoice") == [big.invoice_number]
    assert await numbers(customer_number="K00001") == [big.invoice_number]
    assert await numbers(customer_number="K00002") == []
    assert await numbers(ticket="K7MQ-3XA") == [big.invoice_number]
    for q in (big.invoice_number, big.invoice_number.lower(), big.invoice_number[-6:], storno, "k7mq-3xa", "K00001"):
        assert await numbers(q=q) == [big.invoice_number], q
    today = local_date(utcnow())
    assert set(await numbers(**{"from": str(today), "to": str(today)})) == {big.invoice_number, little.invoice_number}
    assert await numbers(**{"from": str(today + timedelta(days=1))}) == []
    assert await numbers(to=str(today - timedelta(days=1))) == []

    first = await billing.http.get("/api/invoice-list", params={"limit": 1})
    second = await billing.http.get("/api/invoice-list", params={"limit": 1, "offset": 1})
    past = await billing.http.get("/api/invoice-list", params={"limit": 1, "offset": 5})
    assert first.json()["total"] == second.json()["total"] == past.json()["total"] == 2
    assert [i["number"] for i in first.json()["items"] + second.json()["items"]] == \
        [i.invoice_number for i in newest_first]
    assert past.json()["items"] == []

    for bad in ({"status": "paid"}, {"kind": "x"}, {"customer_number": "123"}, {"ticket": "abc"},
                {"q": "%"}, {"limit": 0}, {"from": "2026-02-01", "to": "2026-01-01"}):
        refused = await billing.http.get("/api/invoice-list", params=bad)
        assert refused.status_code == 422 and refused.json()["message_de"], bad


async def test_the_current_tariff_for_the_form(billing: Any) -> None:
    resp = await billing.http.get("/api/tariff")
    assert resp.status_code == 200
    body = resp.json()
    assert body["version"] == "2026-01" and body["rate_per_interval"] == "24.00"
    assert body["rate_per_interval_gross"] == "28.56" and body["interval_seconds"] == 900
    assert {s["kind"]: s["percent"] for s in body["surcharges"]} == {"evening": "25", "weekend": "50"}


async def test_corrected_status_and_marker(billing: Any, ended: Any, created: Any) -> None:
    wrong = ended(10 * 900)
    billing.vault.store(wrong.request_id)
    await billing.publish(created(wrong.request_id, email=False))
    await billing.publish(wrong)
    goodwill = ended(1801)
    await billing.publish(goodwill)
    issued = await billing.wait_for(InvoiceIssued, 2)
    await billing.settle()
    original = next(i.invoice_number for i in issued if i.session_id == wrong.session_id)
    only_cancelled = next(i.invoice_number for i in issued if i.session_id == goodwill.session_id)
    for number in (original, only_cancelled):
        storno = await billing.http.post(f"/api/invoices/{number}/cancel", json={"reason_code": "goodwill"})
        assert storno.status_code == 201, storno.text
    resp = await billing.http.post(f"/api/invoices/{original}/correction",
                                   json={"reason_code": "wrong_duration", "billed_seconds": 8 * 900})
    assert resp.status_code == 201, resp.text
    corrected = resp.json()["invoice_number"]
    await billing.settle()

    async def rows(**params: Any) -> dict[str, dict[str, Any]]:
        got = await billing.http.get("/api/invoice-list", params=params)
        assert got.status_code == 200, got.text
        return {i["number"]: i for i in got.json()["items"]}

    every = await rows()
    assert set(every) == {original, only_cancelled, corrected}
    assert (every[original]["status"], every[original]["corrected_by"], every[original]["corrects"]) == \
        ("corrected", corrected, None)
    assert every[original]["cancelled_by"]  # a corrected invoice is still cancelled by its Storno
    assert (every[corrected]["status"], every[corrected]["corrects"], every[corrected]["corrected_by"]) == \
        ("issued", original, None)
    assert (every[only_cancelled]["status"], every[only_cancelled]["corrected_by"]) == ("cancelled", None)
    assert list(await rows(status="corrected")) == [original]
    assert list(await rows(status="cancelled")) == [only_cancelled]
    assert list(await rows(status="issued")) == [corrected]
