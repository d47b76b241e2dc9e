"""In a real headless Chromium against the real services: a new support request appears in an
open queue page without a reload (server-sent events), at desktop and at 390 px, and the page
still offers its reload link without JavaScript; the technician writes the "work done" note by
keyboard, it is on the issued invoice (the office's print view and the archived PDF), frozen from
then on; a Storno records the office user. Every page on the way passes the axe-core scan at
both widths without horizontal overflow."""

from __future__ import annotations

import io
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import pypdf
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from a11y_kit import WIDTHS
from test_working_day_in_browser import Checks, new_request, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.mark.long(22)
async def test_a_new_request_appears_in_the_open_queue_without_a_reload(office: Any, browser: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checks = Checks()
    tag = secrets.token_hex(2).upper()
    tech = await sign_in(browser, office, "technik")
    streams: list[str] = []
    fragments: list[str] = []
    tech.on("request", lambda r: streams.append(r.url) if r.url.endswith("/technik/warteschlange/live") else None)
    tech.on("request", lambda r: fragments.append(r.url) if r.url.endswith("/technik/warteschlange") else None)
    for width, viewport in WIDTHS.items():
        await tech.set_viewport_size(viewport)
        await tech.goto(office.url("/technik"))
        await tech.evaluate("window.__notReloaded = true")
        company = f"Live{tag}{width} GmbH"
        ticket = await new_request(office, company)
        row = tech.locator("#queue tr", has_text=ticket)
        await row.wait_for(timeout=15_000)  # pushed: no reload, no navigation
        assert company in await row.inner_text()
        assert await tech.evaluate("window.__notReloaded === true"), "the page was reloaded"
        assert "wartende Anfrage" in await tech.locator("#queue-status").inner_text()
        await checks.page(tech, f"technik-warteschlange-live-{width}")
    assert streams, "the queue page did not open the server-sent events stream"
    # nothing changes: the page does not poll (it used to fetch the fragment every 2 s); at most
    # one fetch when a waiting time passes a full minute
    before = len(fragments)
    await tech.wait_for_timeout(6000)
    assert len(fragments) - before <= 1, fragments[before:]

    # without JavaScript: the queue is there and the page says how to refresh it
    nojs = await browser.new_context(locale="de-DE", viewport=WIDTHS["phone"], java_script_enabled=False)
    page = await nojs.new_page()
    await page.goto(office.url("/anmelden"))
    await page.get_by_label("Benutzername").fill("technik")
    await page.get_by_label("Passwort").fill(office.password("technik"))
    await page.get_by_label("Passwort").press("Enter")
    await page.wait_for_url(re.compile(r"/technik$"))
    assert f"Live{tag}phone GmbH" in await page.locator("#queue").inner_text()
    assert await page.get_by_role("link", name="Aktualisieren").count() == 1
    assert not checks.findings, "\n".join(checks.findings)


@pytest.mark.long(22)
async def test_the_work_note_goes_onto_the_invoice(office: Any, browser: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checks = Checks()
    tag = secrets.token_hex(2).upper()
    company = f"Notiz{tag} GmbH"
    note = f"Druckertreiber {tag} neu installiert, VPN-Zugang eingerichtet."
    ticket = await new_request(office, company)

    tech = await sign_in(browser, office, "technik")
    await tech.locator("#queue tr", has_text=ticket).wait_for(timeout=15_000)
    start = tech.locator("#queue tr", has_text=ticket).get_by_role("button", name=re.compile("Sitzung starten"))
    await start.focus()
    await tech.keyboard.press("Enter")
    await tech.wait_for_url(re.compile(r"/technik/sitzungen/[0-9a-f-]{36}$"))
    session_url = tech.url
    await checks.page(tech, "technik-notiz-leer")
    # keyboard only: into the field, type, Tab to the button, Enter
    await tech.get_by_label("Notiz für die Rechnung").focus()
    await tech.keyboard.type("x" * 10)
    await tech.keyboard.press("Control+A")
    await tech.keyboard.type(note)
    await tech.keyboard.press("Tab")
    async with tech.expect_navigation():
        await tech.keyboard.press("Enter")
    assert "Die Notiz ist gespeichert" in await tech.locator("main").inner_text()
    assert await tech.get_by_label("Notiz für die Rechnung").input_value() == note
    await checks.page(tech, "technik-notiz-gespeichert")

    # end the session (question, then yes) -> the invoice; the note is now frozen on it
    await tech.get_by_role("link", name=re.compile("Sitzung beenden")).click()
    await tech.get_by_role("button", name="Ja, Sitzung jetzt beenden").focus()
    await tech.keyboard.press("Enter")
    await tech.wait_for_url(session_url)
    await tech.locator("#invoice-number").wait_for(timeout=30_000)
    number = await tech.locator("#invoice-number").inner_text()
    await tech.goto(session_url)
    assert await tech.locator("#work-note-text").inner_text() == note
    assert await tech.get_by_label("Notiz für die Rechnung").count() == 0
    await checks.page(tech, "technik-notiz-eingefroren")

    # the office: the print view shows it on the line, the archived PDF has it
    desk = await sign_in(browser, office, "buero")
    await desk.goto(office.url(f"/buero/druck/rechnungen/{number}"))
    assert note in await desk.locator("#work-note").inner_text()
    await checks.page(desk, "buero-druck-notiz")
    pdf = await desk.request.get(office.url(f"/buero/rechnungen/{number}/pdf"))
    assert pdf.ok
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(await pdf.body())).pages)
    assert "Ausgeführte Arbeiten" in text and f"Druckertreiber {tag}" in re.sub(r"\s+", " ", text)

    # a Storno by keyboard records the office user; the print view says who
    await desk.goto(office.url(f"/buero/rechnungen/{number}"))
    await desk.get_by_label("Grund").focus()
    await desk.keyboard.type("Kulanz")
    await desk.keyboard.press("Tab")
    await desk.keyboard.press("Space")
    await desk.keyboard.press("Tab")
    await desk.keyboard.press("Enter")
    await desk.wait_for_url(re.compile(r"/buero/stornos/"))
    assert await desk.locator("#cancellation-actor").inner_text() == "buero"
    await checks.page(desk, "buero-storno-von")
    await desk.goto(office.url(f"/buero/druck/rechnungen/{number}"))
    assert "Storniert von buero." in await desk.locator("#document-actors").inner_text()
    assert note in await desk.locator("#work-note").inner_text()  # the note stays on the cancelled invoice

    assert not checks.findings, "\n".join(checks.findings)
