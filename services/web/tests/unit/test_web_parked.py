"""The office page of parked messages: every service's list, where and why, never the content."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fw_platform.parked import ParkedList, ParkedMessage


def _parked(consumer: str, seq: int, code: str, at: datetime) -> dict[str, Any]:
    # built from the services' own response model, so the fake answers in the real shape
    item = ParkedMessage(id=seq, consumer=consumer, stream_seq=seq, subject="fw.session.session_ended.v1",
                         event_id=None if code == "undecodable" else uuid.uuid4(), reason_code=code,
                         deliveries=1 if code == "undecodable" else 5, parked_at=at, resolved_at=None)
    return ParkedList(service="x", unresolved=1, items=[item]).model_dump(mode="json")["items"][0]


async def test_the_office_sees_parked_messages_of_every_service(web) -> None:
    web.services.parked = {
        "billing": [_parked("billing--session_ended", 17, "undecodable", datetime(2026, 5, 4, 8, 0, tzinfo=UTC))],
        "retention": [_parked("retention--invoice_issued", 23, "failing", datetime(2026, 5, 4, 9, 30, tzinfo=UTC))],
    }
    web.services.down = {"intake"}
    await web.sign_in("buero")
    page = await web.client.get("/buero/geparkt")
    assert page.status_code == 200
    text = page.text
    assert "billing--session_ended" in text and "retention--invoice_issued" in text
    assert "Nicht lesbar (kein gültiges Ereignis)" in text and "Verarbeitung wiederholt fehlgeschlagen" in text
    assert "04.05.2026, 11:30 Uhr" in text and "04.05.2026, 10:00 Uhr" in text  # Berlin time
    assert text.index("retention--invoice_issued") < text.index("billing--session_ended")  # newest first
    assert "Der Dienst „intake“ ist gerade nicht erreichbar" in text
    asked = [r for r in web.services.seen if r.url.path == "/api/parked-messages"]
    assert sorted(r.url.port for r in asked) == [8081, 8082, 8083, 8084]  # every service asked


async def test_nothing_parked_says_so(web) -> None:
    await web.sign_in("buero")
    page = await web.client.get("/buero/geparkt")
    assert page.status_code == 200 and "Keine geparkten Nachrichten." in page.text
    assert 'href="/buero/geparkt"' in (await web.client.get("/buero")).text  # in the office menu


async def test_the_page_is_for_the_office_only(web) -> None:
    assert (await web.client.get("/buero/geparkt", follow_redirects=False)).status_code == 303
    await web.sign_in("technik")
    assert (await web.client.get("/buero/geparkt", follow_redirects=False)).status_code == 403
