"""The session service with real NATS JetStream and PostgreSQL (vault: a test stub)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from fw_contracts.events import (
    CustomerPromoted,
    ErasureReason,
    PersonalDataErased,
    SessionEnded,
    SessionStarted,
    SupportRequestWithdrawn,
)
from fw_devenv.testing import eventually
from fw_session.domain.errors import NotYourSession
from fw_session.domain.session import SessionStatus, replay


async def queue(h: Any) -> list[dict[str, Any]]:
    resp = await h.client.get("/api/queue")
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def test_queue_start_promote_end_publishes_three_events_in_order(harness: Any) -> None:
    h = harness
    older = await h.create_request(at=h.t0, company="Alt GmbH")
    newer = await h.create_request(at=h.t0 + timedelta(seconds=20), company="Neu AG")
    h.clock.at = h.t0 + timedelta(seconds=42, microseconds=500_000)
    items = await eventually(lambda: queue(h), until=lambda q: len(q) == 2)
    assert [i["request_id"] for i in items] == [str(older.request_id), str(newer.request_id)]
    assert items[0] | {"created_at": None} == {
        "request_id": str(older.request_id), "ticket": "K7MQ-3XA", "customer_type": "business",
        "created_at": None, "waiting_seconds": 42, "company": "Alt GmbH",
        "contact_name": "Erika Mustermann", "phone": "+4930123456"}
    assert items[1]["waiting_seconds"] == 22

    resp = await h.client.post("/api/sessions", json={"request_id": str(older.request_id), "technician": "tech-07"})
    assert resp.status_code == 201, resp.text
    sid = resp.json()["session_id"]
    assert resp.json()["started_at"].startswith("2025-03-03T09:00:42")
    assert [i["request_id"] for i in await queue(h)] == [str(newer.request_id)]

    h.clock.advance(600.7)
    resp = await h.client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Ja, Stammkunde bitte."})
    assert resp.status_code == 201, resp.text
    assert h.vault.statements[older.request_id].text == "Ja, Stammkunde bitte."
    h.clock.advance(1234.1)
    resp = await h.client.post(f"/api/sessions/{sid}/end")
    assert resp.status_code == 200, resp.text

    events = await eventually(h.stream_events, until=lambda e: len(e) == 3)
    started, promoted, ended = events
    assert isinstance(started, SessionStarted) and isinstance(promoted, CustomerPromoted)
    assert isinstance(ended, SessionEnded)
    assert {str(e.session_id) for e in events} == {sid}
    assert started.started_at == h.t0.replace(microsecond=0) + timedelta(seconds=42)
    # 42.5 s -> 09:00:42; +600.7 -> 09:10:43.2; +1234.1 -> 09:31:17.3 -> 09:31:17
    assert ended.ended_at == started.started_at + timedelta(seconds=1835)
    assert ended.duration_seconds == 1835 and ended.promoted
    assert started.correlation_id == older.correlation_id == ended.correlation_id
    assert started.causation_id == older.event_id

    # The state can be rebuilt from the stream and from the service's own events alike.
    state = (await h.client.get(f"/api/sessions/{sid}")).json()
    assert state["status"] == "ended" and state["duration_seconds"] == 1835 and state["promoted"]
    from_stream = replay(events)
    assert from_stream == await h.app.state.service.get(uuid.UUID(sid), "tech-07")
    stored = await h.db("SELECT event_id FROM session_events ORDER BY version")
    assert [r["event_id"] for r in stored] == [e.event_id for e in events]


async def test_wrong_orders_answer_404_409_and_publish_nothing(harness: Any) -> None:
    h = harness
    created = await h.create_request()
    await eventually(lambda: queue(h), until=lambda q: len(q) == 1)
    unknown = uuid.uuid4()
    assert (await h.client.post(f"/api/sessions/{unknown}/end")).status_code == 404
    assert (await h.client.post(f"/api/sessions/{unknown}/promotion", json={"statement": "ja"})).status_code == 404
    assert (await h.client.post("/api/sessions", json={"request_id": str(unknown), "technician": "tech-07"})
            ).status_code == 404
    assert (await h.client.post("/api/sessions", json={"request_id": str(created.request_id),
                                                       "technician": "Tech Nick"})).status_code == 422
    body = {"request_id": str(created.request_id), "technician": "tech-07"}
    sid = (await h.client.post("/api/sessions", json=body)).json()["session_id"]
    again = await h.client.post("/api/sessions", json=body)
    assert again.status_code == 409 and again.json()["code"] == "request_already_started"
    assert (await h.client.post(f"/api/sessions/{sid}/end")).status_code == 200
    end_again = await h.client.post(f"/api/sessions/{sid}/end")
    assert end_again.status_code == 409 and end_again.json()["message_de"] and end_again.json()["message_en"]
    late = await h.client.post(f"/api/sessions/{sid}/promotion", json={"statement": "ja"})
    assert late.status_code == 409 and late.json()["code"] == "session_ended"
    assert h.vault.statements == {}

    # A refused command writes nothing; had it emitted an event, the event would sit in the outbox
    # (same transaction as the answer) until the relay's publish is acknowledged. So once the
    # outbox is empty, the stream holds every event these requests produced.
    await eventually(lambda: h.db("SELECT 1 FROM outbox"), until=lambda rows: rows == [],
                     what="the outbox relayed")
    events = await h.stream_events()
    assert [type(e) for e in events] == [SessionStarted, SessionEnded]


async def test_redelivered_creation_does_not_duplicate_the_queue_entry(harness: Any) -> None:
    h = harness
    created = await h.create_request()
    await eventually(lambda: queue(h), until=lambda q: len(q) == 1)
    await h.publish(created)  # same Nats-Msg-Id: JetStream drops it
    await h.publish(created, msg_id=str(uuid.uuid4()))  # past the duplicate window: the consumer's record
    consumer = next(c for c in h.runtime.consumers if c.durable == "session--support_request_created")
    await eventually(lambda: consumer.outcome.duplicates, until=lambda d: d == 1)
    # Without the idempotency record the state itself still absorbs a repeat.
    await h.db("DELETE FROM processed_events")
    await h.publish(created, msg_id=str(uuid.uuid4()))
    await eventually(lambda: consumer.outcome.handled, until=lambda n: n == 2)
    assert len(await queue(h)) == 1
    assert len(await h.db("SELECT 1 FROM requests")) == 1


async def test_withdrawal_before_creation_and_erasure(harness: Any) -> None:
    h = harness
    withdrawn_id, erased_id = uuid.uuid4(), uuid.uuid4()
    await h.publish(SupportRequestWithdrawn(request_id=withdrawn_id))
    await h.publish(PersonalDataErased(request_id=erased_id, reason=ErasureReason.ABANDONED, erased_at=h.t0))
    consumers = {c.durable: c for c in h.runtime.consumers}
    for name in ("session--support_request_withdrawn", "session--personal_data_erased"):
        await eventually(lambda n=name: consumers[n].outcome.handled, until=lambda n: n == 1)
    late_w = await h.create_request()
    late_e = await h.create_request()
    # Rewrite the two creations to the ids seen earlier (creation arrives last).
    for event, rid in ((late_w, withdrawn_id), (late_e, erased_id)):
        h.vault.data[rid] = h.vault.data[event.request_id]
        await h.publish(event.model_copy(update={"request_id": rid, "event_id": uuid.uuid4()}))
    waiting = await eventually(lambda: queue(h), until=lambda q: len(q) == 2)
    assert {i["request_id"] for i in waiting} == {str(late_w.request_id), str(late_e.request_id)}
    await eventually(lambda: consumers["session--support_request_created"].outcome.handled,
                     until=lambda n: n == 4)
    for rid, code in ((withdrawn_id, "request_withdrawn"), (erased_id, "request_erased")):
        resp = await h.client.post("/api/sessions", json={"request_id": str(rid), "technician": "tech-07"})
        assert resp.status_code == 409 and resp.json()["code"] == code
    # An entry the vault reports erased is left out of the queue.
    h.vault.erased.add(late_w.request_id)
    assert [i["request_id"] for i in await queue(h)] == [str(late_e.request_id)]
    assert await h.stream_events() == []
    assert not await h.db("SELECT 1 FROM dead_letters")


async def test_vault_unavailable_answers_503_and_emits_nothing(harness: Any) -> None:
    h = harness
    created = await h.create_request()
    await eventually(lambda: queue(h), until=lambda q: len(q) == 1)
    sid = (await h.client.post("/api/sessions", json={"request_id": str(created.request_id),
                                                      "technician": "tech-07"})).json()["session_id"]
    second = await h.create_request()
    await eventually(lambda: queue(h), until=lambda q: [i["request_id"] for i in q] == [str(second.request_id)])
    await h.vault.stop()
    resp = await h.client.get("/api/queue")
    assert resp.status_code == 503 and resp.json()["code"] == "vault_unavailable"
    resp = await h.client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Ja, gern."})
    assert resp.status_code == 503 and "Ja, gern" not in resp.text
    assert not (await h.client.get(f"/api/sessions/{sid}")).json()["promoted"]
    await h.vault.start()
    resp = await h.client.post(f"/api/sessions/{sid}/promotion", json={"statement": "Ja, gern."})
    assert resp.status_code == 201
    events = await eventually(h.stream_events, until=lambda e: len(e) == 2)
    assert [type(e) for e in events] == [SessionStarted, CustomerPromoted]


async def test_ending_runs_without_a_transaction_and_decides_again_after_a_takeover(
        harness: Any, monkeypatch: Any) -> None:
    """``end`` loads the session and appends with a version check (one statement each, see
    ``test_session_store_sql``) outside any transaction: no BEGIN, row lock or COMMIT. A takeover
    committed between the end's load and its append makes the append write nothing; the end is
    decided again on the new state (the former technician may no longer end it) instead of
    being lost or applied to the stale one."""
    from fw_session.adapters.sql import SqlSessionStore

    h = harness
    service = h.app.state.service
    load, append = SqlSessionStore.load, SqlSessionStore.append
    in_transaction: list[tuple[str, bool]] = []

    async def load_seen(self: Any, session_id: uuid.UUID, *, for_update: bool = False) -> Any:
        in_transaction.append(("load", self._conn.is_in_transaction() or for_update))
        return await load(self, session_id, for_update=for_update)

    async def append_seen(self: Any, before: Any, events: Any) -> Any:
        in_transaction.append(("append", self._conn.is_in_transaction()))
        return await append(self, before, events)

    created = await h.create_request()
    await eventually(lambda: queue(h), until=lambda q: len(q) == 1)
    sid = uuid.UUID(await h.start_session(created.request_id, "tech-07"))
    monkeypatch.setattr(SqlSessionStore, "load", load_seen)
    monkeypatch.setattr(SqlSessionStore, "append", append_seen)
    await service.end(sid, "tech-07")
    assert in_transaction == [("load", False), ("append", False)]
    assert (await service.get(sid, "tech-07")).status is SessionStatus.ENDED

    # A second session; a takeover lands between the end's load and its append.
    second = await h.create_request()
    await eventually(lambda: queue(h), until=lambda q: len(q) == 1)
    sid2 = uuid.UUID(await h.start_session(second.request_id, "tech-07"))
    taken: list[bool] = []

    async def load_then_taken_over(self: Any, session_id: uuid.UUID, *, for_update: bool = False) -> Any:
        loaded = await load(self, session_id, for_update=for_update)
        if not taken:
            taken.append(True)
            monkeypatch.setattr(SqlSessionStore, "load", load)
            await service.take_over(session_id, "tech-09")  # on its own connection, committed
            monkeypatch.setattr(SqlSessionStore, "load", load_then_taken_over)
        return loaded

    monkeypatch.setattr(SqlSessionStore, "load", load_then_taken_over)
    with pytest.raises(NotYourSession):
        await service.end(sid2, "tech-07")
    monkeypatch.setattr(SqlSessionStore, "load", load)
    after = await service.get(sid2, "tech-09")
    assert (after.technician, after.status, after.version) == ("tech-09", SessionStatus.RUNNING, 2)
    await service.end(sid2, "tech-09")
    assert (await service.get(sid2, "tech-09")).status is SessionStatus.ENDED
