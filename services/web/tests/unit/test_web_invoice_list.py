"""The office's invoice list: newest first, filters and search passed to billing, badges for
cancelled invoices, the Storno form only where it applies, the print view, paging."""

from __future__ import annotations

import re
from datetime import date, datetime

from fw_web.domain.formatting import BERLIN
from fw_web.domain.invoice_filters import InvoiceQuery, month


def _invoice(web, number: str, issued_at: str, **extra: object) -> dict[str, object]:
    return {**web.services.invoices["FW-2026-000001"], "number": number, "issued_at": issued_at, **extra}


def test_month_ranges_cross_the_year() -> None:
    assert month(date(2026, 1, 15), 1) == (date(2025, 12, 1), date(2025, 12, 31))
    assert month(date(2026, 3, 31)) == (date(2026, 3, 1), date(2026, 3, 31))
    assert month(date(2024, 3, 5), 1) == (date(2024, 2, 1), date(2024, 2, 29))


def test_every_filter_problem_is_reported_at_once() -> None:
    query = InvoiceQuery.parse("2026-13-01", "gestern", "paid", "x", "123", "abc", "a b")
    assert len(query.problems) == 7
    ok = InvoiceQuery.parse("2026-05-01", "2026-05-31", "cancelled", "full", "k00001", "k7mq-3xa", "fw-2026")
    assert ok.problems == [] and ok.billing_params(50, 0) == {
        "limit": 50, "offset": 0, "from": "2026-05-01", "to": "2026-05-31", "status": "cancelled", "kind": "full",
        "customer_number": "K00001", "ticket": "K7MQ-3XA", "q": "FW-2026"}


async def test_the_list_replaces_the_old_note_and_shows_status_badges(web) -> None:
    web.services.invoices["FW-2026-000002"] = _invoice(web, "FW-2026-000002", "2026-05-05T10:00:00Z",
                                                       ticket="K7MQ-3XA", customer_number="K00001")
    web.services.cancelled["FW-2026-000002"] = "FW-S-2026-000001"
    await web.sign_in("buero")
    page = await web.client.get("/buero")
    assert page.status_code == 200 and "keine Rechnungsliste" not in page.text
    assert page.text.index("FW-2026-000002") < page.text.index("FW-2026-000001")  # newest first
    row = page.text.split('href="/buero/rechnungen/FW-2026-000002"', 1)[1].split("</tr>", 1)[0]
    assert "storniert" in row and "FW-S-2026-000001" in row and "K7MQ-3XA" in row and "K00001" in row
    other = page.text.split('href="/buero/rechnungen/FW-2026-000001"', 1)[1].split("</tr>", 1)[0]
    assert "gültig" in other and "storniert" not in other
    assert "2 Rechnungen" in page.text
    # the <title> is the title only (it held the export form's HTML before)
    assert re.search(r"<title>Rechnungen – Fernwartung</title>", page.text)


async def test_last_month_is_one_click_away_and_filters_reach_billing(web) -> None:
    await web.sign_in("buero")
    page = await web.client.get("/buero")
    link = re.search(r'id="period-last-month" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    first, last = month(datetime.now(BERLIN).date(), 1)  # the page's "today" is Berlin's
    assert link == f"/buero?von={first.isoformat()}&bis={last.isoformat()}"
    await web.client.get(link)
    assert web.services.list_queries[-1] == {"limit": "50", "offset": "0", "from": first.isoformat(),
                                             "to": last.isoformat()}
    await web.client.get("/buero?status=cancelled&art=e_invoice&kunde=k00001&ticket=k7mq-3xa&q=000001&seite=3")
    assert web.services.list_queries[-1] == {"limit": "50", "offset": "100", "status": "cancelled",
                                             "kind": "e_invoice", "customer_number": "K00001",
                                             "ticket": "K7MQ-3XA", "q": "000001"}


async def test_bad_filters_are_reported_together_and_not_sent(web) -> None:
    await web.sign_in("buero")
    before = len(web.services.list_queries)
    page = await web.client.get("/buero?von=2026-05-10&bis=2026-05-01&kunde=123")
    assert page.status_code == 200 and 'id="filter-problems"' in page.text
    assert "Ende des Zeitraums" in page.text and "Kundennummer sieht so aus" in page.text
    assert len(web.services.list_queries) == before


async def test_an_exact_number_opens_the_invoice_and_no_match_says_so(web) -> None:
    await web.sign_in("buero")
    exact = await web.client.get("/buero?q=fw-2026-000001")
    assert exact.status_code == 303 and exact.headers["location"] == "/buero/rechnungen/FW-2026-000001"
    none = await web.client.get("/buero?q=FW-2020-999999")
    assert 'id="list-empty"' in none.text and "Keine Rechnung passt" in none.text


async def test_paging_links_keep_the_filters(web) -> None:
    for n in range(2, 53):
        web.services.invoices[f"FW-2026-{n:06d}"] = _invoice(web, f"FW-2026-{n:06d}", f"2026-05-{(n % 28) + 1:02d}T10:00:00Z")
    await web.sign_in("buero")
    page = await web.client.get("/buero?art=kleinbetrag")
    assert "52 Rechnungen, Seite 1 von 2" in page.text
    assert 'href="/buero?art=kleinbetrag&amp;seite=2"' in page.text
    second = await web.client.get("/buero?art=kleinbetrag&seite=2")
    assert "Seite 2 von 2" in second.text and 'rel="prev"' in second.text


async def test_a_cancelled_invoice_has_a_badge_and_no_storno_form(web) -> None:
    await web.sign_in("buero")
    open_page = await web.client.get("/buero/rechnungen/FW-2026-000001")
    assert 'id="storno-title"' in open_page.text and 'id="invoice-status"' not in open_page.text
    web.services.invoices["FW-2026-000001"] = {**web.services.invoices["FW-2026-000001"], "cancelled_by": "FW-S-2026-000001"}
    page = await web.client.get("/buero/rechnungen/FW-2026-000001")
    assert 'id="invoice-status"' in page.text and 'id="cancelled-note"' in page.text
    assert 'id="storno-title"' not in page.text and "/stornieren" not in page.text
    assert 'href="/buero/stornos/FW-S-2026-000001"' in page.text


async def test_print_view(web) -> None:
    await web.sign_in("buero")
    page = await web.client.get("/buero/rechnungen/FW-2026-000001")
    assert 'href="/buero/druck/rechnungen/FW-2026-000001"' in page.text
    view = await web.client.get("/buero/druck/rechnungen/FW-2026-000001")
    assert view.status_code == 200 and "40,46 €" in view.text and "Druckansicht" in view.text
    assert 'class="top"' not in view.text and "data-print" in view.text
    assert (await web.client.get("/buero/druck/rechnungen/FW-2099-999999")).status_code == 404
    other = await web.make_client()
    await web.sign_in("technik", client=other)
    assert (await other.get("/buero/druck/rechnungen/FW-2026-000001")).status_code == 403
