"""The customer fetches the invoice with the download code in a real browser (issue 21).

The four services and web as real processes, a headless Chromium: the form is sent, the thank-you
page shows the link ``/rechnung#<code>`` once; following it, the page's script moves the code from
the fragment into a POST form (the address bar loses it); before the invoice the page says so,
after the session the archived PDF is downloaded — byte for byte billing's archive. A wrong code
is a neutral 404. Afterwards no service log (web, intake, billing, …) holds the code, and it never
was in a URL path.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


async def _invoice_number(office: Any, http: httpx.AsyncClient, session_id: str) -> str:
    for _ in range(300):
        r = await http.get(office.procs["billing"].url + "/api/invoices", params={"session_id": session_id})
        body = r.json() if r.status_code == 200 else {}
        items = body.get("items", []) if isinstance(body, dict) else body
        if items:
            return str(items[0]["number"])
        await asyncio.sleep(0.1)
    raise AssertionError("no invoice issued")


async def test_the_customer_downloads_the_invoice_with_the_link_from_the_thank_you_page(office: Any,
                                                                                         browser) -> None:
    tag = secrets.token_hex(3).upper()
    ctx = await browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844}, accept_downloads=True)
    form = await ctx.new_page()
    await form.goto(office.url("/"))
    await form.get_by_label("Firma").fill(f"Abruf{tag} GmbH")
    await form.get_by_label("Name", exact=True).fill(f"Erika{tag} Musterfrau")
    await form.get_by_label("Telefon").fill(f"030 {secrets.randbelow(10**7):07d}")
    await form.get_by_label(re.compile("Ich habe die Nutzungsbedingungen")).check()
    await form.get_by_role("button", name="Anfrage senden").click()
    await form.wait_for_url("**/danke")
    link = form.get_by_role("link", name="Meine Rechnung abrufen")
    href = await link.get_attribute("href")
    assert href is not None and href.startswith("/rechnung#")
    code = href.split("#", 1)[1]
    assert len(code) >= 43 and code == (await form.locator("#download-code").inner_text()).strip()

    # following the link before the invoice: the script posts the code, the page says "not yet"
    await link.click()
    await form.wait_for_url("**/rechnung")
    await form.get_by_text("liegt noch nicht vor").wait_for()
    assert code not in form.url  # the fragment is gone from the address bar (and never was sent)

    # the technician works the request (over the services' APIs), billing issues the invoice
    async with httpx.AsyncClient(timeout=10) as http:
        queue = await http.get(office.procs["session"].url + "/api/queue")
        [entry] = [q for q in queue.json() if q["company"] == f"Abruf{tag} GmbH"]
        started = await http.post(office.procs["session"].url + "/api/sessions",
                                  json={"request_id": entry["request_id"], "technician": "tech-01"})
        session_id = started.json()["session_id"]
        assert (await http.post(office.procs["session"].url + f"/api/sessions/{session_id}/end",
                                headers={"Fw-Technician": "tech-01"})).status_code == 200
        number = await _invoice_number(office, http, session_id)
        archived = (await http.get(office.procs["billing"].url + f"/api/invoices/{number}.pdf")).content

    # the same link, days later in another tab: the invoice is there
    again = await ctx.new_page()
    await again.goto(office.url(href))
    button = again.get_by_role("button", name=re.compile(f"Rechnung {number}"))
    await button.wait_for()
    assert code not in again.url
    async with again.expect_download() as info:
        await button.click()
    download = await info.value
    assert download.suggested_filename == f"{number}.pdf"
    assert Path(await download.path()).read_bytes() == archived  # the archived copy, as issued

    # a wrong code: the neutral answer
    wrong = await ctx.new_page()
    await wrong.goto(office.url("/rechnung#" + secrets.token_urlsafe(32)))
    await wrong.get_by_text("keine Rechnung (mehr)").wait_for()
    await ctx.close()

    logs = {p.name: p.read_bytes() for p in office.env.work_dir.glob("*.log")}
    # the logs did see the flow (so the scan below looks at the right files)
    assert b"invoice downloaded" in logs["web.log"] and b"download code refused" in logs["web.log"]
    assert {"intake.log", "billing.log"} <= set(logs)
    leaked = [name for name, data in logs.items() if code.encode() in data]
    assert leaked == [], f"the download code is in {leaked}"
