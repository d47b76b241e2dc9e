"""The one postal address: its rules, its errors (fixed texts, no echo), stored data readable."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fw_contracts.address import (
    ADDRESS_MESSAGES,
    COUNTRY_CODES,
    EU_POSTAL_CODES,
    STORED,
    PostalAddress,
    postal_code_ok,
)
from fw_contracts.tax_ids import EU_COUNTRIES
from fw_contracts.vault import AddressRequest, PersonalData

BERLIN = {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin"}


def errors(data: dict[str, Any], **kwargs: Any) -> set[tuple[str, str]]:
    with pytest.raises(ValidationError) as exc:
        PostalAddress.model_validate(data, **kwargs)
    return {(".".join(str(p) for p in e["loc"]), e["type"]) for e in exc.value.errors()}


@pytest.mark.parametrize(("country", "postal_code"), [
    ("DE", "10115"), ("AT", "1010"), ("CH", "8001"), ("NL", "1012 AB"), ("NL", "1012ab"),
    ("PL", "00-950"), ("PT", "1100-148"), ("IE", "D02 X285"), ("LV", "LV-1050"), ("LV", "1050"),
    ("LU", "L-1234"), ("MT", "VLT 1117"), ("CZ", "110 00"), ("SE", "11122"), ("RO", "010011"),
    ("GB", "SW1A 1AA"), ("US", "10001"), ("FR", "75001"),
])
def test_valid_addresses(country: str, postal_code: str) -> None:
    address = PostalAddress.model_validate({**BERLIN, "country": country, "postal_code": postal_code})
    assert (address.country, address.postal_code) == (country, postal_code)


@pytest.mark.parametrize(("country", "postal_code"), [
    ("DE", "1011"), ("DE", "101150"), ("DE", "1O115"), ("AT", "10115"), ("AT", "101"),
    ("NL", "1012"), ("PL", "00950"), ("PT", "1100148"), ("IE", "1234567"), ("FR", "7500"),
    ("CH", "1-"), ("US", "-1000"), ("GB", "SW1A_1AA"),
])
def test_invalid_postal_codes(country: str, postal_code: str) -> None:
    assert errors({**BERLIN, "country": country, "postal_code": postal_code}) == {
        ("postal_code", "postal_code_invalid")}


@pytest.mark.parametrize("country", ["XX", "1X", "EU", "UK", "AC", "XK"])
def test_country_must_be_an_iso_code(country: str) -> None:
    assert errors({**BERLIN, "country": country}) == {("country", "country_invalid")}


def test_normalised_country_and_default() -> None:
    assert PostalAddress.model_validate({**BERLIN, "country": " at ", "postal_code": "1010"}).country == "AT"
    assert PostalAddress.model_validate(BERLIN).country == "DE"
    assert errors({**BERLIN, "country": "Deutschland"}) == {("country", "string_too_long")}


def test_text_is_clean_and_stripped() -> None:
    address = PostalAddress.model_validate({**BERLIN, "street": "  Cafe\u0301weg 2 ", "city": " Köln"})
    assert (address.street, address.city) == ("Caféweg 2", "Köln")
    assert errors({**BERLIN, "street": "Haupt\u202estr. 1"}) == {("street", "text_format_character")}
    assert errors({**BERLIN, "city": "Ber\x00lin"}) == {("city", "text_control_character")}
    assert errors({**BERLIN, "city": "   "}) == {("city", "string_too_short")}
    assert errors({**BERLIN, "floor": 3}) == {("floor", "extra_forbidden")}


def test_every_eu_member_state_has_its_postal_format() -> None:
    assert set(EU_POSTAL_CODES) == EU_COUNTRIES
    assert EU_COUNTRIES < COUNTRY_CODES and len(COUNTRY_CODES) == 249
    assert postal_code_ok("10115", "de") and not postal_code_ok("1010", "DE")


def test_errors_never_echo_the_input() -> None:
    marker = "ZZMARKERQQ"
    with pytest.raises(ValidationError) as exc:
        PostalAddress.model_validate({"street": marker + "\u200b", "postal_code": marker,
                                      "city": marker * 30, "country": marker[:2]})
    text = str(exc.value.errors(include_input=False)) + "".join(e["msg"] for e in exc.value.errors())
    assert marker not in text and marker[:2] not in text
    assert all(de and en for de, en in ADDRESS_MESSAGES.values())


def test_requests_to_the_vault_are_checked_in_full() -> None:
    with pytest.raises(ValidationError):
        AddressRequest.model_validate({"request_id": "6f0e7a1c-4f55-4d39-9e59-4a8ed6a8f6a1",
                                       "address": {**BERLIN, "country": "AT"}})


def test_stored_addresses_stay_readable() -> None:
    """An entry stored under the older rules (any two capitals, no EU formats) decodes as stored."""
    old = {"company": "Muster GmbH", "contact_name": "Erika Muster", "phone": "+491701234567",
           "address": {"street": "Ringstraße 1", "postal_code": "10100", "city": "Wien", "country": "AT"}}
    with pytest.raises(ValidationError):
        PersonalData.model_validate(old)
    data = PersonalData.model_validate(old, context=STORED)
    assert data.address is not None and data.address.postal_code == "10100"
    # the shape is still checked
    broken = {**old, "address": {**old["address"], "country": "Austria"}}
    with pytest.raises(ValidationError):
        PersonalData.model_validate(broken, context=STORED)
