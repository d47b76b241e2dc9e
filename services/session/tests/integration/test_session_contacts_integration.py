"""Whom the technician helps: GET /api/sessions/{id}/contact and GET /api/running-sessions read the
caller from the vault (the queue's call and purpose) while it has them, and say when they were
erased (real NATS + PostgreSQL; vault: the test stub)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fw_contracts.events import PersonalDataErased
from fw_devenv.testing import eventually


async def running_session(h: Any, ticket: str, company: str, technician: str) -> tuple[uuid.UUID, str]:
    rid = await h.waiting_request(ticket, company)
    sid = await h.start_session(rid, technician)
    h.clock.advance(10)
    return rid, sid


async def test_contact_of_a_session_while_stored_and_after_erasure(harness: Any) -> None:
    h = harness
    rid, sid = await running_session(h, "AAAA-001", "Alpha GmbH", "tech-07")
    resp = await h.client.get(f"/api/sessions/{sid}/contact")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["contact"] == "available" and body["company"] == "Alpha GmbH"
    assert body["contact_name"] == "Erika Mustermann" and body["phone"] == "+4930123456"
    assert body["ticket"] == "AAAA-001" and body["technician"] == "tech-07" and body["erased_at"] is None

    erased_at = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    h.vault.erased.add(rid)
    gone = (await h.client.get(f"/api/sessions/{sid}/contact")).json()
    assert gone["contact"] == "erased" and gone["company"] is None and gone["phone"] is None
    await h.publish(PersonalDataErased(request_id=rid, reason="invoice_issued", erased_at=erased_at))
    after = await eventually(lambda: h.client.get(f"/api/sessions/{sid}/contact"),
                             until=lambda r: r.json()["erased_at"] is not None)
    assert after.json()["contact"] == "erased" and after.json()["erased_at"].startswith("2025-03-03T10:00")

    assert (await h.client.get(f"/api/sessions/{uuid.uuid4()}/contact")).status_code == 404


async def test_running_sessions_of_everyone_with_company(harness: Any) -> None:
    h = harness
    await running_session(h, "AAAA-001", "Alpha GmbH", "tech-07")
    await running_session(h, "BBBB-002", "Beta AG", "tech-08")
    _, ended = await running_session(h, "CCCC-003", "Gamma KG", "tech-07")
    assert (await h.client.post(f"/api/sessions/{ended}/end")).status_code == 200
    everyone = (await h.client.get("/api/running-sessions")).json()["items"]
    assert [(i["ticket"], i["company"], i["technician"]) for i in everyone] == [
        ("AAAA-001", "Alpha GmbH", "tech-07"), ("BBBB-002", "Beta AG", "tech-08")]
    mine = (await h.client.get("/api/running-sessions", params={"technician": "tech-08"})).json()["items"]
    assert [i["company"] for i in mine] == ["Beta AG"]
    assert (await h.client.get("/api/running-sessions", params={"technician": "X Y"})).status_code == 422

    await h.vault.stop()  # the vault is away: the sessions are still listed, without the caller
    away = (await h.client.get("/api/running-sessions")).json()["items"]
    assert [i["contact"] for i in away] == ["unavailable", "unavailable"] and away[0]["company"] is None


async def test_ticket_codes_of_requests(harness: Any) -> None:
    h = harness
    rid, _ = await running_session(h, "AAAA-001", "Alpha GmbH", "tech-07")
    unknown = uuid.uuid4()
    resp = await h.client.get("/api/tickets", params=[("request_id", str(rid)), ("request_id", str(unknown))])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"items": [{"request_id": str(rid), "ticket": "AAAA-001"}]}
    assert (await h.client.get("/api/tickets", params={"request_id": "x"})).status_code == 422
