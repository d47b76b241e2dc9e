"""Billing blocked for want of an address: domain, handler, command and HTTP edge (fakes only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from fw_contracts.events import BillingAddressProvided, BillingBlocked, ErasureReason, PersonalDataErased
from fw_contracts.vault import Address, VaultError
from fw_platform import http as platform_http
from fw_platform.runtime import Runtime
from fw_session.bootstrap import MIGRATIONS
from fw_session.domain.billing import (
    BillingClosedDataErased,
    BillingNotBlocked,
    BlockState,
    block_state,
    decide_provide_address,
    evolve_block,
)
from fw_session.entrypoints.http import MESSAGES, build_router, install_error_handlers
from fw_session.settings import Settings

T0 = datetime(2025, 3, 3, 9, 0, 0, 250_000, tzinfo=UTC)  # as the fake clock in conftest

ADDRESS = {"street": "Lindenweg 3", "postal_code": "10115", "city": "Berlin"}


def blocked(session_id: uuid.UUID, request_id: uuid.UUID, at=T0) -> BillingBlocked:  # type: ignore[no-untyped-def]
    return BillingBlocked(session_id=session_id, request_id=request_id, missing=("billing_address",), occurred_at=at)


def test_evolve_block_is_idempotent_and_reopens_only_for_a_newer_block() -> None:
    sid, rid = uuid.uuid4(), uuid.uuid4()
    first = blocked(sid, rid)
    block = evolve_block(None, first)
    assert block is not None and block.waiting and block.missing == ("billing_address",)
    assert evolve_block(block, first) == block
    assert evolve_block(block, blocked(sid, rid, T0 + timedelta(seconds=5))) == block  # still waiting
    provided = decide_provide_address(block, at=T0 + timedelta(minutes=1))
    assert provided.causation_id == first.event_id and provided.correlation_id == first.correlation_id
    done = evolve_block(block, provided)
    assert done is not None and not done.waiting
    assert evolve_block(done, blocked(sid, rid, T0 + timedelta(seconds=30))) == done  # older than the address
    again = evolve_block(done, blocked(sid, rid, T0 + timedelta(minutes=2)))
    assert again is not None and again.waiting


def test_no_address_without_a_block() -> None:
    with pytest.raises(BillingNotBlocked):
        decide_provide_address(None, at=T0)


async def ended_session(world) -> tuple[uuid.UUID, uuid.UUID]:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    world.clock.advance(4000)
    await world.service.end(session.session_id, "tech-07")
    return session.session_id, rid


async def test_handler_and_command(world) -> None:  # type: ignore[no-untyped-def]
    sid, rid = await ended_session(world)
    with pytest.raises(BillingNotBlocked):
        await world.billing.provide(sid, Address(**ADDRESS), "tech-07")
    assert await world.deliver(blocked(sid, rid)) == []
    view = await world.billing.view(sid, "tech-07")
    assert view.block is not None and view.block.waiting
    world.uow.published.clear()
    view = await world.billing.provide(sid, Address(**ADDRESS), "tech-07")
    assert view.block is not None and not view.block.waiting
    assert world.vault.addresses[rid] == Address(**ADDRESS)
    [event] = world.uow.published
    assert isinstance(event, BillingAddressProvided) and event.session_id == sid and event.request_id == rid


async def test_vault_refusal_or_absence_emits_nothing(world) -> None:  # type: ignore[no-untyped-def]
    from fw_platform.vault_client import VaultUnavailable
    from fw_session.application.ports import VaultRejected

    sid, rid = await ended_session(world)
    await world.deliver(blocked(sid, rid))
    world.uow.published.clear()
    world.vault.available = False
    with pytest.raises(VaultUnavailable):
        await world.billing.provide(sid, Address(**ADDRESS), "tech-07")
    world.vault.available, world.vault.refuse_address = True, VaultError.ERASED
    with pytest.raises(VaultRejected):
        await world.billing.provide(sid, Address(**ADDRESS), "tech-07")
    assert world.uow.published == [] and (await world.billing.view(sid, "tech-07")).block.waiting


def erased(request_id: uuid.UUID, reason: ErasureReason, at=T0 + timedelta(days=90)) -> PersonalDataErased:  # type: ignore[no-untyped-def]
    return PersonalDataErased(request_id=request_id, reason=reason, erased_at=at, occurred_at=at)


def test_block_state_follows_the_requests_erasure() -> None:
    block = evolve_block(None, blocked(uuid.uuid4(), uuid.uuid4()))
    assert block_state(None, erased_at=None, erasure_reason=None) is None
    assert block_state(block, erased_at=None, erasure_reason=None) is BlockState.WAITING
    provided = evolve_block(block, decide_provide_address(block, at=T0 + timedelta(minutes=1)))
    assert block_state(provided, erased_at=None, erasure_reason=None) is BlockState.ADDRESS_PROVIDED
    assert block_state(provided, erased_at=T0, erasure_reason=ErasureReason.INVOICE_ISSUED) is BlockState.INVOICED
    for reason in (ErasureReason.ABANDONED, ErasureReason.WITHDRAWN, ErasureReason.NOT_BILLED):
        assert block_state(block, erased_at=T0, erasure_reason=reason) is BlockState.CLOSED_DATA_ERASED


async def test_erasure_at_the_end_of_the_hold_closes_the_block(world) -> None:  # type: ignore[no-untyped-def]
    sid, rid = await ended_session(world)
    await world.deliver(blocked(sid, rid))
    gone = erased(rid, ErasureReason.ABANDONED)
    assert await world.deliver(gone) == []
    view = await world.billing.view(sid, "tech-07")
    assert view.block_state is BlockState.CLOSED_DATA_ERASED and view.request.erased_at == gone.erased_at
    world.uow.published.clear()
    with pytest.raises(BillingClosedDataErased):  # too late: refused before the vault is asked
        await world.billing.provide(sid, Address(**ADDRESS), "tech-07")
    assert world.uow.published == [] and world.vault.addresses == {}
    # a later erasure event (e.g. the lost claim's SessionNotBilled erasing again) keeps the first reason
    await world.deliver(erased(rid, ErasureReason.NOT_BILLED, T0 + timedelta(days=91)))
    assert (await world.billing.view(sid, "tech-07")).request.erasure_reason is ErasureReason.ABANDONED


@pytest.fixture
def client(world):  # type: ignore[no-untyped-def]
    app = FastAPI()
    platform_http.install(app, Runtime("session", Settings(), MIGRATIONS), custom_messages=MESSAGES)
    install_error_handlers(app)
    app.include_router(build_router(world.service, world.billing))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t",
                             headers={"Fw-Technician": "tech-07"})


async def test_http(world, client) -> None:  # type: ignore[no-untyped-def]
    sid, rid = await ended_session(world)
    state = (await client.get(f"/api/sessions/{sid}")).json()
    assert state["billing_blocked"] is False and state["missing"] == []
    r = await client.post(f"/api/sessions/{sid}/billing-address", json=ADDRESS)
    assert r.status_code == 409 and r.json()["code"] == "billing_not_blocked"
    await world.deliver(blocked(sid, rid))
    state = (await client.get(f"/api/sessions/{sid}")).json()
    assert state["billing_blocked"] is True and state["missing"] == ["billing_address"]
    # only the session's technician provides the address (and sees the session)
    other = {"Fw-Technician": "tech-08"}
    r = await client.post(f"/api/sessions/{sid}/billing-address", json=ADDRESS, headers=other)
    assert r.status_code == 403 and r.json()["code"] == "session_of_another_technician"
    assert (await client.get(f"/api/sessions/{sid}", headers=other)).status_code == 403
    assert rid not in world.vault.addresses
    r = await client.post(f"/api/sessions/{sid}/billing-address", json={**ADDRESS, "country": "de"})
    assert r.status_code == 200 and r.json()["billing_blocked"] is False
    assert world.vault.addresses[rid].country == "DE"
    r = await client.post(f"/api/sessions/{uuid.uuid4()}/billing-address", json=ADDRESS)
    assert r.status_code == 404 and r.json()["code"] == "session_not_found"
    world.vault.refuse_address = VaultError.ERASED
    r = await client.post(f"/api/sessions/{sid}/billing-address", json=ADDRESS)
    assert r.status_code == 409 and r.json()["code"] == "request_data_erased"
    world.vault.refuse_address, world.vault.available = None, False
    r = await client.post(f"/api/sessions/{sid}/billing-address", json=ADDRESS)
    assert r.status_code == 503 and r.json()["code"] == "vault_unavailable"


async def test_http_shows_a_closed_block(world, client) -> None:  # type: ignore[no-untyped-def]
    sid, rid = await ended_session(world)
    await world.deliver(blocked(sid, rid))
    state = (await client.get(f"/api/sessions/{sid}")).json()
    assert (state["billing_blocked"], state["billing_block_state"]) == (True, "waiting")
    await world.deliver(erased(rid, ErasureReason.ABANDONED))
    state = (await client.get(f"/api/sessions/{sid}")).json()
    assert (state["billing_blocked"], state["billing_block_state"], state["missing"]) == (
        False, "closed_data_erased", [])
    assert state["request_data_erased_at"] is not None
    r = await client.post(f"/api/sessions/{sid}/billing-address", json=ADDRESS)
    assert r.status_code == 409 and r.json()["code"] == "billing_closed_data_erased"
    assert "gelöscht" in r.json()["message_de"] and "erased" in r.json()["message_en"]


@pytest.mark.parametrize(("body", "field", "code"), [
    ({**ADDRESS, "postal_code": "Geheim-9"}, "postal_code", "postal_code_invalid"),
    ({**ADDRESS, "country": "Geheimland"}, "country", "string_too_long"),
    ({**ADDRESS, "country": "1X"}, "country", "country_invalid"),
    ({**ADDRESS, "street": ""}, "street", "string_too_short"),
    ({**ADDRESS, "note": "Geheimweg 7"}, "note", "extra_forbidden"),
    ({k: v for k, v in ADDRESS.items() if k != "city"}, "city", "missing"),
])
async def test_invalid_address_is_refused_without_echo(world, client, body, field, code) -> None:  # type: ignore[no-untyped-def]
    sid, rid = await ended_session(world)
    await world.deliver(blocked(sid, rid))
    r = await client.post(f"/api/sessions/{sid}/billing-address", json=body)
    assert r.status_code == 422
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {(field, code)}
    assert "Geheim" not in r.text and "Lindenweg" not in r.text
    assert world.vault.addresses == {}
