"""The technician sees whom they help: company, contact and a click-to-call phone on the session
page while the vault has them (and plainly when they were erased); the company in the running list;
a confirmation page before ending; the lead's view of every running session."""

from __future__ import annotations

import uuid


async def _started(web, technician: str = "technik", company: str = "Beispiel GmbH",
                   ticket: str = "AB12-CD3") -> str:  # type: ignore[no-untyped-def]
    rid = str(uuid.uuid4())
    web.services.queue = [{"request_id": rid, "ticket": ticket, "customer_type": "business",
                           "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 60,
                           "company": company, "contact_name": "Erika Musterfrau", "phone": "+491705551234"}]
    console = await web.client.get("/technik")
    started = await web.client.post("/technik/sitzungen", data={"request_id": rid, "ticket": ticket,
                                                                 "csrf_token": web.csrf_of(console.text)})
    sid: str = started.headers["location"].rsplit("/", 1)[1]
    web.services.sessions[sid]["ticket"] = ticket
    web.services.queue = []
    return sid


async def test_the_session_page_shows_the_caller_and_says_when_erased(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    sid = await _started(web)
    page = await web.client.get(f"/technik/sitzungen/{sid}")
    assert 'id="caller-company">Beispiel GmbH<' in page.text and 'id="caller-name">Erika Musterfrau<' in page.text
    assert 'href="tel:+491705551234">+49 170 5551234<' in page.text
    web.services.erased_requests.add(web.services.sessions[sid]["request_id"])
    gone = await web.client.get(f"/technik/sitzungen/{sid}")
    assert 'id="caller-erased"' in gone.text and "gelöscht" in gone.text and "Beispiel GmbH" not in gone.text
    web.services.down.add("session")
    assert (await web.client.get(f"/technik/sitzungen/{sid}")).status_code == 503


async def test_ending_asks_first_then_ends(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    sid = await _started(web)
    page = await web.client.get(f"/technik/sitzungen/{sid}")
    # the big red button no longer ends the session: it leads to a question
    assert f'href="/technik/sitzungen/{sid}/beenden"' in page.text
    assert f'action="/technik/sitzungen/{sid}/beenden"' not in page.text
    ask = await web.client.get(f"/technik/sitzungen/{sid}/beenden")
    assert ask.status_code == 200 and "wirklich beenden" in ask.text and "Beispiel GmbH" in ask.text
    assert web.services.sessions[sid]["status"] == "running"
    done = await web.client.post(f"/technik/sitzungen/{sid}/beenden", data={"csrf_token": web.csrf_of(ask.text)})
    assert done.status_code == 303 and web.services.sessions[sid]["status"] == "ended"
    again = await web.client.get(f"/technik/sitzungen/{sid}/beenden")
    assert 'id="already-ended"' in again.text and 'id="confirm-end"' not in again.text
    assert (await web.client.get(f"/technik/sitzungen/{uuid.uuid4()}/beenden")).status_code == 404


async def test_three_running_sessions_each_with_its_company(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    for company, ticket in (("Alpha GmbH", "AAAA-001"), ("Beta AG", "BBBB-002"), ("Gamma KG", "CCCC-003")):
        await _started(web, company=company, ticket=ticket)
    console = await web.client.get("/technik")
    running = console.text.split('id="running-sessions"', 1)[1].split("</section>", 1)[0]
    for company in ("Alpha GmbH", "Beta AG", "Gamma KG"):
        assert f"<strong>{company}</strong>" in running


async def test_the_lead_sees_every_running_session(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    await _started(web, company="Alpha GmbH", ticket="AAAA-001")
    web.services.sessions[next(iter(web.services.sessions))]["technician"] = "tech-08"  # someone else's
    await _started(web, company="Beta AG", ticket="BBBB-002")
    page = await web.client.get("/technik/alle")
    assert page.status_code == 200 and 'id="all-running"' in page.text
    assert "Alpha GmbH" in page.text and "Beta AG" in page.text and "tech-08" in page.text
    assert 'href="/technik/alle"' in page.text  # in the navigation
    office = await web.make_client()
    await web.sign_in("buero", client=office)
    assert (await office.get("/technik/alle")).status_code == 403
    web.services.down.add("session")
    assert "nicht erreichbar" in (await web.client.get("/technik/alle")).text
