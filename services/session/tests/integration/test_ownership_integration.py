"""A session belongs to its technician: others get 403 on everything until an explicit takeover,
which is in the stream as ``SessionTakenOver`` (real NATS + PostgreSQL; vault: the test stub)."""

from __future__ import annotations

import uuid
from typing import Any

from fw_contracts.events import CustomerPromoted, SessionEnded, SessionStarted, SessionTakenOver
from fw_devenv.testing import eventually
from fw_session.domain.session import replay

OTHER = {"Fw-Technician": "tech-08"}


async def test_only_the_sessions_technician_acts_until_a_recorded_takeover(harness: Any) -> None:
    h = harness
    rid = await h.waiting_request("OWNR-001", company="Eigen GmbH")
    sid = await h.start_session(rid, "tech-07")
    await eventually(h.stream_events, until=lambda evs: len(evs) == 1)

    # tech-08 can neither read, nor record a statement, nor end, nor give an address
    for resp in (await h.client.get(f"/api/sessions/{sid}", headers=OTHER),
                 await h.client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Ja."}, headers=OTHER),
                 await h.client.post(f"/api/sessions/{sid}/end", headers=OTHER),
                 await h.client.post(f"/api/sessions/{sid}/billing-address", headers=OTHER,
                                     json={"street": "Weg 1", "postal_code": "10115", "city": "Berlin"})):
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "session_of_another_technician"
        assert resp.json()["message_de"] and resp.json()["message_en"]
    assert rid not in h.vault.statements
    # nor can a caller that does not say who acts
    anonymous = await h.client.post(f"/api/sessions/{sid}/end", headers={"Fw-Technician": ""})
    assert anonymous.status_code == 400 and anonymous.json()["code"] == "acting_technician_required"

    h.clock.advance(120)
    taken = await h.client.post(f"/api/sessions/{sid}/takeover", headers=OTHER)
    assert taken.status_code == 200, taken.text
    assert taken.json()["technician"] == "tech-08" and taken.json()["status"] == "running"
    # now the former technician is the outsider
    assert (await h.client.post(f"/api/sessions/{sid}/end")).status_code == 403
    assert (await h.client.get(f"/api/sessions/{sid}")).status_code == 403
    assert [i["session_id"] for i in (await h.sessions(technician="tech-08"))["items"]] == [sid]
    assert (await h.sessions(technician="tech-07"))["items"] == []

    promoted = await h.client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Ja, Stammkunde."},
                                   headers=OTHER)
    assert promoted.status_code == 201, promoted.text
    assert h.vault.statements[rid].technician == "tech-08"  # the acting technician heard it
    h.clock.advance(60)
    ended = await h.client.post(f"/api/sessions/{sid}/end", headers=OTHER)
    assert ended.status_code == 200 and ended.json()["duration_seconds"] == 180

    events = await eventually(h.stream_events, until=lambda evs: len(evs) == 4)
    started, takeover, promotion, end = events
    assert isinstance(started, SessionStarted) and started.technician == "tech-07"
    assert isinstance(takeover, SessionTakenOver)
    assert (takeover.session_id, takeover.request_id) == (uuid.UUID(sid), rid)
    assert (takeover.from_technician, takeover.to_technician, takeover.taken_over_by) == (
        "tech-07", "tech-08", "tech-08")
    assert (takeover.taken_over_at - started.started_at).total_seconds() == 120
    assert takeover.causation_id == started.event_id and takeover.correlation_id == started.correlation_id
    assert isinstance(promotion, CustomerPromoted) and promotion.technician == "tech-08"
    assert isinstance(end, SessionEnded) and end.technician == "tech-08" and end.promoted
    # the stream folds to the stored state; the row lists the session under its new technician
    state = replay(events)
    assert state is not None and state.technician == "tech-08" and state.duration_seconds == 180
    [row] = await h.db("SELECT technician FROM sessions WHERE session_id = $1", uuid.UUID(sid))
    assert row["technician"] == "tech-08"


async def test_a_lead_hands_a_session_on_and_a_second_takeover_is_refused(harness: Any) -> None:
    h = harness
    rid = await h.waiting_request("OWNR-002", company="Zwei GmbH")
    sid = await h.start_session(rid, "tech-07")
    resp = await h.client.post(f"/api/sessions/{sid}/takeover", json={"to_technician": "tech-09"},
                               headers={"Fw-Technician": "lead-01"})
    assert resp.status_code == 200 and resp.json()["technician"] == "tech-09"
    again = await h.client.post(f"/api/sessions/{sid}/takeover", json={"to_technician": "tech-09"},
                                headers={"Fw-Technician": "lead-01"})
    assert again.status_code == 409 and again.json()["code"] == "session_already_yours"
    events = await eventually(h.stream_events, until=lambda evs: len(evs) == 2)
    assert isinstance(events[1], SessionTakenOver) and events[1].taken_over_by == "lead-01"
    # an ended session is not taken over
    assert (await h.client.post(f"/api/sessions/{sid}/end", headers={"Fw-Technician": "tech-09"})).status_code == 200
    late = await h.client.post(f"/api/sessions/{sid}/takeover", headers=OTHER)
    assert late.status_code == 409 and late.json()["code"] == "session_ended"
