"""The console's "Meine laufenden Sitzungen": from the session service, not from the browser's cookie."""

from __future__ import annotations

import uuid

from fw_web.entrypoints.public import UNREACHABLE


async def _start_session(web, client) -> str:  # type: ignore[no-untyped-def]
    """A session started through the console of ``client``; returns its id."""
    rid = str(uuid.uuid4())
    web.services.queue = [{"request_id": rid, "ticket": "AB12-CD3", "customer_type": "business",
                           "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 60,
                           "company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1"}]
    console = await client.get("/technik")
    started = await client.post("/technik/sitzungen", data={"request_id": rid, "ticket": "AB12-CD3",
                                                             "csrf_token": web.csrf_of(console.text)})
    assert started.status_code == 303, started.text
    sid: str = started.headers["location"].rsplit("/", 1)[1]
    web.services.sessions[sid]["ticket"] = "AB12-CD3"  # the session service joins its queue's ticket
    web.services.queue = []
    return sid


def _running_section(html: str) -> str:
    return html.split('id="running-sessions"', 1)[1].split("</section>", 1)[0]


async def test_a_fresh_sign_in_lists_the_running_session_and_it_can_be_ended(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    sid = await _start_session(web, web.client)
    # another technician's running session is not ours
    other = str(uuid.uuid4())
    web.services.sessions[other] = {**web.services.sessions[sid], "session_id": other, "technician": "tech-99",
                                    "ticket": "ZZ99-ZZ9"}

    # another browser (no cookie history at all): the running session is listed from the service
    browser = await web.make_client()
    await web.sign_in("technik", client=browser)
    console = await browser.get("/technik")
    assert console.status_code == 200
    running = _running_section(console.text)
    assert "Meine laufenden Sitzungen" in running
    assert f'href="/technik/sitzungen/{sid}"' in running and "AB12-CD3" in running
    assert other not in console.text and "ZZ99-ZZ9" not in console.text
    # the company says whom each session helps (issue 18); the contact's name stays on the session page
    assert "<strong>Beispiel GmbH</strong>" in running and "Erika" not in running
    asked = [r for r in web.services.seen if r.method == "GET" and r.url.path == "/api/sessions"]
    assert {(r.url.params["technician"], r.url.params["status"]) for r in asked} >= {("technik", "running"),
                                                                                    ("technik", "ended")}

    # signed out and in again in the first browser: still listed (the cookie was replaced)
    await web.client.post("/abmelden", data={"csrf_token": web.csrf_of((await web.client.get("/technik")).text)})
    await web.sign_in("technik")
    assert f'href="/technik/sitzungen/{sid}"' in _running_section((await web.client.get("/technik")).text)

    # the link leads to the session's page, where it is ended
    page = await browser.get(f"/technik/sitzungen/{sid}")
    assert "Sitzung beenden" in page.text
    ended = await browser.post(f"/technik/sitzungen/{sid}/beenden", data={"csrf_token": web.csrf_of(page.text)})
    assert ended.status_code == 303 and web.services.sessions[sid]["status"] == "ended"
    after = await browser.get("/technik")
    assert sid not in _running_section(after.text) and "Keine laufende Sitzung." in after.text
    done = after.text.split('id="ended-sessions"', 1)[1]
    assert f'href="/technik/sitzungen/{sid}"' in done and "Dauer 0:01:00" in done


async def test_no_session_yet_says_so(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    page = await web.client.get("/technik")
    assert "Keine laufende Sitzung." in page.text and "Noch keine beendete Sitzung." in page.text


async def test_session_service_unreachable_is_said_plainly_not_a_500(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    await _start_session(web, web.client)
    web.services.down.add("session")
    page = await web.client.get("/technik")
    assert page.status_code == 200
    running = _running_section(page.text)
    assert 'class="note note-error"' in running and UNREACHABLE in running
    assert 'id="ended-sessions"' not in page.text  # one message is enough


async def test_another_technicians_session_offers_a_recorded_takeover_not_the_session(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    mine = await _start_session(web, web.client)
    other = str(uuid.uuid4())
    web.services.sessions[other] = {**web.services.sessions[mine], "session_id": other, "technician": "tech-99",
                                    "ticket": "ZZ99-ZZ9"}
    page = await web.client.get(f"/technik/sitzungen/{other}")
    assert page.status_code == 403
    assert "Sitzung übernehmen" in page.text and f'action="/technik/sitzungen/{other}/uebernehmen"' in page.text
    assert "Sitzung beenden" not in page.text and "ZZ99-ZZ9" not in page.text
    # ending it without a takeover is refused by session, and said so
    refused = await web.client.post(f"/technik/sitzungen/{other}/beenden", data={"csrf_token": web.csrf_of(page.text)})
    assert refused.status_code == 303 and web.services.sessions[other]["status"] == "running"
    assert (await web.client.get(f"/technik/sitzungen/{other}/abrechnung")).status_code == 403

    taken = await web.client.post(f"/technik/sitzungen/{other}/uebernehmen", data={"csrf_token": web.csrf_of(page.text)})
    assert taken.status_code == 303 and taken.headers["location"] == f"/technik/sitzungen/{other}"
    assert web.services.sessions[other]["technician"] == "technik"
    now_mine = await web.client.get(f"/technik/sitzungen/{other}")
    assert now_mine.status_code == 200 and "Sie haben die Sitzung übernommen." in now_mine.text
    assert "Sitzung beenden" in now_mine.text
    # every call about a session named the signed-in technician
    about = [r for r in web.services.seen if r.url.port == 8082 and r.url.path.startswith("/api/sessions/")]
    assert about and {r.headers.get("Fw-Technician") for r in about} == {"technik"}
    takeovers = [r for r in about if r.url.path.endswith("/takeover")]
    assert len(takeovers) == 1 and takeovers[0].method == "POST"


async def test_a_takeover_without_csrf_is_refused(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    sid = await _start_session(web, web.client)
    web.services.sessions[sid]["technician"] = "tech-99"
    resp = await web.client.post(f"/technik/sitzungen/{sid}/uebernehmen", data={})
    assert resp.status_code == 403
    assert web.services.sessions[sid]["technician"] == "tech-99"
