"""Export, AVV and the address operation against real NATS and PostgreSQL (through the app)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from nats.aio.client import Client

from fw_contracts import Header
from fw_contracts.events import SupportRequestWithdrawn
from fw_contracts.vault import Address
from fw_devenv.testing import eventually
from fw_devenv.vault_callers import VaultCallers
from fw_platform.vault_client import VaultRefused
from fw_retention.application.service import RetentionService
from fw_retention.bootstrap import build

from retention_testkit import MARKERS, Clock, personal_data, settings_for, statement


async def withdraw(nc: Client, rid: uuid.UUID) -> None:
    event = SupportRequestWithdrawn(request_id=rid)
    await nc.jetstream().publish(event.subject(), event.to_json(), headers={Header.MSG_ID: str(event.event_id)})


@pytest_asyncio.fixture
async def api(fw_env: Any, clock: Clock) -> AsyncIterator[tuple[httpx.AsyncClient, RetentionService]]:
    app = build(settings_for(fw_env), clock=clock).http
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client):
        yield client, app.state.service


async def test_export_address_and_erasure(api: tuple[httpx.AsyncClient, RetentionService], nc: Client,
                                          admin: asyncpg.Connection) -> None:
    client, _ = api
    vault = VaultCallers(nc)
    rid = uuid.uuid4()
    await vault.put(rid, personal_data(address=None))
    await vault.add_statement(rid, statement())
    await vault.set_address(rid, Address(street="Feldweg 9", postal_code="14467", city="Potsdam"))

    r = await client.get(f"/api/requests/{rid}/export")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["state"] == "stored" and body["personal_data"]["company"] == MARKERS[0]
    assert body["personal_data"]["address"]["street"] == "Feldweg 9"
    assert body["promotion_statement"]["text"] == MARKERS[6]
    assert [(a["purpose"], a["outcome"]) for a in body["access_log"]] == [
        ("billing_address", "updated"), ("data_subject_access", "ok")]
    # the access log in the database has the export, without any data
    rows = await admin.fetch("SELECT * FROM retention.vault_access_log WHERE request_id = $1", rid)
    assert {r["purpose"] for r in rows} == {"billing_address", "data_subject_access"}

    await withdraw(nc, rid)

    async def erased() -> dict[str, Any] | None:
        b = (await client.get(f"/api/requests/{rid}/export")).json()
        return b if b["state"] == "erased" else None

    after = await eventually(erased)
    assert after["personal_data"] is None and after["promotion_statement"] is None
    assert after["erasure"]["reason"] == "withdrawn" and after["erasure"]["erased_at"]
    assert "zurückgezogen" in after["note_de"]
    for marker in (*MARKERS, "Feldweg"):
        assert marker not in (await client.get(f"/api/requests/{rid}/export")).text
    with pytest.raises(VaultRefused) as refused:  # an address after erasure is refused
        await vault.set_address(rid, Address(street="Spät 1", postal_code="14467", city="Potsdam"))
    assert refused.value.error.value == "erased"

    unknown = await client.get(f"/api/requests/{uuid.uuid4()}/export")
    assert unknown.status_code == 404 and unknown.json()["code"] == "request_unknown"


async def test_avv_document_and_requests(api: tuple[httpx.AsyncClient, RetentionService], clock: Clock) -> None:
    client, _ = api
    md = await client.get("/api/avv")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Vertrag über die Verarbeitung") and md.headers["x-document-version"] == "2026-01"
    html = await client.get("/api/avv", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<h1>" in html.text

    r = await client.post("/api/avv-requests", json={"channel": "phone", "customer_number": "K00042"})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["channel"] == "phone" and rec["avv_version"] == "2026-01" and len(rec["avv_sha256"]) == 64
    clock.advance(minutes=5)  # the test clock stands still otherwise: newest first needs a later time
    r = await client.post("/api/avv-requests", json={"channel": "email", "ticket": "K7MQ-3XA"})
    assert r.status_code == 201
    listed = (await client.get("/api/avv-requests")).json()
    assert [x["channel"] for x in listed] == ["email", "phone"]

    for bad in ({"channel": "fax"}, {"channel": "phone", "note": "Herr Geheim ruft an"},
                {"channel": "phone", "customer_number": "Herr Geheim"}, {"channel": "phone", "ticket": "x"}):
        r = await client.post("/api/avv-requests", json=bad)
        assert r.status_code == 422 and "Geheim" not in r.text


async def test_protocol_rows_are_pruned_by_the_sweep(api: tuple[httpx.AsyncClient, RetentionService], nc: Client,
                                                     clock: Clock, admin: asyncpg.Connection) -> None:
    client, retention = api
    rid = uuid.uuid4()
    await VaultCallers(nc).put(rid, personal_data())
    await client.get(f"/api/requests/{rid}/export")
    await client.post("/api/avv-requests", json={"channel": "web"})
    assert await retention.prune_records() == 0
    clock.advance(days=4 * 366)  # past the end of the 3rd calendar year after this one
    assert await retention.prune_records() == 2
    assert await admin.fetchval("SELECT count(*) FROM retention.vault_access_log") == 0
    assert await admin.fetchval("SELECT count(*) FROM retention.avv_requests") == 0
    assert retention.abandon_after == timedelta(days=14)
