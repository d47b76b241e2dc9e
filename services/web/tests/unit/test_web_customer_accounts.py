"""Customer accounts the office can work with: search (by POST), change of e-mail and address
(all problems at once, only changed fields sent, the staff id), the account's invoices."""

from __future__ import annotations

from fw_web.domain.account_form import read_changes

ACCOUNT = {"email": None, "address": None}


def test_only_changed_fields_are_sent_and_all_problems_reported() -> None:
    _, changes, errors = read_changes({"email": "neu@example.org", "street": "Weg 1", "postal_code": "10115",
                                       "city": "Berlin", "country": "de"}, ACCOUNT)
    assert errors == {} and changes == {"email": "neu@example.org", "address": {
        "street": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}}
    _, changes, errors = read_changes({"email": "kein-mail", "street": "Weg 1", "postal_code": "123"}, ACCOUNT)
    assert set(errors) == {"email", "city", "postal_code"} and changes == {}
    _, changes, errors = read_changes({"email": ""}, {"email": "alt@example.org", "address": None})
    assert errors == {} and changes == {"email": None}
    _, changes, _ = read_changes({"email": "alt@example.org"}, {"email": "alt@example.org", "address": None})
    assert changes == {}


async def test_search_by_post_shows_matches(web) -> None:
    await web.sign_in("buero")
    page = await web.client.get("/buero/kunden")
    assert 'action="/buero/kunden/suche"' in page.text and 'method="post"' in page.text
    found = await web.client.post("/buero/kunden/suche", data={"suche": "musterfrau",
                                                               "csrf_token": web.csrf_of(page.text)})
    assert found.status_code == 200 and 'id="search-results"' in found.text and "K00001" in found.text
    none = await web.client.post("/buero/kunden/suche", data={"suche": "niemand", "csrf_token": web.csrf_of(page.text)})
    assert "0 Treffer" in none.text
    empty = await web.client.post("/buero/kunden/suche", data={"suche": " ", "csrf_token": web.csrf_of(page.text)})
    assert empty.status_code == 422
    assert (await web.client.post("/buero/kunden/suche", data={"suche": "x"})).status_code == 403  # CSRF


async def test_edit_address_and_email(web) -> None:
    await web.sign_in("buero")
    account = await web.client.get("/buero/kunden/K00001")
    assert 'href="/buero/kunden/K00001/bearbeiten"' in account.text and 'id="account-invoices"' in account.text
    form = await web.client.get("/buero/kunden/K00001/bearbeiten")
    token = web.csrf_of(form.text)
    bad = await web.client.post("/buero/kunden/K00001/bearbeiten", data={
        "email": "kein-mail", "street": "Weg 1", "csrf_token": token})
    assert bad.status_code == 422 and 'id="fehler"' in bad.text
    for field in ("e-email-error", "e-postal_code-error", "e-city-error"):
        assert f'id="{field}"' in bad.text
    assert web.services.changes == []
    done = await web.client.post("/buero/kunden/K00001/bearbeiten", data={
        "email": "neu@example.org", "street": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "DE",
        "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == "/buero/kunden/K00001"
    assert web.services.changes == [("K00001", {"email": "neu@example.org", "address": {
        "street": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}, "changed_by": "buero"})]
    shown = await web.client.get("/buero/kunden/K00001")
    assert "neu@example.org" in shown.text and "sind gespeichert" in shown.text
    again = await web.client.post("/buero/kunden/K00001/bearbeiten", data={
        "email": "neu@example.org", "street": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "DE",
        "csrf_token": token})
    assert again.status_code == 303 and len(web.services.changes) == 1  # nothing changed: nothing sent


async def test_a_closed_account_cannot_be_edited_and_technicians_cannot(web) -> None:
    web.services.customers["K00001"]["status"] = "closed"
    await web.sign_in("buero")
    assert (await web.client.get("/buero/kunden/K00001/bearbeiten")).status_code == 409
    other = await web.make_client()
    await web.sign_in("technik", client=other)
    assert (await other.get("/buero/kunden/K00001/bearbeiten")).status_code == 403


async def test_the_account_lists_its_invoices(web) -> None:
    invoice = web.services.invoices["FW-2026-000001"]
    web.services.invoices["FW-2026-000001"] = {**invoice, "customer_number": "K00001"}  # a copy: shared dict
    await web.sign_in("buero")
    page = await web.client.get("/buero/kunden/K00001")
    section = page.text.split('id="account-invoices"', 1)[1]
    assert 'href="/buero/rechnungen/FW-2026-000001"' in section
    assert web.services.list_queries[-1]["customer_number"] == "K00001"
