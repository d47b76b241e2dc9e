"""Intake and session take the same addresses: one table, sent to both HTTP edges.

Both edges use ``fw_contracts.address.PostalAddress``; this test shows it from the outside. Each
address goes to intake's ``POST /api/support-requests`` (as the customer's billing address) and
to session's ``POST /api/sessions/{id}/billing-address``. Both must accept it (the vault is
reached with the same normalised address) or both refuse it with the same field errors, with
fixed texts that never quote the input.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from fw_contracts.address import PostalAddress
from fw_contracts.vault import PersonalData
from fw_intake.adapters.terms_files import load_terms
from fw_intake.bootstrap import build as build_intake
from fw_intake.entrypoints.http import IntakeDeps
from fw_intake.settings import Settings as IntakeSettings
from fw_platform import http as platform_http
from fw_platform.ratelimit import TokenBucket
from fw_platform.runtime import Runtime
from fw_platform.vault_client import VaultUnavailable
from fw_session.application.billing import BillingAddressService
from fw_session.application.service import SessionService
from fw_session.bootstrap import MIGRATIONS as SESSION_MIGRATIONS
from fw_session.entrypoints.http import MESSAGES as SESSION_MESSAGES
from fw_session.entrypoints.http import build_router, install_error_handlers
from fw_session.settings import Settings as SessionSettings

TERMS = load_terms()
MARKER = "Qzmarkerstr"
BERLIN = {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin"}

#: (address as sent, the field errors both edges answer; None: both accept it)
TABLE: list[tuple[dict[str, Any], set[tuple[str, str]] | None]] = [
    (BERLIN, None),
    ({**BERLIN, "country": "de"}, None),
    ({"street": "Ringstraße 1", "postal_code": "1010", "city": "Wien", "country": "AT"}, None),
    ({"street": "Damrak 1", "postal_code": "1012 AB", "city": "Amsterdam", "country": "NL"}, None),
    ({"street": "Bahnhofstr. 1", "postal_code": "8001", "city": "Zürich", "country": "CH"}, None),
    ({"street": "Cafe\u0301weg 2", "postal_code": "00-950", "city": " Warszawa ", "country": "pl"}, None),
    ({**BERLIN, "postal_code": "1011"}, {("postal_code", "postal_code_invalid")}),
    ({**BERLIN, "postal_code": f"{MARKER[:9]}"}, {("postal_code", "postal_code_invalid")}),
    ({**BERLIN, "postal_code": "10115", "country": "AT"}, {("postal_code", "postal_code_invalid")}),
    ({**BERLIN, "postal_code": "1012", "country": "NL"}, {("postal_code", "postal_code_invalid")}),
    ({**BERLIN, "country": "XX"}, {("country", "country_invalid")}),
    ({**BERLIN, "country": "AC"}, {("country", "country_invalid")}),  # a phone region, not ISO 3166
    ({**BERLIN, "country": "1X"}, {("country", "country_invalid")}),
    ({**BERLIN, "country": "Deutschland"}, {("country", "string_too_long")}),
    ({**BERLIN, "street": f"{MARKER}\u202e 1"}, {("street", "text_format_character")}),
    ({**BERLIN, "city": f"{MARKER}\x00"}, {("city", "text_control_character")}),
    ({**BERLIN, "city": "  "}, {("city", "string_too_short")}),
    ({**BERLIN, "floor": 3}, {("floor", "extra_forbidden")}),
    ({"street": MARKER, "postal_code": "10115"}, {("city", "missing")}),
]


class _RecordingVault:
    """Intake's vault: records what would be stored, then is unavailable (nothing else runs)."""

    def __init__(self) -> None:
        self.addresses: list[PostalAddress | None] = []

    async def put(self, request_id: uuid.UUID, data: PersonalData) -> None:
        self.addresses.append(data.address)
        raise VaultUnavailable("test")


class _RecordingBilling:
    """Session's billing-address command: records the address, then the vault is unavailable."""

    def __init__(self) -> None:
        self.addresses: list[PostalAddress] = []

    async def provide(self, session_id: uuid.UUID, address: PostalAddress, technician: str) -> None:
        self.addresses.append(address)
        raise VaultUnavailable("test")


def _intake_app(vault: _RecordingVault) -> FastAPI:
    deps = IntakeDeps(terms=TERMS, vault=vault, unit_of_work=cast(Any, None), requests=cast(Any, None),
                      limiter=TokenBucket(10_000))
    return build_intake(IntakeSettings(http_port=0), deps=deps).http


def _session_app(billing: _RecordingBilling) -> FastAPI:
    app = FastAPI()
    platform_http.install(app, Runtime("session", SessionSettings(), SESSION_MIGRATIONS),
                          custom_messages=SESSION_MESSAGES)
    install_error_handlers(app)
    app.include_router(build_router(cast(SessionService, None), cast(BillingAddressService, billing)))
    return app


@pytest.fixture
async def edges() -> AsyncIterator[tuple[Any, ...]]:
    vault, billing = _RecordingVault(), _RecordingBilling()
    intake = httpx.AsyncClient(transport=httpx.ASGITransport(_intake_app(vault)), base_url="http://intake")
    session = httpx.AsyncClient(transport=httpx.ASGITransport(_session_app(billing)), base_url="http://session",
                                headers={"Fw-Technician": "tech-07"})
    async with intake, session:
        yield intake, vault, session, billing


def _field_errors(resp: httpx.Response, prefix: str = "") -> set[tuple[str, str]]:
    assert resp.status_code == 422, resp.text
    out = set()
    for e in resp.json()["errors"]:
        assert e["message_de"] and e["message_en"]
        out.add((e["field"].removeprefix(prefix), e["code"]))
    return out


@pytest.mark.parametrize(("address", "expected"), TABLE)
async def test_both_edges_agree(edges: tuple[Any, ...], address: dict[str, Any],
                                expected: set[tuple[str, str]] | None) -> None:
    intake, vault, session, billing = edges
    body = {"company": "Muster GmbH", "contact_name": "Erika Muster", "phone": "0170 1234567",
            "terms_accepted": True, "terms_version": TERMS.current.version, "address": address}
    from_intake = await intake.post("/api/support-requests", json=body)
    from_session = await session.post(f"/api/sessions/{uuid.uuid4()}/billing-address", json=address)
    if expected is None:
        # accepted: both reached the vault (stubbed away: 503) with the same normalised address
        assert (from_intake.status_code, from_session.status_code) == (503, 503)
        assert len(vault.addresses) == len(billing.addresses) == 1
        assert vault.addresses[0] == billing.addresses[0] == PostalAddress.model_validate(address)
    else:
        assert _field_errors(from_intake, "address.") == _field_errors(from_session) == expected
        assert vault.addresses == billing.addresses == []
        for resp in (from_intake, from_session):
            assert MARKER not in resp.text and MARKER.lower() not in resp.text.lower()
