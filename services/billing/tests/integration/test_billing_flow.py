"""Billing end to end over the real stream and database: SessionEnded in, events and HTTP out."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from fw_billing.domain.invoicing import invoice_year
from fw_contracts import (
    BillingAddressProvided,
    BillingBlocked,
    CustomerAccountCreated,
    CustomerPromoted,
    InvoiceIssued,
    InvoiceKind,
    SessionNotBilled,
    utcnow,
)
from fw_contracts.events import ErasureReason, NotBilledReason, PersonalDataErased
from fw_contracts.reference import (
    IssuerDetailsChanged,
    TariffPublished,
    tariff_sha256,
    without_office_business_data,
)
from fw_devenv.testing import eventually

FULL_SECONDS = 10 * 900  # 240.00 net, 285.60 gross with the shipped tariff


def number(seq: int) -> str:
    return f"FW-{invoice_year(utcnow())}-{seq:06d}"


async def test_session_ended_issues_an_invoice_visible_over_http(billing: Any, ended: Any) -> None:
    event = ended(1801)
    await billing.publish(event)
    (issued,) = await billing.wait_for(InvoiceIssued)
    assert issued.invoice_number == number(1)
    assert issued.kind is InvoiceKind.SMALL and issued.tariff_version == "2026-01"
    assert (issued.raw_seconds, issued.billed_seconds) == (1801, 2700)
    assert issued.gross_total == Decimal("85.68") and issued.causation_id == event.event_id

    resp = await billing.http.get(f"/api/invoices/{issued.invoice_number}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["number"] == issued.invoice_number and body["kind"] == "small"
    assert (body["net_total"], body["vat_total"], body["gross_total"]) == ("72.00", "13.68", "85.68")
    assert body["vat_rate"] == "0.19" and body["tariff_version"] == "2026-01"
    assert (body["raw_seconds"], body["billed_seconds"]) == (1801, 2700)
    assert body["lines"][0]["quantity"] == "3" and body["lines"][0]["net"] == "72.00"
    assert body["recipient"] is None and body["session_id"] == str(event.session_id)

    found = (await billing.http.get("/api/invoices", params={"session_id": str(event.session_id)})).json()
    assert [i["number"] for i in found["items"]] == [issued.invoice_number]
    status = (await billing.http.get(f"/api/sessions/{event.session_id}")).json()
    assert status["status"] == "invoiced" and status["invoice_number"] == issued.invoice_number
    assert billing.vault.calls == []  # a Kleinbetragsrechnung needs no personal data


async def test_unknown_things_are_404_with_a_clear_message(billing: Any) -> None:
    for path, code in [("/api/invoices/FW-2026-999999", "invoice_not_found"),
                       (f"/api/sessions/{uuid.uuid4()}", "session_not_found"),
                       ("/api/customers/K99999", "customer_not_found")]:
        resp = await billing.http.get(path)
        assert resp.status_code == 404, path
        assert resp.json()["code"] == code and resp.json()["message_de"] and resp.json()["message_en"]
    empty = await billing.http.get("/api/invoices", params={"session_id": str(uuid.uuid4())})
    assert empty.status_code == 200 and empty.json() == {"items": []}
    assert (await billing.http.get("/api/invoices", params={"session_id": "nope"})).status_code == 422
    assert (await billing.http.get("/api/customers/not-a-number")).status_code == 422


async def test_short_session_is_not_billed(billing: Any, ended: Any) -> None:
    event = ended(119)
    await billing.publish(event)
    (out,) = await billing.wait_for(SessionNotBilled)
    assert out.session_id == event.session_id and out.reason.value == "free_threshold"
    await billing.settle()
    assert await billing.events(InvoiceIssued) == []
    assert await billing.sql("SELECT count(*) FROM invoice_counters") == 0
    status = (await billing.http.get(f"/api/sessions/{event.session_id}")).json()
    assert status["status"] == "not_billed" and status["invoice_number"] is None


async def test_the_same_session_is_billed_once(billing: Any, ended: Any) -> None:
    event = ended(1801)
    await billing.publish(event)
    await billing.publish(event)                           # deduplicated by JetStream
    await billing.publish(event, msg_id=str(uuid.uuid4()))  # same event id, really in the stream twice
    other = ended(3600, session_id=event.session_id, request_id=event.request_id)
    await billing.publish(other)                           # a second event id for the same session
    await billing.wait_for(InvoiceIssued)
    await billing.settle()
    issued = await billing.events(InvoiceIssued)
    assert len(issued) == 1 and issued[0].raw_seconds == 1801  # the first seen wins
    assert await billing.sql("SELECT count(*) FROM invoices") == 1
    assert await billing.sql("SELECT last_seq FROM invoice_counters") == 1


async def test_full_invoice_keeps_the_recipient_copy(billing: Any, ended: Any) -> None:
    event = ended(FULL_SECONDS)
    billing.vault.store(event.request_id)
    await billing.publish(event)
    (issued,) = await billing.wait_for(InvoiceIssued)
    assert issued.kind is InvoiceKind.FULL and issued.gross_total == Decimal("285.60")
    assert "Beispiel" not in issued.model_dump_json()
    body = (await billing.http.get(f"/api/invoices/{issued.invoice_number}")).json()
    assert body["recipient"] == {"company": "Beispiel AG", "contact_name": "Max Beispiel",
                                 "address": {"street": "Ring 5", "postal_code": "80331",
                                             "city": "München", "country": "DE"},
                                 "vat_id": None, "buyer_reference": None}
    assert body["tax_case"] == "domestic" and body["corrects"] is None and body["corrected_by"] is None
    assert billing.vault.calls == [(event.request_id, "billing")]


async def test_full_invoice_without_address_is_blocked_and_consumes_no_number(billing: Any, ended: Any) -> None:
    event = ended(FULL_SECONDS)
    billing.vault.store(event.request_id, address=False)
    await billing.publish(event)
    (blocked,) = await billing.wait_for(BillingBlocked)
    assert blocked.session_id == event.session_id and blocked.missing == ("billing_address",)
    await billing.settle()
    assert await billing.events(InvoiceIssued) == []
    assert await billing.sql("SELECT count(*) FROM invoices") == 0
    assert await billing.sql("SELECT coalesce(sum(last_seq), 0) FROM invoice_counters") == 0
    assert (await billing.http.get(f"/api/sessions/{event.session_id}")).json()["status"] == "blocked"

    await billing.publish(ended(900))
    (issued,) = await billing.wait_for(InvoiceIssued)
    assert issued.invoice_number == number(1)


async def test_address_provided_later_unblocks_the_full_invoice(billing: Any, ended: Any) -> None:
    event = ended(FULL_SECONDS)
    billing.vault.store(event.request_id, address=False)
    await billing.publish(event)
    await billing.wait_for(BillingBlocked)
    # The technician enters the address (session writes it to the vault, then says so).
    billing.vault.store(event.request_id, address=True)
    provided = BillingAddressProvided(session_id=event.session_id, request_id=event.request_id,
                                      **event.caused())
    await billing.publish(provided)
    (issued,) = await billing.wait_for(InvoiceIssued)
    assert issued.kind is InvoiceKind.FULL and issued.invoice_number == number(1)
    assert issued.causation_id == provided.event_id
    # Said twice: still one invoice, no further event.
    await billing.publish(BillingAddressProvided(session_id=event.session_id, request_id=event.request_id))
    await billing.settle()
    assert len(await billing.events(InvoiceIssued)) == 1
    assert (await billing.http.get(f"/api/sessions/{event.session_id}")).json()["status"] == "invoiced"


async def test_erased_data_close_a_blocked_session_and_a_late_address_is_ignored(billing: Any, ended: Any) -> None:
    """Retention's billing hold ended: the blocked session becomes a lost claim (not billed,
    recipient_data_erased); an address entered afterwards is logged and ignored, not parked."""
    event = ended(FULL_SECONDS)
    billing.vault.store(event.request_id, address=False)
    await billing.publish(event)
    await billing.wait_for(BillingBlocked)
    billing.vault.erased.add(event.request_id)
    gone = PersonalDataErased(request_id=event.request_id, reason=ErasureReason.ABANDONED, erased_at=utcnow())
    await billing.publish(gone)
    (lost,) = await billing.wait_for(SessionNotBilled)
    assert lost.reason is NotBilledReason.RECIPIENT_DATA_ERASED and lost.session_id == event.session_id
    assert (lost.raw_seconds, lost.causation_id) == (FULL_SECONDS, gone.event_id)
    assert lost.subject() == "fw.billing.session_not_billed.v2"
    view = (await billing.http.get(f"/api/sessions/{event.session_id}")).json()
    assert view["status"] == "not_billed" and view["invoice_number"] is None

    late = BillingAddressProvided(session_id=event.session_id, request_id=event.request_id)
    await billing.publish(late)
    await billing.publish(gone, msg_id=f"{gone.event_id}-again")  # a redelivered erasure: nothing new
    await billing.settle()
    assert await billing.sql("SELECT count(*) FROM dead_letters") == 0
    assert await billing.sql("SELECT count(*) FROM processed_events WHERE event_id = $1", late.event_id) == 1
    assert len(await billing.events(SessionNotBilled)) == 1 and await billing.events(InvoiceIssued) == []
    assert await billing.sql("SELECT coalesce(sum(last_seq), 0) FROM invoice_counters") == 0


async def test_address_provided_for_an_unknown_session_changes_nothing(billing: Any) -> None:
    await billing.publish(BillingAddressProvided(session_id=uuid.uuid4(), request_id=uuid.uuid4()))
    await billing.settle()
    assert await billing.events(InvoiceIssued) == [] and await billing.sql("SELECT count(*) FROM invoices") == 0


async def test_promoted_session_creates_the_customer_account(billing: Any, ended: Any) -> None:
    event = ended(1801, promoted=True)
    billing.vault.store(event.request_id, statement=True)
    await billing.publish(CustomerPromoted(session_id=event.session_id, request_id=event.request_id,
                                           technician="tech-03", statement_sha256="b" * 64,
                                           stated_at=event.started_at))
    await billing.publish(event)
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.settle()
    (created,) = await billing.events(CustomerAccountCreated)  # once, whichever consumer came first
    assert created.customer_number == "K00001" == issued.customer_number
    assert created.request_id == event.request_id

    account = (await billing.http.get("/api/customers/K00001")).json()
    assert account["company"] == "Beispiel AG" and account["phone"] == "+4989123456"
    assert account["statement"] == "Wir möchten Stammkunde werden." and account["technician"] == "tech-03"
    assert account["address"]["city"] == "München"
    listed = (await billing.http.get("/api/customers")).json()
    assert [c["customer_number"] for c in listed["items"]] == ["K00001"] and listed["total"] == 1
    assert (await billing.http.get(f"/api/invoices/{issued.invoice_number}")).json()["customer_number"] == "K00001"
    # No personal data in any event in the stream. (The office's own issuer details are printed
    # on every invoice: they are the declared office business data, here the "Beispiel" example.)
    for e in await billing.events():
        body = json.dumps(without_office_business_data(type(e), e.model_dump(mode="json")))
        assert "Beispiel" not in body and "Stammkunde" not in body


def transient_retries() -> float:
    """Billing's events nak'ed as transient so far (a process-wide counter: compare differences)."""
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "fw_events_redelivered"
               for sample in metric.samples if sample.name == "fw_events_redelivered_total"
               and sample.labels["kind"] == "transient" and sample.labels["consumer"].startswith("billing--"))


async def test_vault_away_delays_a_full_invoice_and_loses_nothing(billing: Any, ended: Any) -> None:
    await billing.stop_vault()
    event = ended(FULL_SECONDS)
    billing.vault.store(event.request_id)
    before = transient_retries()
    await billing.publish(event)
    # The handler met the missing vault twice and nak'ed the event as transient: retried, never parked.
    await eventually(transient_retries, until=lambda n: n >= before + 2, what="two transient retries")
    assert await billing.events(InvoiceIssued) == []
    assert await billing.sql("SELECT count(*) FROM dead_letters") == 0
    await billing.start_vault()
    (issued,) = await billing.wait_for(InvoiceIssued)
    assert issued.invoice_number == number(1) and issued.kind is InvoiceKind.FULL


async def test_customer_promoted_after_erasure_is_parked(billing: Any, ended: Any) -> None:
    request_id = uuid.uuid4()
    billing.vault.erased.add(request_id)
    await billing.publish(CustomerPromoted(session_id=uuid.uuid4(), request_id=request_id,
                                           technician="tech-03", statement_sha256="c" * 64,
                                           stated_at=utcnow()))
    await billing.settle()
    (reason,) = [r["reason"] for r in await billing.rows("SELECT reason FROM dead_letters")]
    assert reason == "vault refused (customer_account): erased"
    assert await billing.events(CustomerAccountCreated) == []


async def test_issued_invoices_are_immutable(billing: Any, ended: Any) -> None:
    await billing.publish(ended(900))
    (issued,) = await billing.wait_for(InvoiceIssued)
    for stmt in ("UPDATE invoices SET gross_total = 0 WHERE number = $1",
                 "DELETE FROM invoices WHERE number = $1"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await billing.sql(stmt, issued.invoice_number)


async def test_tariff_and_issuer_are_in_the_stream_before_the_invoice_and_once(billing: Any, ended: Any) -> None:
    await billing.publish(ended(1801))
    (issued,) = await billing.wait_for(InvoiceIssued)
    await billing.publish(ended(2000))
    await billing.wait_for(InvoiceIssued, 2)
    await billing.start_instance()  # a second start publishes nothing new
    conn = await asyncpg.connect(billing.env.dsn("billing"))
    try:
        recorded = await conn.fetch("SELECT kind, key FROM billing.published_reference ORDER BY id")
    finally:
        await conn.close()
    assert sorted((r["kind"], r["key"]) for r in recorded) == [("issuer", "-"), ("tariff", "2026-01")]
    events = await billing.events()
    tariffs = [e for e in events if isinstance(e, TariffPublished)]
    issuers = [e for e in events if isinstance(e, IssuerDetailsChanged)]
    assert [t.tariff_version for t in tariffs] == ["2026-01"] and len(issuers) == 1
    (tariff,) = tariffs
    assert issued.tariff_sha256 == tariff.tariff_sha256 == tariff_sha256(tariff.tariff)
    assert events.index(tariff) < events.index(issued) and events.index(issuers[0]) < events.index(issued)
    assert issuers[0].issuer.vat_id == "DE123456789" and issuers[0].previous_sha256 is None
