"""HTTP edge: status codes, bilingual problems, validation without echoing input (fakes only)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from fw_platform import http as platform_http
from fw_platform.runtime import Runtime
from fw_session.bootstrap import MIGRATIONS
from fw_session.entrypoints.http import build_router, install_error_handlers
from fw_session.settings import Settings


@pytest.fixture
def client(world):  # type: ignore[no-untyped-def]
    app = FastAPI()
    # The runtime is never started: the fakes stand in for PostgreSQL and NATS.
    platform_http.install(app, Runtime("session", Settings(), MIGRATIONS))
    install_error_handlers(app)
    app.include_router(build_router(world.service))
    # The front end names the signed-in technician on every call (tech-07 unless a test says otherwise).
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t",
                             headers={"Fw-Technician": "tech-07"})


def assert_problem(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and body["message_de"] and body["message_en"]


async def test_lifecycle_over_http(world, client) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    queue = (await client.get("/api/queue")).json()
    assert [q["request_id"] for q in queue] == [str(rid)]
    assert set(queue[0]) == {"request_id", "ticket", "customer_type", "created_at", "waiting_seconds",
                             "company", "contact_name", "phone"}
    resp = await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})
    assert resp.status_code == 201 and set(resp.json()) == {"session_id", "started_at"}
    sid = resp.json()["session_id"]
    world.clock.advance(90)
    resp = await client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Ja, bitte."})
    assert resp.status_code == 201 and resp.json()["promoted"] is True
    resp = await client.post(f"/api/sessions/{sid}/end")
    assert resp.status_code == 200 and resp.json()["duration_seconds"] == 90
    assert (await client.get(f"/api/sessions/{sid}")).json()["status"] == "ended"
    assert_problem(await client.post(f"/api/sessions/{sid}/end"), 409, "session_ended")
    assert_problem(await client.post(f"/api/sessions/{sid}/promotion", json={"statement": "x"}), 409,
                   "session_ended")
    assert_problem(await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"}),
                   409, "request_already_started")


async def test_not_found(client) -> None:  # type: ignore[no-untyped-def]
    sid = uuid.uuid4()
    assert_problem(await client.post(f"/api/sessions/{sid}/end"), 404, "session_not_found")
    assert_problem(await client.get(f"/api/sessions/{sid}"), 404, "session_not_found")
    assert_problem(await client.post(f"/api/sessions/{sid}/promotion", json={"statement": "ja"}), 404,
                   "session_not_found")
    assert_problem(await client.post("/api/sessions", json={"request_id": str(sid), "technician": "tech-07"}),
                   404, "request_not_found")


@pytest.mark.parametrize("body", [
    {"request_id": str(uuid.UUID(int=1)), "technician": "Erika Mustermann"},
    {"request_id": str(uuid.UUID(int=1)), "technician": "T"},
    {"request_id": "not-a-uuid", "technician": "tech-07"},
    {"request_id": str(uuid.UUID(int=1))},
    {"request_id": str(uuid.UUID(int=1)), "technician": "tech-07", "screen": "..."},
])
async def test_start_validation(client, body) -> None:  # type: ignore[no-untyped-def]
    resp = await client.post("/api/sessions", json=body)
    assert_problem(resp, 422, "invalid_input")
    assert "Erika" not in resp.text and "not-a-uuid" not in resp.text


@pytest.mark.parametrize("statement", ["", "   ", "x" * 2001])
async def test_promotion_validation(world, client, statement) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    sid = (await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})).json()[
        "session_id"]
    resp = await client.post(f"/api/sessions/{sid}/promotion", json={"statement": statement})
    assert_problem(resp, 422, "invalid_input")
    assert not (await client.get(f"/api/sessions/{sid}")).json()["promoted"]


async def test_vault_unavailable_is_503(world, client) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    sid = (await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})).json()[
        "session_id"]
    await world.waiting_request()
    world.vault.available = False
    assert_problem(await client.get("/api/queue"), 503, "vault_unavailable")
    resp = await client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Geheimer Wortlaut"})
    assert_problem(resp, 503, "vault_unavailable")
    assert "Geheimer" not in resp.text


async def test_vault_refusals_map_to_409_or_503(world, client) -> None:  # type: ignore[no-untyped-def]
    from fw_contracts.vault import VaultError

    rid = await world.waiting_request()
    sid = (await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})).json()[
        "session_id"]
    for error, status, code in ((VaultError.EXISTS, 409, "statement_exists"),
                                (VaultError.ERASED, 409, "request_data_erased"),
                                (VaultError.FORBIDDEN, 503, "vault_refused")):
        world.vault.refuse_statement = error
        assert_problem(await client.post(f"/api/sessions/{sid}/promotion", json={"statement": "ja"}), status, code)
    assert [type(e).__name__ for e in world.uow.published] == ["SessionStarted"]


async def test_another_technician_gets_403_everywhere_until_a_recorded_takeover(world, client) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    sid = (await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})).json()[
        "session_id"]
    other = {"Fw-Technician": "tech-08"}
    for resp in (await client.get(f"/api/sessions/{sid}", headers=other),
                 await client.post(f"/api/sessions/{sid}/promotion", json={"statement": "ja"}, headers=other),
                 await client.post(f"/api/sessions/{sid}/end", headers=other)):
        assert_problem(resp, 403, "session_of_another_technician")
        assert "tech-07" not in resp.text
    assert [type(e).__name__ for e in world.uow.published] == ["SessionStarted"]
    # the takeover is explicit and recorded; then the roles swap
    resp = await client.post(f"/api/sessions/{sid}/takeover", headers=other)
    assert resp.status_code == 200 and resp.json()["technician"] == "tech-08"
    assert_problem(await client.post(f"/api/sessions/{sid}/takeover", headers=other), 409, "session_already_yours")
    assert_problem(await client.post(f"/api/sessions/{sid}/end"), 403, "session_of_another_technician")
    resp = await client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Ja, bitte."}, headers=other)
    assert resp.status_code == 201
    assert world.vault.statements[rid].technician == "tech-08"
    assert (await client.post(f"/api/sessions/{sid}/end", headers=other)).json()["status"] == "ended"
    assert [type(e).__name__ for e in world.uow.published] == [
        "SessionStarted", "SessionTakenOver", "CustomerPromoted", "SessionEnded"]
    taken = world.uow.published[1]
    assert (taken.from_technician, taken.to_technician, taken.taken_over_by) == ("tech-07", "tech-08", "tech-08")
    assert all(e.technician == "tech-08" for e in world.uow.published[2:])


async def test_a_lead_may_hand_a_session_on(world, client) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    sid = (await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})).json()[
        "session_id"]
    resp = await client.post(f"/api/sessions/{sid}/takeover", json={"to_technician": "tech-09"},
                             headers={"Fw-Technician": "lead-1"})
    assert resp.status_code == 200 and resp.json()["technician"] == "tech-09"
    taken = world.uow.published[-1]
    assert (taken.from_technician, taken.to_technician, taken.taken_over_by) == ("tech-07", "tech-09", "lead-1")
    assert_problem(await client.post(f"/api/sessions/{sid}/takeover", json={"to_technician": "Erika M"}),
                   422, "invalid_input")


@pytest.mark.parametrize("headers", [{"Fw-Technician": ""}, {"Fw-Technician": "Erika Mustermann"}, {}])
async def test_a_call_without_an_acting_technician_is_refused(world, client, headers) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    sid = (await client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})).json()[
        "session_id"]
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://t", headers=headers)
    for resp in (await anonymous.get(f"/api/sessions/{sid}"),
                 await anonymous.post(f"/api/sessions/{sid}/end"),
                 await anonymous.post(f"/api/sessions/{sid}/takeover"),
                 await anonymous.post(f"/api/sessions/{sid}/promotion", json={"statement": "ja"})):
        assert_problem(resp, 400, "acting_technician_required")
        assert "Erika" not in resp.text
    assert [type(e).__name__ for e in world.uow.published] == ["SessionStarted"]
