"""The web forms take only clean text (issue 14, findings 1 and 9): the field shows why in German,
and nothing is sent to intake or session."""

from __future__ import annotations

import uuid

import pytest

from fw_contracts.text import TEXT_MESSAGES
from fw_web.domain.support_form import read_form

FORM = {"company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1234567",
        "customer_type": "business", "terms_accepted": "on", "terms_version": "2026-01"}


@pytest.mark.parametrize(("field", "value", "code"), [
    ("contact_name", "A\u0000B", "text_control_character"),
    ("company", "\u200b\u200b", "text_format_character"),
    ("company", "Beispiel \u202eHbmG", "text_format_character"),
    ("city", "Ber\ufffelin", "text_invalid_character"),
    ("email", "e\u001b@example.org", "text_control_character"),
])
def test_the_form_checks_text_like_intake(field: str, value: str, code: str) -> None:
    data = {**FORM, field: value}
    if field == "city":
        data.update(street="Weg 1", postal_code="10115")
    form = read_form(data)
    assert form.errors == {field: TEXT_MESSAGES[code][0]}


def test_the_form_sends_nfc() -> None:
    form = read_form({**FORM, "company": "Mu\u0308ller GmbH"})
    assert form.errors == {} and form.values["company"] == "Müller GmbH"


async def test_a_zero_width_company_is_refused_beside_the_field_in_german(web) -> None:
    resp = await web.post_form("/", "/", {**FORM, "company": "\u200b\u200b\u200b"})
    assert resp.status_code == 422
    html = resp.text
    assert 'id="f-company-error"' in html and TEXT_MESSAGES["text_format_character"][0] in html
    assert 'href="#f-company"' in html  # the error summary links to the field
    assert web.services.created == []  # intake was not asked


async def test_intake_text_errors_are_shown_beside_the_field(web) -> None:
    # Should intake refuse what the page let through (e.g. an older page), its German text shows.
    de, en = TEXT_MESSAGES["text_control_character"]
    web.services.intake_reply = (422, {"code": "invalid_input", "message_de": "Bitte prüfen Sie die markierten Felder.",
                                       "errors": [{"field": "address.street", "code": "text_control_character",
                                                   "message_de": de, "message_en": en}]})
    resp = await web.post_form("/", "/", {**FORM, "street": "Weg 1", "postal_code": "10115", "city": "Berlin"})
    assert resp.status_code == 422 and 'id="f-street-error"' in resp.text and de in resp.text


async def test_an_unclean_statement_is_not_sent_and_the_technician_is_told(web) -> None:
    rid = str(uuid.uuid4())
    web.services.queue = [{"request_id": rid, "ticket": "AB12-CD3", "customer_type": "business",
                           "created_at": "2026-05-04T09:58:00Z", "waiting_seconds": 3,
                           "company": "Beispiel GmbH", "contact_name": "Erika", "phone": "+4930123456"}]
    await web.sign_in("technik")
    console = await web.client.get("/technik")
    started = await web.client.post("/technik/sitzungen", data={"request_id": rid, "ticket": "AB12-CD3",
                                                                "csrf_token": web.csrf_of(console.text)})
    page_url = started.headers["location"]
    sid = page_url.rsplit("/", 1)[1]
    token = web.csrf_of((await web.client.get(page_url)).text)
    resp = await web.client.post(f"{page_url}/erklaerung", data={"statement": "Ja\u202e, bitte", "csrf_token": token})
    page = await web.client.get(resp.headers["location"])
    assert "Die Erklärung wurde nicht gespeichert." in page.text
    assert TEXT_MESSAGES["text_format_character"][0] in page.text
    assert web.services.sessions[sid]["promoted"] is False
    assert not any(r.url.path.endswith("/promotion") for r in web.services.seen)
    # a multi-line statement is fine
    await web.client.post(f"{page_url}/erklaerung", data={"statement": "Ja,\r\nStammkunde.", "csrf_token": token})
    assert web.services.sessions[sid]["promoted"] is True


def test_csv_cells_of_old_data_carry_no_control_or_format_characters() -> None:
    from fw_web.entrypoints.office import csv_cell, customers_csv

    assert csv_cell("A\u0000B") == "A?B" and csv_cell("\u202eHbmG") == "?HbmG" and csv_cell("\u001b=1") == "?=1"
    text = customers_csv([{"customer_number": "K00001", "company": "Null\u0000Firma", "address": {"city": "K\u001bln"}}])
    assert "\u0000" not in text and "\u001b" not in text and "Null?Firma" in text
