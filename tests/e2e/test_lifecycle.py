"""The whole lifecycle through the four real services, over HTTP, on real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import pytest

from fw_contracts import Header
from fw_contracts.reference import IssuerDetailsChanged, TariffPublished, TermsPublished
from fw_devenv.testing import eventually
from fw_platform.bus import connect

pytestmark = pytest.mark.e2e


def markers() -> dict[str, str]:
    tag = secrets.token_hex(4).upper()
    return {
        "company": f"Firma{tag} GmbH",
        "contact_name": f"Erika{tag} Musterfrau",
        # A valid Berlin number made unique per run: 030 + 8 digits.
        "phone": f"+4930{secrets.randbelow(10**8):08d}",
        "email": f"erika{tag.lower()}@example.org",
        "street": f"Teststrasse{tag} 1",
    }


def request_body(m: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"company": m["company"], "contact_name": m["contact_name"], "phone": m["phone"],
            "terms_accepted": True, "terms_version": "2026-01", **extra}


def forbidden_strings(m: dict[str, str]) -> list[str]:
    national = "0" + m["phone"][3:]  # +4930… -> 030…
    return [m["company"], m["contact_name"], m["phone"], m["phone"][1:], national, m["email"], m["street"]]


async def run_lifecycle(office, m: dict[str, str], *, promote: bool = False) -> dict[str, Any]:
    http = office.http
    r = await http.post(office.url("intake", "/api/support-requests"), json=request_body(m))
    assert r.status_code == 201, r.text
    created = r.json()
    request_id = created["request_id"]
    assert len(created["ticket"]) == 8

    async def queued() -> dict | None:
        q = await http.get(office.url("session", "/api/queue"))
        assert q.status_code == 200, q.text
        return next((x for x in q.json() if x["request_id"] == request_id), None)

    entry = await eventually(queued)
    assert entry["company"] == m["company"] and entry["phone"] == m["phone"]

    r = await http.post(office.url("session", "/api/sessions"),
                        json={"request_id": request_id, "technician": "tech-01"})
    assert r.status_code == 201, r.text
    session_id = r.json()["session_id"]
    if promote:
        r = await http.post(office.url("session", f"/api/sessions/{session_id}/promotion"),
                            json={"statement": f"Ja, {m['contact_name']} möchte Stammkunde werden."},
                            headers={"Fw-Technician": "tech-01"})
        assert r.status_code == 201, r.text
    await asyncio.sleep(1.1)  # a session of at least one second
    r = await http.post(office.url("session", f"/api/sessions/{session_id}/end"), headers={"Fw-Technician": "tech-01"})
    assert r.status_code == 200, r.text

    async def invoiced() -> list[dict[str, Any]]:
        r = await http.get(office.url("billing", "/api/invoices"), params={"session_id": session_id})
        assert r.status_code == 200, r.text  # an empty list until billing has issued it
        return list(r.json()["items"])

    [invoice] = await eventually(invoiced)

    async def erased() -> bool:
        r = await http.get(office.url("retention", f"/api/requests/{request_id}/status"))
        return r.status_code == 200 and r.json()["state"] == "erased"

    await eventually(erased)
    return {"request_id": request_id, "session_id": session_id, "invoice": invoice}


async def vault_get(office, request_id: str) -> dict:
    nc = await connect(office.env.nats_url, name="e2e-vault-probe")
    try:
        msg = await nc.request("vault.v1.get.billing", f'{{"request_id":"{request_id}","purpose":"billing"}}'.encode(),
                               timeout=5)
        import json
        return json.loads(msg.data)
    finally:
        await nc.close()


async def test_lifecycle_issues_invoice_and_erases_personal_data(office) -> None:
    m = markers()
    result = await run_lifecycle(office, m)
    invoice = result["invoice"]
    number = invoice["number"]
    r = await office.http.get(office.url("billing", f"/api/invoices/{number}"))
    assert r.status_code == 200 and r.json()["number"] == number

    # retention's status is its committed table; the event leaves its outbox just after (the
    # relay may wait a moment while the service is busy, fw_platform.outbox)
    async def erasure_published() -> bool:
        return bool(await office.events("PersonalDataErased"))

    await eventually(erasure_published)
    types = [e["event_type"] for e in await office.events()]
    for t in ("SupportRequestCreated", "SessionStarted", "SessionEnded", "InvoiceIssued", "PersonalDataErased"):
        assert types.count(t) == 1, (t, types)
    [erased] = await office.events("PersonalDataErased")
    assert erased["request_id"] == result["request_id"] and erased["reason"] == "invoice_issued"

    reply = await vault_get(office, result["request_id"])
    assert reply["ok"] is False and reply["error"] == "erased"

    for subject, body, headers in await office.stream_messages():
        blob = subject + body.decode() + repr(headers)
        for s in forbidden_strings(m):
            assert s not in blob, f"personal data in the stream: {subject}"


async def test_promotion_keeps_the_customer_account_and_still_erases_the_request(office) -> None:
    m = markers()
    result = await run_lifecycle(office, m, promote=True)
    assert result["invoice"].get("customer_number")
    r = await office.http.get(office.url("billing", f"/api/customers/{result['invoice']['customer_number']}"))
    assert r.status_code == 200, r.text
    account = r.json()
    assert account["company"] == m["company"] and account["phone"] == m["phone"]
    assert (await vault_get(office, result["request_id"]))["error"] == "erased"
    types = [e["event_type"] for e in await office.events()]
    assert types.count("CustomerPromoted") == 1 and types.count("CustomerAccountCreated") == 1
    for subject, body, _headers in await office.stream_messages():
        for s in forbidden_strings(m):
            assert s not in body.decode(), f"personal data in the stream: {subject}"


async def test_session_ended_delivered_twice_gives_one_invoice(office) -> None:
    m = markers()
    result = await run_lifecycle(office, m)
    [ended] = [(s, b) for s, b, _ in await office.stream_messages() if ".session_ended." in s]
    nc = await connect(office.env.nats_url, name="e2e-redeliver")
    try:
        # A different Nats-Msg-Id defeats JetStream's de-duplication: only billing's own
        # idempotency can stop a second invoice now.
        await nc.jetstream().publish(ended[0], ended[1], headers={Header.MSG_ID: str(uuid.uuid4())})
    finally:
        await nc.close()

    async def seen_twice() -> bool:
        return len(await office.events("SessionEnded")) == 2

    await eventually(seen_twice)

    async def billing_saw_the_copy() -> bool:
        # Not a sleep: wait until billing has actually consumed the second copy (counted as a
        # duplicate by its idempotency record), so the assertions below can fail.
        text = (await office.http.get(office.url("billing", "/metrics"))).text
        line = 'fw_events_duplicate_total{consumer="billing--session_billing"}'
        return any(row.startswith(line) and float(row.split()[-1]) >= 1 for row in text.splitlines())

    await eventually(billing_saw_the_copy)
    assert len(await office.events("InvoiceIssued")) == 1
    r = await office.http.get(office.url("billing", "/api/invoices"), params={"session_id": result["session_id"]})
    assert r.status_code == 200 and len(r.json()["items"]) == 1


@pytest.mark.parametrize("patch", [
    {"phone": "12"},
    {"terms_accepted": False},
    {"company": ""},
    {"contact_name": "x" * 500},
])
async def test_bad_intake_input_is_refused_and_nothing_is_published(office, patch: dict) -> None:
    m = markers()
    body = request_body(m) | patch
    r = await office.http.post(office.url("intake", "/api/support-requests"), json=body)
    assert r.status_code == 422
    text = r.text
    for s in forbidden_strings(m):
        assert s not in text
    assert r.json()["errors"], "a message per field is expected"
    # nothing but the reference data the services publish at start (terms, tariffs, issuer)
    reference = {TermsPublished.subject(), TariffPublished.subject(), IssuerDetailsChanged.subject()}
    assert [m for m in await office.stream_messages() if m[0] not in reference] == []
