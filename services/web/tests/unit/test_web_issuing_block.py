"""Issue 14, deliverable 2: when billing could not issue the invoice, the technician's and the
office's pages say so in plain German, with the date the data are erased (fake services)."""

from __future__ import annotations

import uuid


async def _ended_session(web) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """A session started and ended through the console: (page url, session id, request id)."""
    rid = str(uuid.uuid4())
    web.services.queue = [{"request_id": rid, "ticket": "AB12-CD3", "customer_type": "business",
                           "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 60,
                           "company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1"}]
    await web.sign_in("technik")
    console = await web.client.get("/technik")
    started = await web.client.post("/technik/sitzungen", data={"request_id": rid, "ticket": "AB12-CD3",
                                                                "csrf_token": web.csrf_of(console.text)})
    page_url = started.headers["location"]
    page = await web.client.get(page_url)
    await web.client.post(f"{page_url}/beenden", data={"csrf_token": web.csrf_of(page.text)})
    return page_url, page_url.rsplit("/", 1)[1], rid


def _blocked(web, sid: str, rid: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    web.services.billing_sessions[sid] = {"session_id": sid, "request_id": rid, "status": "blocked",
                                          "raw_seconds": 9000, "tariff_version": "2026-01", "decided_at": None,
                                          "invoice_number": None, "block_reason": reason}
    web.services.request_status[rid] = {"request_id": rid, "state": "stored", "stored_at": "2026-05-04T09:58:00Z",
                                        "billing_blocked_at": "2026-05-04T10:00:05Z",
                                        "erase_by": "2026-08-02T10:00:05Z"}


async def test_the_technician_is_told_the_invoice_could_not_be_created(web) -> None:  # type: ignore[no-untyped-def]
    page_url, sid, rid = await _ended_session(web)
    _blocked(web, sid, rid, "document_render_failed")
    frag = await web.client.get(f"{page_url}/abrechnung", headers={"X-FW-Fragment": "1"})
    assert 'id="issuing-failed"' in frag.text and "data-poll-done" in frag.text
    assert "Rechnung konnte nicht erstellt werden" in frag.text and "unzulässigen Zeichens" in frag.text
    assert "Daten werden gelöscht am 02.08.2026, 12:00 Uhr" in frag.text
    assert "Rechnungsanschrift" not in frag.text and "wird erstellt" not in frag.text
    # any other permanent failure
    web.services.billing_sessions[sid]["block_reason"] = "issuing_failed"
    frag = await web.client.get(f"{page_url}/abrechnung", headers={"X-FW-Fragment": "1"})
    assert "Rechnung konnte nicht erstellt werden" in frag.text and "dauerhafter Fehler" in frag.text
    # the hold ended: the lost claim names the right cause
    web.services.billing_sessions[sid].update(status="not_billed", decided_at="2026-08-02T10:01:00Z")
    web.services.request_status[rid] = {"request_id": rid, "state": "erased", "erased_at": "2026-08-02T10:00:40Z",
                                        "reason": "abandoned", "billing_blocked_at": "2026-05-04T10:00:05Z"}
    page = await web.client.get(page_url)
    assert 'id="lost-claim"' in page.text and "konnte bis zum Ende der Abrechnungsfrist nicht erstellt" in page.text
    assert "Rechnungsanschrift lag" not in page.text


async def test_the_address_block_keeps_its_text(web) -> None:  # type: ignore[no-untyped-def]
    page_url, sid, rid = await _ended_session(web)
    _blocked(web, sid, rid, "billing_address_missing")
    frag = await web.client.get(f"{page_url}/abrechnung", headers={"X-FW-Fragment": "1"})
    assert "Rechnungsanschrift nötig" in frag.text and "nicht erstellt werden" not in frag.text


async def test_the_office_sees_why_a_session_has_no_invoice(web) -> None:  # type: ignore[no-untyped-def]
    _, sid, rid = await _ended_session(web)
    _blocked(web, sid, rid, "document_render_failed")
    office = await web.make_client()
    await web.sign_in("buero", client=office)
    page = await office.get("/buero", params={"sitzung": sid})
    assert page.status_code == 200
    assert "Zu dieser Sitzung gibt es keine Rechnung." in page.text and 'id="session-blocked"' in page.text
    assert "Rechnung konnte nicht erstellt werden" in page.text
    assert 'id="session-erase-by">02.08.2026, 12:00 Uhr' in page.text
    web.services.billing_sessions[sid]["block_reason"] = "billing_address_missing"
    page = await office.get("/buero", params={"sitzung": sid})
    assert "Rechnungsanschrift nötig" in page.text and "nicht erstellt werden" not in page.text
