"""Session's HTTP inputs take only clean text (issue 14, findings 1 and 9): the promotion
statement and the billing address the technician enters; 422, nothing stored, no echo."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from fw_contracts.events import BillingBlocked, BlockReason
from fw_contracts.text import TEXT_MESSAGES
from fw_platform import http as platform_http
from fw_platform.runtime import Runtime
from fw_session.bootstrap import MIGRATIONS
from fw_session.domain.billing import BillingNotBlocked, decide_provide_address, evolve_block
from fw_session.entrypoints.http import MESSAGES, build_router, install_error_handlers
from fw_session.settings import Settings

ADDRESS = {"street": "Lindenweg 3", "postal_code": "10115", "city": "Berlin"}


@pytest.fixture
def client(world):  # type: ignore[no-untyped-def]
    app = FastAPI()
    platform_http.install(app, Runtime("session", Settings(), MIGRATIONS), custom_messages=MESSAGES)
    install_error_handlers(app)
    app.include_router(build_router(world.service, world.billing))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t",
                             headers={"Fw-Technician": "tech-07"})


async def _running(world, client) -> str:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    resp = await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})
    return str(resp.json()["session_id"])


@pytest.mark.parametrize(("statement", "code"), [
    ("Geheim\u0000Wortlaut", "text_control_character"),
    ("Geheim\u001b[2J", "text_control_character"),
    ("Geheim\u202eWortlaut", "text_format_character"),
    ("\u200b\u200c", "text_format_character"),
    ("Geheim\uffff", "text_invalid_character"),
    ("\u3164\n\t", "text_not_visible"),
])
async def test_unclean_statement_is_refused(world, client, statement, code) -> None:  # type: ignore[no-untyped-def]
    sid = await _running(world, client)
    resp = await client.post(f"/api/sessions/{sid}/promotion", json={"statement": statement})
    assert resp.status_code == 422, resp.text
    (error,) = resp.json()["errors"]
    assert (error["field"], error["code"]) == ("statement", code)
    assert (error["message_de"], error["message_en"]) == TEXT_MESSAGES[code]
    assert "Geheim" not in resp.text and "Wortlaut" not in resp.text
    assert not (await client.get(f"/api/sessions/{sid}")).json()["promoted"]
    assert world.vault.statements == {}


async def test_a_multi_line_statement_is_recorded_nfc(world, client) -> None:  # type: ignore[no-untyped-def]
    sid = await _running(world, client)
    resp = await client.post(f"/api/sessions/{sid}/promotion",
                             json={"statement": "Ja,\r\nich mo\u0308chte\tStammkunde werden."})
    assert resp.status_code == 201, resp.text
    (stored,) = world.vault.statements.values()
    assert stored.text == "Ja,\nich möchte\tStammkunde werden."


@pytest.mark.parametrize(("field", "value", "code"), [
    ("street", "Geheimweg\u00007", "text_control_character"),
    ("city", "Geheim\u2067stadt", "text_format_character"),
    ("city", "\u200b", "text_format_character"),
    ("street", "Geheimweg\n7", "text_control_character"),
])
async def test_unclean_billing_address_is_refused(world, client, field, value, code) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    world.clock.advance(4000)
    await world.service.end(session.session_id, "tech-07")
    await world.deliver(BillingBlocked(session_id=session.session_id, request_id=rid, missing=("billing_address",)))
    resp = await client.post(f"/api/sessions/{session.session_id}/billing-address",
                             json={**ADDRESS, field: value})
    assert resp.status_code == 422, resp.text
    assert {(e["field"], e["code"]) for e in resp.json()["errors"]} == {(field, code)}
    assert "Geheim" not in resp.text
    assert world.vault.addresses == {}


def test_a_block_without_anything_missing_opens_no_address_block() -> None:
    """BillingBlocked v2 for a document that could not be rendered: the technician has nothing
    to provide, so session keeps no block (an address would be refused as not asked for)."""
    sid, rid = uuid.uuid4(), uuid.uuid4()
    failed = BillingBlocked(session_id=sid, request_id=rid, missing=(), reason=BlockReason.DOCUMENT_RENDER_FAILED)
    assert evolve_block(None, failed) is None
    with pytest.raises(BillingNotBlocked):
        decide_provide_address(evolve_block(None, failed), at=failed.occurred_at)
    address = BillingBlocked(session_id=sid, request_id=rid, missing=("billing_address",))
    block = evolve_block(None, address)
    assert block is not None and evolve_block(block, failed) == block
