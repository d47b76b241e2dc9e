"""BillingBlocked from the stream -> shown on the session -> address to the vault -> event (real NATS/PG)."""

from __future__ import annotations

import uuid
from typing import Any

from fw_contracts.events import BillingAddressProvided, BillingBlocked
from fw_devenv.testing import eventually


async def ended_session(h: Any) -> tuple[str, uuid.UUID]:
    created = await h.create_request()
    await eventually(lambda: h.client.get("/api/queue"), until=lambda r: len(r.json()) == 1)
    resp = await h.client.post("/api/sessions", json={"request_id": str(created.request_id), "technician": "tech-07"})
    sid = resp.json()["session_id"]
    h.clock.advance(3600)
    assert (await h.client.post(f"/api/sessions/{sid}/end")).status_code == 200
    return sid, created.request_id


async def test_blocked_session_gets_its_address(harness: Any) -> None:
    h = harness
    sid, rid = await ended_session(h)
    address = {"street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin"}
    early = await h.client.post(f"/api/sessions/{sid}/billing-address", json=address)
    assert early.status_code == 409 and early.json()["code"] == "billing_not_blocked"

    blocked = BillingBlocked(session_id=uuid.UUID(sid), request_id=rid, missing=("billing_address",))
    await h.publish(blocked)
    await h.publish(blocked, msg_id=str(uuid.uuid4()))  # a redelivery past the duplicate window
    state = await eventually(lambda: h.client.get(f"/api/sessions/{sid}"),
                             until=lambda r: r.json()["billing_blocked"])
    assert state.json()["missing"] == ["billing_address"] and state.json()["billing_address_provided_at"] is None

    resp = await h.client.post(f"/api/sessions/{sid}/billing-address", json=address)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["billing_blocked"] is False and body["missing"] == [] and body["billing_address_provided_at"]
    assert h.vault.addresses[rid].street == "Hauptstraße 5" and h.vault.addresses[rid].country == "DE"

    events = await eventually(h.stream_events, until=lambda e: any(
        isinstance(x, BillingAddressProvided) for x in e))
    [provided] = [e for e in events if isinstance(e, BillingAddressProvided)]
    assert provided.session_id == uuid.UUID(sid) and provided.request_id == rid
    assert provided.causation_id == blocked.event_id and provided.correlation_id == blocked.correlation_id
    assert "Hauptstra" not in provided.to_json().decode()
    rows = await h.db("SELECT * FROM billing_blocks")
    assert len(rows) == 1 and "Hauptstra" not in repr(dict(rows[0]))

    h.vault.erased.add(rid)  # billing invoiced in between and retention erased: refused, nothing emitted
    late = await h.client.post(f"/api/sessions/{sid}/billing-address", json=address)
    assert late.status_code == 409 and late.json()["code"] == "request_data_erased"
    assert len([e for e in await h.stream_events() if isinstance(e, BillingAddressProvided)]) == 1


async def test_erasure_closes_the_block_even_when_seen_before_it(harness: Any) -> None:
    """Retention's billing hold ended: the block shows closed (lost claim), the address form is
    refused. PersonalDataErased and BillingBlocked arrive on different durables, so the erasure
    may be handled first: the state is derived when the session is read, not when an event comes."""
    from datetime import UTC, datetime

    from fw_contracts.events import ErasureReason, PersonalDataErased

    h = harness
    sid, rid = await ended_session(h)
    gone = PersonalDataErased(request_id=rid, reason=ErasureReason.ABANDONED, erased_at=datetime.now(UTC))
    await h.publish(gone)
    await eventually(lambda: h.db("SELECT erasure_reason FROM requests WHERE request_id = $1", rid),
                     until=lambda rows: rows and rows[0]["erasure_reason"] == "abandoned")
    await h.publish(BillingBlocked(session_id=uuid.UUID(sid), request_id=rid, missing=("billing_address",)))
    state = await eventually(lambda: h.client.get(f"/api/sessions/{sid}"),
                             until=lambda r: r.json()["billing_block_state"] is not None)
    body = state.json()
    assert body["billing_block_state"] == "closed_data_erased" and body["billing_blocked"] is False
    assert body["request_data_erased_at"] is not None
    resp = await h.client.post(f"/api/sessions/{sid}/billing-address",
                               json={"street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin"})
    assert resp.status_code == 409 and resp.json()["code"] == "billing_closed_data_erased"
    assert rid not in h.vault.addresses
    assert not [e for e in await h.stream_events() if isinstance(e, BillingAddressProvided)]
