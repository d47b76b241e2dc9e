"""Rechnungskorrektur from the office's invoice page: the form only on a cancelled, not yet
corrected invoice; every field problem at once; billing's refusals in German next to the form;
success leads to the new invoice; badges "korrigiert" / "Korrektur zu X" in the list and on the
page. The fake billing's answers are checked against billing's own response models."""

from __future__ import annotations

import json
from typing import Any

import httpx

from fw_billing.adapters.invoice_list import InvoiceSummary
from fw_billing.adapters.views import InvoiceView
from fw_billing.entrypoints.http_documents import _MESSAGES as BILLING_MESSAGES
from fw_billing.entrypoints.http_documents import CorrectionIn, CorrectionResponse
from fw_web.domain.correction_form import read_correction

PAGE = "/buero/rechnungen/FW-2026-000001"
ACTION = PAGE + "/korrigieren"
RECIPIENT = {"company": "Muster GmbH", "contact_name": "Erika Musterfrau", "street": "Ring 1",
             "postal_code": "80331", "city": "München", "country": "de"}


def _row(html: str, number: str) -> str:
    """The list row of invoice ``number``."""
    return html.split(f'<td data-label="Nummer"><a class="code" href="/buero/rechnungen/{number}">', 1)[1] \
        .split("</tr>", 1)[0]


async def _cancelled(web: Any) -> None:
    web.services.cancelled["FW-2026-000001"] = "FW-S-2026-000001"
    await web.sign_in("buero")


async def test_the_form_is_offered_only_on_a_cancelled_uncorrected_invoice(web: Any) -> None:
    await web.sign_in("buero")
    valid = await web.client.get(PAGE)
    assert "Korrigierte Rechnung ausstellen" not in valid.text and "Stornieren" in valid.text
    web.services.cancelled["FW-2026-000001"] = "FW-S-2026-000001"
    cancelled = await web.client.get(PAGE)
    assert "Korrigierte Rechnung ausstellen" in cancelled.text and 'action="' + ACTION + '"' in cancelled.text
    for label in ("Grund der Korrektur", "Berichtigte Dauer in Minuten", "USt-IdNr. (optional)", "Leitweg-ID"):
        assert label in cancelled.text
    assert 'name="csrf_token"' in cancelled.text.split('id="korrektur"', 1)[1]
    web.services.invoices["FW-2026-000002"] = {**web.services.invoices["FW-2026-000001"],
                                               "number": "FW-2026-000002", "corrects": "FW-2026-000001"}
    corrected = await web.client.get(PAGE)
    assert "Korrigierte Rechnung ausstellen" not in corrected.text
    assert 'id="invoice-status">korrigiert<' in corrected.text and "FW-2026-000002" in corrected.text


async def test_a_wrong_duration_is_corrected_and_leads_to_the_new_invoice(web: Any) -> None:
    await _cancelled(web)
    done = await web.post_form(PAGE, ACTION, {"reason_code": "wrong_duration", "minutes": "45",
                                              **dict.fromkeys(RECIPIENT, "")})
    assert done.status_code == 303 and done.headers["location"] == "/buero/rechnungen/FW-2026-000002"
    # only what the reason needs goes to billing
    assert web.services.corrections == [("FW-2026-000001", {"reason_code": "wrong_duration",
                                                            "billed_seconds": 2700, "acted_by": "buero"})]
    new = await web.client.get(done.headers["location"])
    assert "Die korrigierte Rechnung FW-2026-000002 ersetzt die Rechnung FW-2026-000001." in new.text
    assert 'id="invoice-corrects">Korrektur zu FW-2026-000001<' in new.text
    assert "Korrigierte Rechnung ausstellen" not in new.text  # the new invoice is valid: Storno form only
    listing = await web.client.get("/buero")
    old_row, new_row = _row(listing.text, "FW-2026-000001"), _row(listing.text, "FW-2026-000002")
    assert "korrigiert</span> durch" in old_row and "FW-2026-000002" in old_row
    assert "Korrektur zu</span>" in new_row and "FW-2026-000001" in new_row and "gültig" in new_row
    # the office user who issued the correction, by id (never a name), on the list, the page and the print
    assert 'data-actor="corrected">(von buero)<' in new_row
    assert 'id="issued-by-user">buero<' in new.text
    printed = await web.client.get("/buero/druck/rechnungen/FW-2026-000002")
    assert "Korrektur zu FW-2026-000001" in printed.text and "Korrektur ausgestellt von buero." in printed.text
    replaced = await web.client.get("/buero/druck/rechnungen/FW-2026-000001")
    assert "ersetzt durch FW-2026-000002" in replaced.text
    await web.client.get("/buero?status=corrected")
    assert web.services.list_queries[-1]["status"] == "corrected"


async def test_a_new_recipient_with_vat_id_and_leitweg_id_is_cleaned_and_sent(web: Any) -> None:
    await _cancelled(web)
    done = await web.post_form(PAGE, ACTION, {
        "reason_code": "wrong_tax_case", "minutes": "", **RECIPIENT, "company": " Muster\u0301 GmbH ",
        "vat_id": "atu 1234 5678", "buyer_reference": "04011000-12345-03"})
    assert done.status_code == 303, done.text
    (_number, body), = web.services.corrections
    assert body == {"reason_code": "wrong_tax_case", "recipient": {
        **RECIPIENT, "company": "Muster\u0301 GmbH".replace("r\u0301", "ŕ"), "country": "DE",
        "vat_id": "ATU12345678", "buyer_reference": "04011000-12345-03"}, "acted_by": "buero"}
    assert CorrectionIn.model_validate(body)  # billing accepts exactly this body


async def test_every_field_problem_is_shown_at_once_and_nothing_is_sent(web: Any) -> None:
    await _cancelled(web)
    refused = await web.post_form(PAGE, ACTION, {
        "reason_code": "wrong_recipient", "company": "", "contact_name": "Erika\u200b", "street": "",
        "postal_code": "1", "city": "München", "country": "Deutschland", "vat_id": "ATU1",
        "buyer_reference": "123"})
    assert refused.status_code == 422 and web.services.corrections == []
    text = refused.text
    for field in ("company", "contact_name", "street", "country", "vat_id", "buyer_reference"):
        assert f'id="k-{field}-error"' in text, field
    assert "Die USt-IdNr. hat kein gültiges Format" in text and "Die Leitweg-ID ist ungültig" in text
    assert 'value="München"' in text and 'value="ATU1"' in text  # what was typed stays
    assert 'option value="wrong_recipient" selected' in text
    duration = await web.post_form(PAGE, ACTION, {"reason_code": "wrong_duration", "minutes": "abc"})
    assert duration.status_code == 422 and 'id="k-minutes-error"' in duration.text
    nothing = await web.post_form(PAGE, ACTION, {})
    assert nothing.status_code == 422 and 'id="k-reason_code-error"' in nothing.text
    assert web.services.corrections == []


async def test_billing_refusals_are_shown_in_german_next_to_the_form(web: Any) -> None:
    await _cancelled(web)
    code = "nothing_to_invoice"
    status, de, en = BILLING_MESSAGES[code]
    web.services.correction_reply = (status, {"code": code, "message_de": de, "message_en": en})
    refused = await web.post_form(PAGE, ACTION, {"reason_code": "wrong_duration", "minutes": "1"})
    assert refused.status_code == 409 and de in refused.text and en not in refused.text
    assert refused.text.index('id="correction-errors"') > refused.text.index('id="korrektur"')
    web.services.correction_reply = (422, {"code": "invalid_input", "message_de": "Bitte prüfen Sie die Angaben.",
                                           "message_en": "x", "errors": [
        {"field": "recipient.vat_id", "code": "vat_id_invalid", "message_de": "USt-IdNr. falsch", "message_en": "x"},
        {"field": "billed_seconds", "code": "int_type", "message_de": "Dauer falsch", "message_en": "x"}]})
    fields = await web.post_form(PAGE, ACTION, {"reason_code": "wrong_duration", "minutes": "30"})
    assert fields.status_code == 422
    assert 'id="k-vat_id-error"' in fields.text and "USt-IdNr. falsch" in fields.text
    assert 'id="k-minutes-error"' in fields.text and "Dauer falsch" in fields.text
    web.services.correction_reply = None
    web.services.down.add("billing")
    down = await web.client.post(ACTION, data={"reason_code": "wrong_duration", "minutes": "30",
                                               "csrf_token": web.csrf_of(fields.text)})
    assert down.status_code == 303 and down.headers["location"] == "/buero"


async def test_the_form_needs_the_office_and_its_csrf_token(web: Any) -> None:
    web.services.cancelled["FW-2026-000001"] = "FW-S-2026-000001"
    await web.sign_in("technik")
    page = await web.client.get("/technik")
    as_technician = await web.client.post(ACTION, data={"reason_code": "wrong_duration", "minutes": "30",
                                                        "csrf_token": web.csrf_of(page.text)})
    assert as_technician.status_code == 403 and web.services.corrections == []
    office = await web.make_client()
    await web.sign_in("buero", client=office)
    forged = await office.post(ACTION, data={"reason_code": "wrong_duration", "minutes": "30"})
    assert forged.status_code == 403 and web.services.corrections == []


def test_the_form_reader_sends_only_what_the_reason_needs() -> None:
    values, body, errors = read_correction({"reason_code": "wrong_recipient", **RECIPIENT, "minutes": "30"})
    assert errors == {} and "billed_seconds" not in body and body["recipient"]["country"] == "DE"
    assert "vat_id" not in body["recipient"] and values["minutes"] == "30"
    _, body, errors = read_correction({"reason_code": "wrong_duration", "minutes": str(7 * 24 * 60 + 1)})
    assert body == {} and set(errors) == {"minutes"}


def _reply_json(web: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = httpx.Request(method, "http://billing:8083" + path,
                            content=json.dumps(body).encode() if body is not None else b"")
    resp = web.services.billing(request, method, path)
    return resp.status_code, resp.json()


def test_the_fake_billing_answers_in_the_shape_of_the_real_models(web: Any) -> None:
    web.services.cancelled["FW-2026-000001"] = "FW-S-2026-000001"
    status, created = _reply_json(web, "POST", "/api/invoices/FW-2026-000001/correction",
                                  {"reason_code": "wrong_duration", "billed_seconds": 2700})
    assert status == 201 and set(created) == set(CorrectionResponse.model_fields)
    CorrectionResponse.model_validate(created)
    for number in ("FW-2026-000001", created["invoice_number"]):
        status, inv = _reply_json(web, "GET", f"/api/invoices/{number}")
        assert status == 200 and set(inv) <= set(InvoiceView.model_fields)
        InvoiceView.model_validate(inv)
    status, page = _reply_json(web, "GET", "/api/invoice-list")
    assert status == 200 and page["items"]
    for row in page["items"]:
        assert set(row) == set(InvoiceSummary.model_fields), set(row) ^ set(InvoiceSummary.model_fields)
        InvoiceSummary.model_validate(row)
    assert {r["status"] for r in page["items"]} == {"corrected", "issued"}
    # the fake's refusals carry billing's own codes, statuses and words
    for number, code in (("FW-2026-000001", "already_corrected"), ("FW-2026-000099", "invoice_not_found"),
                         (created["invoice_number"], "not_cancelled")):
        status, refused = _reply_json(web, "POST", f"/api/invoices/{number}/correction",
                                      {"reason_code": "wrong_duration", "billed_seconds": 2700})
        assert refused["code"] == code and (status, refused["message_de"], refused["message_en"]) == \
            BILLING_MESSAGES[code], code
