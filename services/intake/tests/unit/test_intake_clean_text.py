"""Intake's public API takes only clean text (issue 14, findings 1 and 9): 422 with a German and
English field error, nothing stored, nothing published, no echo of the value."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fw_contracts.text import TEXT_MESSAGES
from fw_intake.adapters.terms_files import load_terms
from fw_intake.bootstrap import build
from fw_intake.entrypoints.http import IntakeDeps
from fw_intake.settings import Settings
from fw_platform.ratelimit import TokenBucket as RateLimiter

TERMS = load_terms()
MARKER = "ZZMARKERQQ"


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"company": "Muster GmbH", "contact_name": "Erika Muster",
                            "phone": "0170 1234567", "terms_accepted": True,
                            "terms_version": TERMS.current.version}
    data.update(changes)
    return data


def address(**changes: str) -> dict[str, str]:
    return {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE", **changes}


@pytest.fixture
async def client(store, vault) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    deps = IntakeDeps(terms=TERMS, vault=vault, unit_of_work=store.unit_of_work, requests=store.repo,
                      limiter=RateLimiter(1000))
    app = build(Settings(http_port=0), deps=deps).http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        yield c


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"contact_name": "A\u0000B"}, "contact_name", "text_control_character"),  # the repro
    ({"company": f"{MARKER}\u001b[31m"}, "company", "text_control_character"),
    ({"contact_name": f"{MARKER}\u000bB"}, "contact_name", "text_control_character"),
    ({"company": f"{MARKER}\ufffe"}, "company", "text_invalid_character"),
    ({"company": f"\u202e{MARKER}"}, "company", "text_format_character"),
    ({"company": "\u200b\u200b\u200b"}, "company", "text_format_character"),
    ({"company": "\u3164"}, "company", "text_not_visible"),
    ({"contact_name": " \u3000 "}, "contact_name", "string_too_short"),
    ({"phone": "0170\u00001234567"}, "phone", "text_control_character"),
    ({"email": f"{MARKER}\u0000@example.org"}, "email", "text_control_character"),
    ({"address": address(street=f"{MARKER}\u0000 1")}, "address.street", "text_control_character"),
    ({"address": address(city=f"Ber\u202elin{MARKER}")}, "address.city", "text_format_character"),
])
async def test_unclean_text_is_refused(client, store, vault, changes, field, code) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(**changes))
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert errors[field]["code"] == code, errors
    if code in TEXT_MESSAGES:
        assert (errors[field]["message_de"], errors[field]["message_en"]) == TEXT_MESSAGES[code]
    assert MARKER not in r.text and "\\u0000" not in r.text and "\\u202e" not in r.text
    assert store.published == [] and vault.stored == {}


async def test_accepted_text_is_stored_nfc_normalised(client, store, vault) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(
        company="Mu\u0308ller & So\u0308hne", contact_name="  Zoe\u0308 Ĳssel ",
        address=address(street="Gro\u00dfe Stra\u00dfe 5", city="Ko\u0308ln")))
    assert r.status_code == 201, r.text
    (data,) = vault.stored.values()
    assert data.company == "Müller & Söhne" and data.contact_name == "Zoë Ĳssel"
    assert data.address is not None and data.address.city == "Köln"
    for text in (data.company, data.contact_name, data.address.street, data.address.city):
        assert unicodedata.is_normalized("NFC", text)
