"""A working day in a real headless Chromium against the real services: the technician knows whom
each session helps, ends one only after a question, and the lead sees every running session; the
office finds the invoices of the month, cancels one by keyboard, sees the badge, corrects it by
keyboard and prints; a
customer account is found, changed by keyboard and lists its invoices. Every page on the way passes
the axe-core scan at desktop and phone width without horizontal overflow."""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from a11y_kit import WIDTHS, axe_violations, overflow

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class Checks:
    """Collects scan findings of every page visited, at both widths."""

    def __init__(self) -> None:
        self.findings: list[str] = []
        self.scanned: list[str] = []

    async def page(self, page: Any, name: str) -> None:
        url = page.url
        for width, viewport in WIDTHS.items():
            await page.set_viewport_size(viewport)
            for v in await axe_violations(page):
                self.findings.append(f"{width} {url}: {v}")
            wider = await overflow(page)
            if wider > 0:
                self.findings.append(f"{width} {url}: {wider} px wider than the screen")
            await page.screenshot(path=str(SCREENSHOTS / f"30-{name}-{width}.png"), full_page=True)
        await page.set_viewport_size(WIDTHS["desktop"])
        self.scanned.append(url)


async def new_request(office: Any, company: str) -> str:
    """A support request as the customer form would send it; returns the ticket."""
    async with httpx.AsyncClient() as http:
        intake = office.procs["intake"].url
        terms = (await http.get(intake + "/api/terms/current")).json()["version"]
        resp = await http.post(intake + "/api/support-requests", json={
            "company": company, "contact_name": "Erika Musterfrau", "phone": "0170 5551234",
            "customer_type": "business", "terms_accepted": True, "terms_version": terms})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["ticket"])


async def sign_in(browser: Any, office: Any, username: str) -> Any:
    ctx = await browser.new_context(locale="de-DE", viewport=WIDTHS["desktop"], bypass_csp=True,
                                    accept_downloads=True)
    page = await ctx.new_page()
    await page.goto(office.url("/anmelden"))
    await page.get_by_label("Benutzername").fill(username)
    await page.get_by_label("Passwort").fill(office.password(username))
    await page.get_by_label("Passwort").press("Enter")  # keyboard: Enter submits
    await page.wait_for_url(re.compile(r"/(technik|buero|datenschutz)$"))
    return page


@pytest.mark.long(90)
async def test_a_working_day(office: Any, browser: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checks = Checks()
    tag = secrets.token_hex(2).upper()
    companies = [f"Alpha{tag} GmbH", f"Beta{tag} AG", f"Gamma{tag} KG"]
    tickets = [await new_request(office, c) for c in companies]

    # --- the technician: three sessions, each with its customer -------------------------------
    tech = await sign_in(browser, office, "technik")
    for ticket in tickets:
        await tech.locator("#queue tr", has_text=ticket).wait_for(timeout=15_000)
    row = tech.locator("#queue tr", has_text=tickets[0])
    assert companies[0] in await row.inner_text() and "+49 170 5551234" in await row.inner_text()
    assert re.search(r"\d+ Min\.|weniger als 1 Min\.", await row.inner_text())
    await checks.page(tech, "technik-warteschlange")
    sessions: list[str] = []
    for i, ticket in enumerate(tickets):
        await tech.goto(office.url("/technik"))
        start = tech.locator("#queue tr", has_text=ticket).get_by_role("button", name=re.compile("Sitzung starten"))
        await start.focus()
        await tech.keyboard.press("Enter")  # keyboard only
        await tech.wait_for_url(re.compile(r"/technik/sitzungen/[0-9a-f-]{36}$"))
        sessions.append(tech.url)
        assert await tech.locator("#caller-company").inner_text() == companies[i]
        assert await tech.locator("#caller-phone").get_attribute("href") == "tel:+491705551234"
        assert await tech.locator("#caller-phone").inner_text() == "+49 170 5551234"
        if i == 0:
            await tech.get_by_label("Erklärung im Wortlaut").fill(f"Ja, {companies[0]} möchte Stammkunde werden.")
            await tech.get_by_role("button", name="Erklärung speichern").focus()
            async with tech.expect_navigation():
                await tech.keyboard.press("Enter")
            assert "Die Erklärung ist gespeichert" in await tech.locator("main").inner_text()
            await checks.page(tech, "technik-sitzung")
    await tech.goto(office.url("/technik"))
    running = await tech.locator("#running-sessions").inner_text()
    assert all(c in running for c in companies), running
    await checks.page(tech, "technik-laufende")
    await tech.goto(office.url("/technik/alle"))
    lead = await tech.locator("#all-running").inner_text()
    assert all(c in lead for c in companies) and all(t in lead for t in tickets)
    await checks.page(tech, "technik-alle")

    # end the first two: a question first, answered by keyboard
    for url in sessions[:2]:
        await tech.goto(url)
        await tech.get_by_role("link", name=re.compile("Sitzung beenden")).focus()
        await tech.keyboard.press("Enter")
        await tech.wait_for_url(url + "/beenden")
        assert "wirklich beenden" in await tech.locator("h1").inner_text()
        if url == sessions[0]:
            await checks.page(tech, "technik-beenden-frage")
        await tech.get_by_role("button", name="Ja, Sitzung jetzt beenden").focus()
        await tech.keyboard.press("Enter")
        await tech.wait_for_url(url)
        assert "beendet" in await tech.locator("#session-status").inner_text()
        await tech.locator("#invoice-number").wait_for(timeout=30_000)
    numbers = []
    for url in sessions[:2]:
        await tech.goto(url)
        numbers.append(await tech.locator("#invoice-number").inner_text())
    # after the invoice the request's data are erased: the page says so plainly
    for _ in range(100):
        await tech.goto(sessions[1])
        if await tech.locator("#caller-erased").count():
            break
        await tech.wait_for_timeout(200)
    assert "gelöscht" in await tech.locator("#caller-erased").inner_text()
    assert companies[1] not in await tech.locator("main").inner_text()
    await checks.page(tech, "technik-kundendaten-geloescht")

    # --- the office: this month's invoices in two clicks, Storno by keyboard, badge, print -----
    desk = await sign_in(browser, office, "buero")
    await desk.get_by_role("link", name="Rechnungen", exact=True).click()  # click 1
    await desk.locator("#period-this-month").click()  # click 2
    listing = await desk.locator("main table").first.inner_text()
    assert all(n in listing for n in numbers), listing
    await checks.page(desk, "buero-rechnungen-monat")
    await desk.get_by_role("link", name=numbers[0]).first.click()
    await desk.wait_for_url(f"**/buero/rechnungen/{numbers[0]}")
    await checks.page(desk, "buero-rechnung")
    await desk.get_by_label("Grund").focus()
    await desk.keyboard.type("Doppelt")  # picks "Doppelt ausgestellt"
    await desk.keyboard.press("Tab")
    await desk.keyboard.press("Space")  # the confirmation checkbox
    await desk.keyboard.press("Tab")
    await desk.keyboard.press("Enter")  # "Stornieren"
    await desk.wait_for_url(re.compile(r"/buero/stornos/"))
    storno = await desk.locator("#cancellation-number").inner_text()
    await checks.page(desk, "buero-storno")
    await desk.goto(office.url(f"/buero/rechnungen/{numbers[0]}"))
    assert await desk.locator("#invoice-status").inner_text() == "storniert"
    assert await desk.locator("#storno-title").count() == 0  # no second Storno offered
    assert storno in await desk.locator("#cancelled-note").inner_text()
    await desk.goto(office.url("/buero?status=cancelled"))
    assert numbers[0] in await desk.locator("main").inner_text() and numbers[1] not in await desk.locator("main table").inner_text()
    await checks.page(desk, "buero-stornierte")
    # the cancelled invoice corrected by keyboard: reason, duration, Enter -> the new invoice
    await desk.goto(office.url(f"/buero/rechnungen/{numbers[0]}"))
    await checks.page(desk, "buero-korrektur-formular")
    await desk.get_by_label("Grund der Korrektur").focus()
    await desk.keyboard.type("Falsche")  # picks "Falsche Dauer"
    await desk.keyboard.press("Tab")
    await desk.keyboard.type("30")  # the corrected duration in minutes
    await desk.keyboard.press("Enter")
    await desk.wait_for_url(lambda url: "/buero/rechnungen/" in url and not url.endswith(numbers[0]))
    corrected = await desk.locator("#invoice-number").inner_text()
    assert corrected != numbers[0] and numbers[0] in await desk.locator("#invoice-corrects").inner_text()
    await checks.page(desk, "buero-korrigierte-rechnung")
    await desk.goto(office.url(f"/buero/rechnungen/{numbers[0]}"))
    assert await desk.locator("#invoice-status").inner_text() == "korrigiert"
    assert await desk.locator("#correction-title").count() == 0  # corrected once only
    assert corrected in await desk.locator("#corrected-note").inner_text()
    await desk.goto(office.url("/buero?status=corrected"))
    assert numbers[0] in await desk.locator("main table").inner_text()
    await desk.goto(office.url(f"/buero/rechnungen/{numbers[1]}"))
    await desk.locator("#print-view").click()
    await desk.wait_for_url(f"**/buero/druck/rechnungen/{numbers[1]}")
    assert numbers[1] in await desk.locator("h1").inner_text() and await desk.locator("header.top").count() == 0
    await checks.page(desk, "buero-druckansicht")

    # --- the customer account: search by keyboard, change the e-mail, its invoices -------------
    await desk.goto(office.url("/buero/kunden"))
    await desk.get_by_label("Kundenkonto suchen").fill(companies[0][:7].lower())
    await desk.get_by_label("Kundenkonto suchen").press("Enter")
    await desk.locator("#search-results").wait_for()
    await checks.page(desk, "buero-kundensuche")
    await desk.locator("#search-results").get_by_role("link").first.click()
    await desk.wait_for_url(re.compile(r"/buero/kunden/K\d+$"))
    account_url = desk.url
    assert numbers[0] in await desk.locator("#account-invoices").inner_text()
    await checks.page(desk, "buero-kundenkonto")
    await desk.locator("#edit-account").click()
    email = f"neu{tag.lower()}@example.org"
    await desk.get_by_label(re.compile("^E-Mail")).fill(email)
    await desk.get_by_label(re.compile("^E-Mail")).press("Enter")  # keyboard: Enter submits
    await desk.wait_for_url(account_url)
    assert email in await desk.locator("main").inner_text()
    assert "gespeichert" in await desk.locator("main").inner_text()
    await desk.locator("#edit-account").click()
    await checks.page(desk, "buero-kundenkonto-aendern")

    # --- public pages and the privacy officer's documents ---------------------------------------
    public = await browser.new_context(locale="de-DE", viewport=WIDTHS["desktop"], bypass_csp=True)
    form = await public.new_page()
    await form.goto(office.url("/"))
    assert "je angefangene 15 Minuten" in await form.locator("#price").inner_text()
    await form.get_by_role("link", name="Datenschutzhinweise").first.click()
    await checks.page(form, "datenschutzhinweise")
    await form.goto(office.url("/avv"))
    assert await form.locator("header.top").count() == 1 and await form.locator("#back-link").count() == 1
    await checks.page(form, "avv")
    dp = await sign_in(browser, office, "datenschutz")
    docs = dp.locator("a[href^='/datenschutz/verzeichnis/']")
    assert not re.search(r"\.html", await dp.locator("main").inner_text())  # titles, not file names
    await docs.first.click()
    assert await dp.locator("header.top").count() == 1 and await dp.locator("#back-link").count() == 1
    assert "Erzeugt aus" not in await dp.locator("main").inner_text()
    await checks.page(dp, "art30")
    await dp.goto(office.url("/datenschutz"))
    await checks.page(dp, "datenschutz")

    assert len(checks.scanned) >= 18
    assert not checks.findings, "\n".join(checks.findings)
