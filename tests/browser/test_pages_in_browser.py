"""A person clicks through the whole lifecycle in a real browser, against the real services."""

from __future__ import annotations

import asyncio
import re
import secrets
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

#: Every visible input must have a label (checked on each page we visit).
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
    .filter(el => el.labels === null || el.labels.length === 0).map(el => el.name || el.id)"""


#: The artifacts of these tests (the browser fixture creates the folder).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


async def shot(page, name: str) -> None:
    """Save a full-page screenshot as a test artifact, and check the page's labels on the way."""
    assert await page.evaluate(UNLABELLED) == [], f"inputs without a label on {page.url}"
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def sign_in(context, office: Any, username: str):
    page = await context.new_page()
    await page.goto(office.url("/anmelden"))
    await page.get_by_label("Benutzername").fill(username)
    await page.get_by_label("Passwort").fill(office.password(username))
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_load_state()
    return page


def customer() -> dict[str, str]:
    tag = secrets.token_hex(3).upper()
    return {"company": f"Browser{tag} GmbH", "name": f"Erika{tag} Musterfrau",
            "phone": f"030 {secrets.randbelow(10**7):07d}", "email": f"erika{tag.lower()}@example.org"}


@pytest.mark.long(35)
async def test_the_whole_lifecycle_by_clicking(office: Any, browser) -> None:
    m = customer()
    # --- the technician signs in first and watches the (empty) queue --------------------------
    tech_ctx = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    signin = await tech_ctx.new_page()
    await signin.goto(office.url("/anmelden"))
    await shot(signin, "01-anmelden")
    await signin.close()
    tech = await sign_in(tech_ctx, office, "technik")
    assert tech.url.endswith("/technik")
    await tech.evaluate("window.__noReload = 'still-here'")  # gone if the page were reloaded
    await shot(tech, "02-technik-leere-warteschlange")

    # --- the customer fills in the form on a phone-sized screen ------------------------------
    cust_ctx = await browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844},
                                         is_mobile=True, has_touch=True)
    form = await cust_ctx.new_page()
    await form.goto(office.url("/"))
    assert await form.locator("h1").inner_text() == "Supportanfrage"
    await form.get_by_label("Firma").fill(m["company"])
    await form.get_by_label("Name", exact=True).fill(m["name"])
    await form.get_by_label("Telefon").fill(m["phone"])
    await form.get_by_label("E-Mail").fill(m["email"])
    waiver = form.locator("#f-withdrawal_waiver")
    assert not await waiver.is_visible()  # only for consumers
    await form.get_by_label("eine Privatperson").check()
    assert await waiver.is_visible()
    await waiver.check()
    await form.get_by_label(re.compile("Ich habe die Nutzungsbedingungen")).check()
    await shot(form, "03-formular-ausgefuellt-handy")
    await form.get_by_role("button", name="Anfrage senden").click()
    await form.wait_for_url("**/danke")
    ticket = (await form.locator("#ticket").inner_text()).replace("Vorgangsnummer:", "").strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{3}", ticket), ticket
    await shot(form, "04-vorgangsnummer-handy")
    # The customer takes the AVV (a download once retention serves it; recorded with the ticket only).
    async with httpx.AsyncClient() as http:
        avv_served = (await http.get(office.procs["retention"].url + "/api/avv")).status_code == 200
    if avv_served:
        async with form.expect_download() as info:
            await form.get_by_role("link", name=re.compile("Auftragsverarbeitungsvertrag")).first.click()
        download = await info.value
        assert download.suggested_filename.endswith(".html")
        assert "Art. 28 DSGVO" in Path(await download.path()).read_text(encoding="utf-8")

    # --- the request appears in the technician's queue without a reload ----------------------
    row = tech.locator("#queue tr", has_text=ticket)
    await row.wait_for(timeout=15_000)
    assert await tech.evaluate("window.__noReload") == "still-here"
    assert m["company"] in await row.inner_text()
    assert "1 wartende Anfrage" in await tech.locator("#queue-status").inner_text()
    await shot(tech, "05-technik-neue-anfrage")
    await tech.set_viewport_size({"width": 390, "height": 844})  # the queue on a phone: cards
    await shot(tech, "05b-technik-warteschlange-handy")
    await tech.set_viewport_size({"width": 1280, "height": 900})

    # --- start, record the promotion statement, end ------------------------------------------
    await row.get_by_role("button", name=re.compile("Sitzung starten")).click()
    await tech.wait_for_url(re.compile(r"/technik/sitzungen/[0-9a-f-]{36}$"))
    session_url = tech.url
    assert "läuft" in await tech.locator("#session-status").inner_text()
    first = await tech.locator("#timer").inner_text()
    await tech.get_by_label("Erklärung im Wortlaut").fill(f"Ja, {m['company']} möchte Stammkunde werden.")
    await tech.get_by_role("button", name="Erklärung speichern").click()
    await tech.wait_for_url(session_url)
    assert "Die Erklärung ist gespeichert" in await tech.locator("main").inner_text()
    await asyncio.sleep(1.2)  # a session of at least a second (the e2e tariff bills it)
    assert await tech.locator("#timer").inner_text() != first  # the clock runs
    await shot(tech, "06-technik-laufende-sitzung")
    # Signed out and in again (a new cookie without any history): the console lists the running
    # session from the session service, and it is ended from there.
    await tech.get_by_role("button", name=re.compile("Abmelden")).click()
    await tech.wait_for_url("**/anmelden")
    await tech.close()
    tech = await sign_in(tech_ctx, office, "technik")
    own = tech.locator("#running-sessions li", has_text=ticket)
    await own.get_by_role("link").click()
    await tech.wait_for_url(session_url)
    await tech.get_by_role("link", name=re.compile("Sitzung beenden")).click()  # asks first
    await tech.get_by_role("button", name="Ja, Sitzung jetzt beenden").click()
    await tech.wait_for_url(session_url)
    assert "beendet" in await tech.locator("#session-status").inner_text()

    # --- the invoice appears on the session page (polled) ------------------------------------
    number_el = tech.locator("#invoice-number")
    await number_el.wait_for(timeout=20_000)
    number = await number_el.inner_text()
    assert re.fullmatch(r"FW-\d{4}-\d{6}", number), number
    assert "40,46 €" in await tech.locator("#billing").inner_text()
    await shot(tech, "07-technik-rechnung")

    # --- the office finds the invoice and downloads its PDF ----------------------------------
    office_ctx = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900},
                                           accept_downloads=True)
    desk = await sign_in(office_ctx, office, "buero")
    await desk.get_by_label("Suche", exact=True).fill(number)  # an exact number opens the invoice
    await desk.get_by_label("Suche", exact=True).press("Enter")
    await desk.wait_for_url(f"**/buero/rechnungen/{number}")
    assert await desk.locator("#invoice-number").inner_text() == number
    assert "40,46 €" in await desk.locator("main").inner_text()
    await shot(desk, "08-buero-rechnung")
    async with httpx.AsyncClient() as http:
        pdf_route = await http.get(office.procs["billing"].url + f"/api/invoices/{number}.pdf")
    if pdf_route.status_code == 200:
        async with desk.expect_download() as info:
            await desk.get_by_role("link", name="PDF herunterladen").click()
        download = await info.value
        path = SCREENSHOTS.parent / f"{number}.pdf"
        await download.save_as(str(path))
        assert path.read_bytes().startswith(b"%PDF")
    else:
        # billing does not serve PDFs yet: the page must say so plainly instead of failing.
        warnings.warn(f"billing has no PDF route yet (HTTP {pdf_route.status_code}); checked the message only",
                      stacklevel=1)
        await desk.goto(office.url(f"/buero/rechnungen/{number}/pdf"))
        assert f"Für die Rechnung {number} liegt keine PDF-Datei vor." in await desk.locator("main").inner_text()
        await shot(desk, "08b-buero-pdf-fehlt")

    # The promotion made a customer account.
    # A Storno: a new document with its own number, the invoice itself stays.
    await desk.goto(office.url(f"/buero/rechnungen/{number}"))
    await desk.get_by_label("Grund").select_option("duplicate")
    await desk.get_by_label(re.compile("soll storniert werden")).check()
    await desk.get_by_role("button", name="Stornieren").click()
    await desk.wait_for_url(re.compile(r"/buero/stornos/"))
    storno = await desk.locator("#cancellation-number").inner_text()
    assert storno != number and "-40,46 €" in await desk.locator("main").inner_text()
    await shot(desk, "08c-buero-storno")

    await desk.goto(office.url("/buero/kunden"))
    await desk.get_by_role("link", name=re.compile(r"^K\d+")).first.wait_for()
    assert m["company"] in await desk.locator("main").inner_text()
    await shot(desk, "09-buero-kundenkonten")
    await desk.goto(office.url("/buero/zustellungen"))
    await shot(desk, "10-buero-zustellungen")

    # --- privacy: the request's data were erased; the page shows ids only --------------------
    privacy_ctx = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    dp = await sign_in(privacy_ctx, office, "datenschutz")
    for _ in range(50):
        if await dp.locator("#done ~ table tbody tr").count():
            break
        await asyncio.sleep(0.2)
        await dp.reload()
    text = await dp.locator("main").inner_text()
    assert "Rechnung erstellt" in text
    if avv_served:
        assert ticket in text  # the AVV request, by ticket
    assert m["company"] not in text and m["name"] not in text
    await shot(dp, "11-datenschutz")
    record = dp.locator("a[href^='/datenschutz/verzeichnis/']")
    if await record.count():  # the Art. 30 record, where docs/privacy has it
        await record.first.click()
        await dp.wait_for_load_state()
        await shot(dp, "12-datenschutz-verzeichnis")

    # Nothing the customer typed reached the web service's log.
    log = office.web.log_path.read_text()
    for secret in (m["company"], m["name"], m["email"], m["phone"].replace(" ", "")):
        assert secret not in log

    for ctx in (tech_ctx, cust_ctx, office_ctx, privacy_ctx):
        await ctx.close()


async def test_wrong_input_shows_german_field_errors(office: Any, browser) -> None:
    ctx = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await page.goto(office.url("/"))
    await shot(page, "20-formular-leer")
    # Keyboard only: type into the fields, tick the terms with Space, send with Enter.
    await page.get_by_label("Firma").fill("Tastatur GmbH")
    await page.get_by_label("Name", exact=True).fill("Max Mustermann")
    await page.get_by_label(re.compile("Ich habe die Nutzungsbedingungen")).focus()
    await page.keyboard.press("Space")
    phone = page.get_by_label("Telefon")
    await phone.fill("12")
    await phone.press("Enter")
    await page.wait_for_load_state()
    error = page.locator("#f-phone-error")
    await error.wait_for()
    assert "Bitte geben Sie eine gültige Telefonnummer an" in await error.inner_text()
    assert await phone.get_attribute("aria-invalid") == "true"
    assert await page.get_by_label("Firma").input_value() == "Tastatur GmbH"  # kept
    assert await page.evaluate("document.activeElement.id") == "fehler"  # the summary is announced
    await shot(page, "21-formular-feldfehler")

    # A consumer must confirm the withdrawal notice; an incomplete address is named field by field.
    await page.get_by_label("Telefon").fill("030 1234567")
    await page.get_by_label("eine Privatperson").check()
    await page.get_by_label("Postleitzahl").fill("123")
    await page.get_by_role("button", name="Anfrage senden").click()
    await page.locator("#f-withdrawal_waiver-error").wait_for()
    assert "§ 356 Abs. 4 BGB" in await page.locator("#f-withdrawal_waiver-error").inner_text()
    assert "vollständig" in await page.locator("#f-street-error").inner_text()
    await shot(page, "22-formular-widerruf-anschrift")

    # Wrong password: one generic message.
    await page.goto(office.url("/anmelden"))
    await page.get_by_label("Benutzername").fill("technik")
    await page.get_by_label("Passwort").fill("falsch")
    await page.get_by_role("button", name="Anmelden").click()
    await page.locator("#signin-error").wait_for()
    assert await page.locator("#signin-error").inner_text() == "Benutzername oder Passwort ist falsch."
    await shot(page, "23-anmelden-falsch")

    # The AVV link answers (a download once retention serves it, a plain message until then).
    resp = await page.goto(office.url("/avv"))
    assert resp is not None and resp.status in (200, 404)
    if resp.status == 404:  # retention does not serve it yet: a plain message, not an error page
        assert "Auftragsverarbeitungsvertrag" in await page.locator("main").inner_text()
    else:
        assert "Art. 28 DSGVO" in await page.locator("body").inner_text()
    await shot(page, "24-avv")
    await ctx.close()
