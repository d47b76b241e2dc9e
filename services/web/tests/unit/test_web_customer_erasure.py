"""The office erases a customer account from its page: reason + confirmation, the signed-in user as
staff id, billing's answers shown in German; a closed account shows no personal data."""

from __future__ import annotations

PAGE = "/buero/kunden/K00001"
ACTION = "/buero/kunden/K00001/loeschen"


async def test_erasure_needs_reason_and_confirmation_then_calls_billing_with_the_staff_id(web) -> None:
    await web.sign_in("buero")
    page = await web.client.get(PAGE)
    assert page.status_code == 200 and "Erika Musterfrau" in page.text
    assert page.text.count('id="erasure-title"') == 1 and "Endgültig löschen" in page.text
    assert 'name="confirmed"' in page.text and 'value="customer_request"' in page.text
    token = web.csrf_of(page.text)

    for data in ({"reason": "customer_request"},                       # not confirmed
                 {"reason": "", "confirmed": "on"},                     # no reason
                 {"reason": "weil ich es sage", "confirmed": "on"}):    # not one of billing's codes
        refused = await web.client.post(ACTION, data={**data, "csrf_token": token})
        assert refused.status_code == 303 and refused.headers["location"] == PAGE
        assert "Bitte wählen Sie einen Grund" in (await web.client.get(PAGE)).text
    assert web.services.erasures == []

    done = await web.client.post(ACTION, data={"reason": "customer_request", "confirmed": "on", "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == PAGE
    assert web.services.erasures == [("K00001", {"reason": "customer_request", "requested_by": "buero"})]
    closed = await web.client.get(PAGE)
    assert "sind gelöscht" in closed.text and 'id="account-closed"' in closed.text
    assert "Erika Musterfrau" not in closed.text and "Endgültig löschen" not in closed.text
    assert "ausgelöst von buero" in closed.text and "Art. 17 DSGVO" in closed.text
    listing = await web.client.get("/buero/kunden")
    assert "K00001" in listing.text and "gelöscht am" in listing.text and "Erika" not in listing.text


async def test_a_second_erasure_shows_billings_message(web) -> None:
    await web.sign_in("buero")
    token = web.csrf_of((await web.client.get(PAGE)).text)
    for _ in range(2):
        await web.client.post(ACTION, data={"reason": "relationship_ended", "confirmed": "on", "csrf_token": token})
    assert len(web.services.erasures) == 2
    assert "wurden bereits gelöscht; es wurde nichts geändert" in (await web.client.get(PAGE)).text


async def test_unknown_account_unreachable_billing_csrf_and_role(web) -> None:
    await web.sign_in("buero")
    token = web.csrf_of((await web.client.get(PAGE)).text)
    unknown = await web.client.post("/buero/kunden/K09999/loeschen",
                                    data={"reason": "customer_request", "confirmed": "on", "csrf_token": token})
    assert unknown.headers["location"] == "/buero/kunden"
    assert "nicht bekannt" in (await web.client.get("/buero/kunden")).text
    web.services.down.add("billing")
    down = await web.client.post(ACTION, data={"reason": "customer_request", "confirmed": "on", "csrf_token": token})
    assert down.headers["location"] == PAGE
    web.services.down.clear()
    assert "nicht erreichbar" in (await web.client.get(PAGE)).text
    assert web.services.customers["K00001"]["status"] == "open"

    no_csrf = await web.client.post(ACTION, data={"reason": "customer_request", "confirmed": "on"})
    assert no_csrf.status_code == 403 and web.services.erasures == []

    other = await web.make_client()
    await web.sign_in("technik", client=other)
    tech_page = await other.get(PAGE)
    assert tech_page.status_code == 403
    forbidden = await other.post(ACTION, data={"reason": "customer_request", "confirmed": "on",
                                               "csrf_token": token})
    assert forbidden.status_code == 403 and web.services.erasures == []
    assert web.services.customers["K00001"]["status"] == "open"
