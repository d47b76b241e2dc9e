"""The customer form's optional USt-IdNr. and Leitweg-ID: checked with the shared rules (all
problems at once, only together with the address, as intake takes them), sent normalised, and
intake's own German errors shown beside the field they concern."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fw_contracts.tax_ids import LEITWEG_ID_INVALID, VAT_ID_INVALID
from fw_intake.entrypoints.schemas import MESSAGES as INTAKE_MESSAGES
from fw_intake.entrypoints.schemas import SupportRequestIn
from fw_platform.http import field_errors
from fw_web.domain.support_form import field_messages, intake_body, read_form

FORM = {"company": "Beispiel GmbH", "contact_name": "Erika Musterfrau", "phone": "030 1234567",
        "customer_type": "business", "terms_accepted": "on", "terms_version": "2026-01"}
ADDRESS = {"street": "Ring 1", "postal_code": "1010", "city": "Wien", "country": "at"}


def test_tax_ids_are_sent_normalised_and_intake_accepts_the_body() -> None:
    form = read_form({**FORM, **ADDRESS, "vat_id": "atu 1234 5678", "buyer_reference": "04011000-12345-03 "})
    assert form.errors == {}
    body = intake_body(form, "2026-01")
    assert (body["vat_id"], body["buyer_reference"]) == ("ATU12345678", "04011000-12345-03")
    checked = SupportRequestIn.model_validate(body)
    assert (checked.vat_id, checked.buyer_reference) == ("ATU12345678", "04011000-12345-03")
    assert "vat_id" not in intake_body(read_form({**FORM, **ADDRESS}), "2026-01")


def test_every_problem_at_once_and_only_with_the_address() -> None:
    form = read_form({**FORM, "vat_id": "ATU1", "buyer_reference": "04011000-12345-99", "phone": "12"})
    assert form.errors["vat_id"] == VAT_ID_INVALID[0] and form.errors["buyer_reference"] == LEITWEG_ID_INVALID[0]
    assert "phone" in form.errors
    missing = INTAKE_MESSAGES["address_required"][0]
    assert {form.errors[n] for n in ("street", "postal_code", "city")} == {missing}
    alone = read_form({**FORM, "vat_id": "ATU12345678"})
    assert set(alone.errors) == {"street", "postal_code", "city"}


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"vat_id": "ATU1", "address": {"street": "Ring 1", "postal_code": "1010", "city": "Wien", "country": "AT"}},
     "vat_id", "vat_id_invalid"),
    ({"buyer_reference": "123", "address": {"street": "Ring 1", "postal_code": "1010", "city": "Wien",
                                            "country": "AT"}}, "buyer_reference", "buyer_reference_invalid"),
    ({"vat_id": "ATU12345678"}, "street", "address_required"),
])
def test_intakes_real_errors_land_on_the_field(body: dict[str, Any], field: str, code: str) -> None:
    base = {"company": "Beispiel GmbH", "contact_name": "Erika", "phone": "030 1234567",
            "customer_type": "business", "terms_accepted": True, "terms_version": "2026-01"}
    with pytest.raises(ValidationError) as refused:
        SupportRequestIn.model_validate({**base, **body})
    errors = field_errors(list(refused.value.errors()), INTAKE_MESSAGES)
    assert [e["code"] for e in errors] == [code]
    assert field_messages(errors) == {field: INTAKE_MESSAGES[code][0]}


async def test_the_page_shows_the_fields_and_intakes_refusal_beside_them(web: Any) -> None:
    page = await web.client.get("/")
    assert 'id="f-vat_id"' in page.text and 'id="f-buyer_reference"' in page.text
    de, en = INTAKE_MESSAGES["vat_id_invalid"]
    web.services.intake_reply = (422, {"code": "invalid_input", "message_de": "Bitte prüfen Sie die markierten Felder.",
                                       "errors": [{"field": "vat_id", "code": "vat_id_invalid",
                                                   "message_de": de, "message_en": en}]})
    resp = await web.post_form("/", "/", {**FORM, **ADDRESS, "vat_id": "ATU12345678"})
    assert resp.status_code == 422 and 'id="f-vat_id-error"' in resp.text and de in resp.text
    assert 'href="#f-vat_id"' in resp.text and web.services.created[-1]["vat_id"] == "ATU12345678"
    local = await web.post_form("/", "/", {**FORM, "buyer_reference": "123"})
    assert local.status_code == 422 and 'id="f-buyer_reference-error"' in local.text
    assert 'id="f-street-error"' in local.text and len(web.services.created) == 1  # not sent
