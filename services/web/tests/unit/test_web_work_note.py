"""The technician's "work done" note: written on the own session page, kept by billing (the text
only in a request body, never in a log), refused with a clear German message once the invoice is
issued; other technicians' sessions are refused; the office's print view shows it on the line."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from .test_web_technician_caller import _started

NOTE = "Druckertreiber neu installiert; VPN-Zugang für Frau Musterfrau eingerichtet."


def _note_puts(web: Any) -> list[Any]:
    return [r for r in web.services.seen if r.method == "PUT" and r.url.path.endswith("/work-note")]


async def test_the_technician_writes_the_note_and_billing_gets_it_with_their_id(web, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    await web.sign_in("technik")
    sid = await _started(web)
    page = await web.client.get(f"/technik/sitzungen/{sid}")
    assert f'action="/technik/sitzungen/{sid}/notiz"' in page.text and 'id="note"' in page.text
    saved = await web.post_form(f"/technik/sitzungen/{sid}", f"/technik/sitzungen/{sid}/notiz", {"note": NOTE})
    assert saved.status_code == 303 and saved.headers["location"] == f"/technik/sitzungen/{sid}#notiz"
    (put,) = _note_puts(web)
    assert json.loads(put.content) == {"note": NOTE, "written_by": "technik"}
    assert "Musterfrau" not in str(put.url) and all("Musterfrau" not in v for v in put.headers.values())
    again = await web.client.get(f"/technik/sitzungen/{sid}")
    assert "Notiz ist gespeichert" in again.text and f">{NOTE}</textarea>" in again.text
    assert "VPN-Zugang" not in caplog.text


async def test_a_bad_note_comes_back_with_its_text_and_a_german_reason(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    sid = await _started(web)
    long = "Sehr lange Notiz " * 40
    refused = await web.post_form(f"/technik/sitzungen/{sid}", f"/technik/sitzungen/{sid}/notiz", {"note": long})
    assert refused.status_code == 422 and "höchstens 500" in refused.text
    assert 'aria-invalid="true"' in refused.text and "Sehr lange Notiz" in refused.text
    bidi = await web.post_form(f"/technik/sitzungen/{sid}", f"/technik/sitzungen/{sid}/notiz",
                               {"note": "Treiber\u202e neu"})
    assert bidi.status_code == 422 and "Formatierungszeichen" in bidi.text
    assert _note_puts(web) == []  # nothing reached billing


async def test_once_invoiced_the_note_is_read_only_and_a_late_change_is_refused(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    sid = await _started(web)
    form = await web.client.get(f"/technik/sitzungen/{sid}")
    await web.post_form(f"/technik/sitzungen/{sid}", f"/technik/sitzungen/{sid}/notiz", {"note": NOTE})
    web.services.invoices["FW-2026-000009"] = {**web.services.invoices["FW-2026-000001"],
                                               "number": "FW-2026-000009", "session_id": sid}
    late = await web.client.post(f"/technik/sitzungen/{sid}/notiz",
                                 data={"note": "Nachträglich", "csrf_token": web.csrf_of(form.text)})
    assert late.status_code == 422 and "bereits ausgestellt" in late.text
    assert f'id="work-note-text">{NOTE}<' in late.text and "Nachträglich" not in late.text
    assert 'id="note"' not in late.text  # no form any more
    assert web.services.work_notes[sid]["note"] == NOTE


async def test_another_technicians_session_is_refused_before_billing_is_asked(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    sid = await _started(web)
    form = await web.client.get(f"/technik/sitzungen/{sid}")
    web.services.sessions[sid]["technician"] = "tech-08"
    refused = await web.client.post(f"/technik/sitzungen/{sid}/notiz",
                                    data={"note": NOTE, "csrf_token": web.csrf_of(form.text)})
    assert refused.status_code == 403 and _note_puts(web) == []
    unknown = await web.client.post(f"/technik/sitzungen/{uuid.uuid4()}/notiz",
                                    data={"note": NOTE, "csrf_token": web.csrf_of(form.text)})
    assert unknown.status_code == 404 and _note_puts(web) == []
    no_csrf = await web.client.post(f"/technik/sitzungen/{sid}/notiz", data={"note": NOTE})
    assert no_csrf.status_code in (400, 403) and _note_puts(web) == []


async def test_the_office_print_view_shows_the_note_on_the_line(web) -> None:  # type: ignore[no-untyped-def]
    session_id = web.services.invoices["FW-2026-000001"]["session_id"]
    web.services.work_notes[session_id] = {"session_id": session_id, "note": NOTE, "written_by": "technik",
                                           "written_at": "2026-05-04T10:00:00Z", "state": "frozen"}
    await web.sign_in("buero")
    page = await web.client.get("/buero/druck/rechnungen/FW-2026-000001")
    assert page.status_code == 200 and f'id="work-note">Ausgeführte Arbeiten: {NOTE}<' in page.text
    del web.services.work_notes[session_id]
    assert "Ausgeführte Arbeiten" not in (await web.client.get("/buero/druck/rechnungen/FW-2026-000001")).text
