"""The HTTP API with in-memory fakes: validation (incl. no echo), status codes, rate limit."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fw_intake.adapters.terms_files import load_terms
from fw_intake.bootstrap import build
from fw_intake.entrypoints.http import IntakeDeps
from fw_intake.settings import Settings
from fw_platform.ratelimit import TokenBucket as RateLimiter

MARKER = "ZZMARKERQQ"
TERMS = load_terms()


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"company": "Muster GmbH", "contact_name": "Erika Muster",
                            "phone": "0170 1234567", "terms_accepted": True,
                            "terms_version": TERMS.current.version}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


@pytest.fixture
async def client(store, vault) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    settings = Settings(http_port=0)
    deps = IntakeDeps(terms=TERMS, vault=vault, unit_of_work=store.unit_of_work, requests=store.repo,
                      limiter=RateLimiter(1000))
    app = build(settings, deps=deps).http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        yield c


async def test_create_returns_ticket_and_status_url(client, store, vault) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(company="  Muster GmbH  ",
                                                               email=" erika@example.org "))
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == {"request_id", "ticket", "status_url", "download_code"}
    rid = uuid.UUID(out["request_id"])
    assert out["status_url"] == f"/api/support-requests/{rid}" == r.headers["location"]
    data = vault.stored[rid]
    assert data.company == "Muster GmbH" and data.phone == "+491701234567"
    assert data.email == "erika@example.org" and data.address is None
    s = await client.get(out["status_url"])
    assert s.status_code == 200 and s.json()["status"] == "open" and s.json()["ticket"] == out["ticket"]
    assert set(s.json()) == {"request_id", "ticket", "status", "created_at"}


async def test_consumer_with_waiver_and_address(client, store, vault) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(
        customer_type="consumer", withdrawal_waiver=True,
        address={"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "de"}))
    assert r.status_code == 201, r.text
    [event] = store.published
    assert event.customer_type == "consumer" and event.terms.withdrawal_waiver
    assert event.has_billing_address and not event.has_email
    assert vault.stored[event.request_id].address.country == "DE"


def _codes(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    payload = r.json()
    assert payload["code"] == "invalid_input" and payload["message_de"] and payload["message_en"]
    for e in payload["errors"]:
        assert e["message_de"] and e["message_en"]
    return {e["field"]: e["code"] for e in payload["errors"]}


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"company": "   "}, "company", "string_too_short"),
    ({"contact_name": "x" * 201}, "contact_name", "string_too_long"),
    ({"company": ...}, "company", "missing"),
    ({"phone": "12345"}, "phone", "phone_invalid"),
    ({"phone": "+49 170"}, "phone", "phone_invalid"),
    ({"terms_accepted": False}, "terms_accepted", "terms_not_accepted"),
    ({"terms_accepted": "true"}, "terms_accepted", "bool_type"),
    ({"terms_version": "1999-01"}, "terms_version", "terms_version_unknown"),
    ({"customer_type": "consumer"}, "withdrawal_waiver", "withdrawal_waiver_required"),
    ({"customer_type": "consumer", "withdrawal_waiver": False}, "withdrawal_waiver",
     "withdrawal_waiver_required"),
    ({"customer_type": "alien"}, "customer_type", "enum"),
    ({"email": "not-an-address"}, "email", "email_invalid"),
    ({"email": ""}, "email", "string_too_short"),
    ({"nickname": "x"}, "nickname", "extra_forbidden"),
    ({"address": {"street": "a", "postal_code": "1234", "city": "b"}}, "address.postal_code",
     "postal_code_invalid"),
    ({"address": {"street": "a", "postal_code": "10115", "city": "b", "country": "XX"}}, "address.country",
     "country_invalid"),
    ({"address": {"street": "a", "postal_code": "10115", "city": "b", "floor": 3}}, "address.floor",
     "extra_forbidden"),
])
async def test_validation_errors(client, store, vault, changes, field, code) -> None:  # type: ignore[no-untyped-def]
    codes = _codes(await client.post("/api/support-requests", json=body(**changes)))
    assert codes.get(field) == code, codes
    assert store.published == [] and vault.stored == {}


async def test_business_needs_no_waiver(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(customer_type="business"))
    assert r.status_code == 201


async def test_422_never_echoes_input(client, store, vault) -> None:  # type: ignore[no-untyped-def]
    bad = body(company=MARKER * 30, contact_name=f" {MARKER} " * 50, phone=f"{MARKER}0170",
               email=f"{MARKER}@", terms_accepted=MARKER, terms_version=MARKER, customer_type=MARKER,
               withdrawal_waiver=MARKER,
               address={"street": MARKER * 30, "postal_code": MARKER, "city": "", "country": MARKER})
    r = await client.post("/api/support-requests", json=bad)
    assert r.status_code == 422
    assert MARKER not in r.text and MARKER.lower() not in r.text.lower()
    r = await client.post("/api/support-requests", content=b'{"company": "' + MARKER.encode() + b'",',
                          headers={"content-type": "application/json"})
    assert r.status_code == 422 and MARKER not in r.text
    # A valid body with an unknown terms version is refused in a second step: no echo there either.
    r = await client.post("/api/support-requests", json=body(company=MARKER, terms_version="9999-99"))
    assert r.status_code == 422 and MARKER not in r.text and "9999-99" not in r.text
    assert store.published == [] and vault.stored == {}


async def test_vault_unavailable_is_503_and_nothing_stored(client, store, vault) -> None:  # type: ignore[no-untyped-def]
    vault.available = False
    r = await client.post("/api/support-requests", json=body(company=MARKER))
    assert r.status_code == 503
    assert r.json()["code"] == "vault_unavailable" and "nichts gespeichert" in r.json()["message_de"]
    assert r.headers["retry-after"] == "30" and MARKER not in r.text
    assert store.rows == {} and store.published == []


async def test_withdraw_flow(client, store) -> None:  # type: ignore[no-untyped-def]
    rid = (await client.post("/api/support-requests", json=body())).json()["request_id"]
    r = await client.post(f"/api/support-requests/{rid}/withdraw")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = await client.post(f"/api/support-requests/{rid}/withdraw")
    assert r.status_code == 409 and r.json()["code"] == "already_withdrawn"
    assert [e.event_type for e in store.published] == ["SupportRequestCreated", "SupportRequestWithdrawn"]
    r = await client.post(f"/api/support-requests/{uuid.uuid4()}/withdraw")
    assert r.status_code == 404 and r.json()["code"] == "request_not_found"
    assert (await client.get(f"/api/support-requests/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/api/support-requests/not-a-uuid")).status_code == 422


async def test_terms_endpoints(client) -> None:  # type: ignore[no-untyped-def]
    cur = (await client.get("/api/terms/current")).json()
    assert cur == {"version": TERMS.current.version, "sha256": TERMS.current.sha256, "text": TERMS.current.text}
    assert (await client.get(f"/api/terms/{cur['version']}")).json() == cur
    r = await client.get("/api/terms/1999-01")
    assert r.status_code == 404 and r.json()["code"] == "terms_version_unknown"


async def test_rate_limit(store, vault) -> None:  # type: ignore[no-untyped-def]
    deps = IntakeDeps(terms=TERMS, vault=vault, unit_of_work=store.unit_of_work, requests=store.repo,
                      limiter=RateLimiter(3))
    app = build(Settings(http_port=0), deps=deps).http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        statuses = [(await c.post("/api/support-requests", json=body())).status_code for _ in range(3)]
        assert statuses == [201, 201, 201]
        r = await c.post("/api/support-requests", json={"company": MARKER})  # bad bodies count too
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1 and MARKER not in r.text
        assert (await c.get("/api/terms/current")).status_code == 200  # reads are not limited
    other = httpx.ASGITransport(app, client=("10.9.9.9", 1234))
    async with httpx.AsyncClient(transport=other, base_url="http://t") as c:
        assert (await c.post("/api/support-requests", json=body())).status_code == 201


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0], max_keys=2)
    assert limiter.take("a") is None and limiter.take("a") is None
    wait = limiter.take("a")
    assert wait is not None and 29 < wait <= 30
    now[0] += 30
    assert limiter.take("a") is None
    limiter.take("b"), limiter.take("c")  # "a" falls out: memory stays bounded
    assert limiter.take("a") is None


def test_openapi_lists_the_routes() -> None:
    app = build(Settings(http_port=0),
                deps=IntakeDeps(terms=TERMS, vault=None, unit_of_work=None, requests=None,  # type: ignore[arg-type]
                                limiter=RateLimiter(1))).http
    paths = set(json.loads(json.dumps(app.openapi()))["paths"])
    assert {"/api/support-requests", "/api/support-requests/{request_id}",
            "/api/support-requests/{request_id}/withdraw", "/api/terms/current",
            "/api/terms/{version}", "/healthz", "/readyz"} <= paths


AT_ADDRESS = {"street": "Ringstraße 1", "postal_code": "1010", "city": "Wien", "country": "AT"}


async def test_vat_id_and_leitweg_id_go_to_the_vault_only(client, store, vault) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(
        vat_id="atu 1234 5678", buyer_reference="04011000-12345-03", address=AT_ADDRESS))
    assert r.status_code == 201, r.text
    [event] = store.published
    data = vault.stored[event.request_id]
    assert (data.vat_id, data.buyer_reference) == ("ATU12345678", "04011000-12345-03")
    dumped = event.model_dump_json()
    assert "ATU12345678" not in dumped and "04011000" not in dumped  # never in the event


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"vat_id": "ATU1234", "address": AT_ADDRESS}, "vat_id", "vat_id_invalid"),
    ({"vat_id": "XX123456789", "address": AT_ADDRESS}, "vat_id", "vat_id_invalid"),
    ({"buyer_reference": "04011000-12345-04", "address": AT_ADDRESS}, "buyer_reference",
     "buyer_reference_invalid"),
    ({"buyer_reference": "Amt für Dinge", "address": AT_ADDRESS}, "buyer_reference", "buyer_reference_invalid"),
])
async def test_malformed_tax_ids_are_refused_without_echo(client, store, vault, changes, field, code) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(**changes))
    assert _codes(r).get(field) == code
    value = changes[field]
    assert value not in r.text
    message = next(e for e in r.json()["errors"] if e["field"] == field)
    assert ("USt-IdNr." if field == "vat_id" else "Leitweg-ID") in message["message_de"]
    assert store.published == [] and vault.stored == {}


async def test_a_vat_id_needs_the_billing_address(client, store, vault) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/support-requests", json=body(vat_id="ATU12345678"))
    assert "address_required" in _codes(r).values()
    assert "Rechnungsadresse" in r.text and "billing address" in r.text
    assert store.published == [] and vault.stored == {}


async def test_the_download_code_is_given_once_and_only_its_hash_leaves(  # type: ignore[no-untyped-def]
        client, store, vault, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    first = (await client.post("/api/support-requests", json=body())).json()
    second = (await client.post("/api/support-requests", json=body())).json()
    code = first["download_code"]
    assert len(code) >= 43 and code != second["download_code"]  # 32 random bytes, URL-safe base64
    [event, _] = store.published
    assert event.download_sha256 == hashlib.sha256(code.encode()).hexdigest()
    assert code not in event.model_dump_json()
    status = await client.get(first["status_url"])
    assert code not in status.text  # not retrievable again
    assert code not in caplog.text
