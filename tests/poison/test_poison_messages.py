"""Poison and odd messages against real service processes on real NATS/PostgreSQL.

Each kind of bad message is parked with its reason in the service's ``dead_letters`` table (or
handled, when it is merely early or repeated), the metric ``fw_events_parked_total`` counts it,
and a good event published after the poison is still handled.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from fw_contracts import Header, utcnow
from fw_contracts.events import (
    SessionEnded,
    SessionStarted,
    SupportRequestCreated,
    SupportRequestWithdrawn,
    TermsAcceptance,
)
from fw_devenv.provision import database_dsn
from fw_devenv.pytest_plugin import FwEnv, ServiceProcess
from fw_devenv.testing import eventually
from fw_platform.bus import connect


async def publish(env: FwEnv, subject: str, body: bytes) -> None:
    """As admin, with a fresh Msg-Id each time (JetStream's de-duplication is not what is tested)."""
    nc = await connect(env.nats_url, name="poison-publisher")
    try:
        await nc.jetstream().publish(subject, body, headers={Header.MSG_ID: str(uuid.uuid4())})
    finally:
        await nc.close()


async def admin_fetch(env: FwEnv, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_dsn(env.admin_dsn, env.database))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def stream_types(env: FwEnv) -> list[str]:
    nc = await connect(env.nats_url, name="poison-reader")
    try:
        js = nc.jetstream()
        n = (await js.stream_info("FERNWARTUNG")).state.messages
        sub = await js.subscribe("fw.>", ordered_consumer=True)
        out = []
        while len(out) < n:
            msg = await sub.next_msg(timeout=5)
            try:
                data = json.loads(msg.data)
            except ValueError:
                data = None
            out.append(data.get("event_type", "?") if isinstance(data, dict) else "<poison>")
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def parked_metric(text: str, consumer: str, kind: str) -> float:
    pattern = rf'^fw_events_parked_total\{{consumer="{re.escape(consumer)}",kind="{kind}"\}} (\S+)$'
    m = re.search(pattern, text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def session_ended(**overrides: Any) -> SessionEnded:
    end = utcnow()
    return SessionEnded(**{"session_id": uuid.uuid4(), "request_id": uuid.uuid4(), "technician": "tech-01",
                           "started_at": end - timedelta(minutes=10), "ended_at": end, "duration_seconds": 600,
                           **overrides})


@pytest.fixture
def billing(fw_env: FwEnv) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("billing", fw_env).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def session_proc(fw_env: FwEnv) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("session", fw_env).start()
    try:
        yield proc
    finally:
        proc.stop()


def _valid_dict() -> dict[str, Any]:
    return json.loads(session_ended().to_json())


POISON: dict[str, tuple[bytes, str]] = {
    "malformed_json": (b'{"event_type": "SessionEnded", "schema_version": 1, ', "body is not valid JSON"),
    "not_an_object": (b'[1, 2, 3]', "body is not a JSON object"),
    "unknown_type": (json.dumps({**_valid_dict(), "event_type": "SessionTeleported"}).encode(), "unknown event type"),
    "future_version": (json.dumps({**_valid_dict(), "schema_version": 99}).encode(), "schema version 99"),
    "missing_fields": (json.dumps({k: v for k, v in _valid_dict().items() if k not in ("duration_seconds", "ended_at")}).encode(),
                       "invalid fields"),
    "wrong_subject": (json.dumps({**_valid_dict(), "event_type": "SessionStarted"}).encode(), "subject does not match"),
}


async def test_each_poison_kind_is_parked_with_a_reason_and_billing_keeps_going(fw_env: FwEnv, billing) -> None:
    subject = SessionEnded.subject()
    for body, _ in POISON.values():
        await publish(fw_env, subject, body)
    good = session_ended()  # out of order too: billing never heard of this session or request
    await publish(fw_env, subject, good.to_json())

    async def all_parked() -> list[asyncpg.Record]:
        rows = await admin_fetch(fw_env, "SELECT stream_seq, reason, event_id FROM billing.dead_letters ORDER BY stream_seq")
        return rows if len(rows) >= len(POISON) else []

    rows = await eventually(all_parked)
    assert len(rows) == len(POISON)
    for (kind, (_, reason)), row in zip(POISON.items(), rows, strict=True):
        assert reason in row["reason"], (kind, row["reason"])
        assert row["reason"].strip()
    # the good event after the poison is handled: an outcome for its session is in the stream
    async def decided() -> bool:
        types = await stream_types(fw_env)
        return any(t in types for t in ("InvoiceIssued", "SessionNotBilled", "BillingBlocked"))

    await eventually(decided)
    [handled] = await admin_fetch(fw_env, "SELECT count(*) AS n FROM billing.processed_events WHERE event_id = $1",
                                  good.event_id)
    assert handled["n"] == 1

    async with httpx.AsyncClient(timeout=5) as http:
        metrics = (await http.get(billing.url + "/metrics")).text
    assert parked_metric(metrics, "billing--session_billing", "undecodable") == len(POISON)


async def test_a_duplicate_is_handled_once(fw_env: FwEnv, billing) -> None:
    ended = session_ended()
    for _ in range(3):  # each with its own Msg-Id: only billing's idempotency can stop a repeat
        await publish(fw_env, SessionEnded.subject(), ended.to_json())

    async def seen_all() -> bool:
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(billing.url + "/metrics")).text
        m = re.search(r'^fw_events_duplicate_total\{consumer="billing--session_billing"\} (\S+)$', text, re.MULTILINE)
        return bool(m and float(m.group(1)) >= 2)

    await eventually(seen_all)
    types = await stream_types(fw_env)
    outcomes = [t for t in types if t in ("InvoiceIssued", "SessionNotBilled", "BillingBlocked")]
    assert len(outcomes) == 1, types
    assert await admin_fetch(fw_env, "SELECT 1 FROM billing.dead_letters") == []


async def test_withdrawal_before_creation_keeps_the_request_out_of_the_queue(fw_env: FwEnv, session_proc) -> None:
    request_id = uuid.uuid4()
    created = SupportRequestCreated(request_id=request_id, ticket="AB12-XYZ",
                                    terms=TermsAcceptance(terms_version="2026-01", terms_sha256="0" * 64,
                                                          accepted_at=utcnow()))
    withdrawn = SupportRequestWithdrawn(request_id=request_id)
    await publish(fw_env, SupportRequestWithdrawn.subject(), withdrawn.to_json())
    await publish(fw_env, SupportRequestCreated.subject(), created.to_json())

    async def both_handled() -> bool:
        rows = await admin_fetch(fw_env, "SELECT count(*) AS n FROM session.processed_events WHERE event_id = ANY($1::uuid[])",
                                 [created.event_id, withdrawn.event_id])
        return rows[0]["n"] == 2

    await eventually(both_handled)
    [row] = await admin_fetch(fw_env, "SELECT status FROM session.requests WHERE request_id = $1", request_id)
    assert row["status"] == "withdrawn"
    assert await admin_fetch(fw_env, "SELECT 1 FROM session.dead_letters") == []
    async with httpx.AsyncClient(timeout=5) as http:
        r = await http.post(session_proc.url + "/api/sessions", json={"request_id": str(request_id), "technician": "tech-01"})
    assert r.status_code == 409 and r.json()["code"] == "request_withdrawn"


#: 100,000 levels of nested objects: json.loads raises RecursionError on it (issue 14, finding 4).
DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
STAFF_TOKEN = "staff-token-for-the-parked-list"


async def publish_all(env: FwEnv, subject: str, bodies: list[bytes]) -> list[int]:
    """Publish in order; returns the stream sequences."""
    nc = await connect(env.nats_url, name="poison-publisher")
    try:
        js = nc.jetstream()
        return [(await js.publish(subject, body, headers={Header.MSG_ID: str(uuid.uuid4())})).seq
                for body in bodies]
    finally:
        await nc.close()


async def consumer_state(env: FwEnv, durable: str) -> Any:
    nc = await connect(env.nats_url, name="poison-reader")
    try:
        return await nc.jetstream().consumer_info("FERNWARTUNG", durable)
    finally:
        await nc.close()


def metric(text: str, name: str, labels: dict[str, str]) -> float | None:
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # the exposition sorts them
    m = re.search(rf"^{name}\{{{re.escape(body)}\}} (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else None


async def test_a_deeply_nested_message_among_good_ones_is_parked_alone_and_listed_for_staff(fw_env: FwEnv) -> None:
    from fw_platform.auth import token_hash

    subject = SessionEnded.subject()
    good = [session_ended() for _ in range(6)]
    # in the stream before billing starts, so that its first fetch takes all of them as one batch
    seqs = await publish_all(fw_env, subject, [g.to_json() for g in good[:3]] + [DEEP]
                             + [g.to_json() for g in good[3:]])
    proc = ServiceProcess("billing", fw_env, extra={"FW_BILLING_API_KEYS": f"staff:{token_hash(STAFF_TOKEN)}"})
    proc.start()
    durable = "billing--session_billing"
    try:
        async def all_handled() -> list[asyncpg.Record]:
            rows = await admin_fetch(fw_env, "SELECT event_id FROM billing.processed_events WHERE consumer = $1",
                                     durable)
            return rows if len(rows) == len(good) else []

        handled = await eventually(all_handled)
        assert {r["event_id"] for r in handled} == {g.event_id for g in good}
        [row] = await admin_fetch(fw_env, "SELECT consumer, stream_seq, event_id, reason, reason_code, deliveries"
                                          " FROM billing.dead_letters")
        assert dict(row) == {"consumer": durable, "stream_seq": seqs[3], "event_id": None,
                             "reason": "body is nested too deeply", "reason_code": "undecodable", "deliveries": 1}

        async def acked() -> Any:
            info = await consumer_state(fw_env, durable)
            return info if info.ack_floor.stream_seq == seqs[-1] and info.num_ack_pending == 0 else None

        info = await eventually(acked)
        assert (info.num_pending, info.num_redelivered) == (0, 0)

        async with httpx.AsyncClient(base_url=proc.url, timeout=5) as http:
            text = (await http.get("/metrics")).text
            assert metric(text, "fw_parked_messages", {"service": "billing", "consumer": durable,
                                                       "reason": "undecodable"}) == 1.0
            assert metric(text, "fw_consumer_restarts_total", {"consumer": durable}) == 0.0
            assert "consumer loop error" not in proc.log_path.read_text()

            assert (await http.get("/api/parked-messages")).status_code == 401
            listed = await http.get("/api/parked-messages", headers={"Authorization": f"Bearer {STAFF_TOKEN}"})
            assert listed.status_code == 200
            body = listed.json()
            assert body["service"] == "billing" and body["unresolved"] == 1
            [item] = body["items"]
            assert set(item) == {"id", "consumer", "stream_seq", "subject", "event_id", "reason_code",
                                 "deliveries", "parked_at", "resolved_at"}  # never the payload
            assert (item["consumer"], item["stream_seq"], item["subject"], item["reason_code"]) == (
                durable, seqs[3], subject, "undecodable")

            # staff resolve it: the alert gauge falls, the list no longer shows it by default
            await admin_fetch(fw_env, "UPDATE billing.dead_letters SET resolved_at = now() RETURNING 1")
            text = (await http.get("/metrics")).text
            assert metric(text, "fw_parked_messages", {"service": "billing", "consumer": durable,
                                                       "reason": "undecodable"}) == 0.0
            auth = {"Authorization": f"Bearer {STAFF_TOKEN}"}
            assert (await http.get("/api/parked-messages", headers=auth)).json()["items"] == []
            everything = (await http.get("/api/parked-messages?include_resolved=true", headers=auth)).json()
            assert [i["stream_seq"] for i in everything["items"]] == [seqs[3]]
    finally:
        proc.stop()


@pytest.mark.parametrize(("service", "event", "durable"), [
    ("intake", SessionStarted, "intake--session_started"),
    ("session", SupportRequestWithdrawn, "session--support_request_withdrawn"),
    ("retention", SupportRequestWithdrawn, "retention--support_request_withdrawn"),
    ("reporting", SessionStarted, "reporting--events"),
])
async def test_every_service_parks_a_deeply_nested_message_and_moves_on(
        fw_env: FwEnv, service: str, event: type[Any], durable: str) -> None:
    (seq,) = await publish_all(fw_env, event.subject(), [DEEP])
    proc = ServiceProcess(service, fw_env).start()
    try:
        async def parked() -> list[asyncpg.Record]:
            return await admin_fetch(fw_env, f"SELECT stream_seq, reason, reason_code FROM {service}.dead_letters"
                                             " WHERE consumer = $1", durable)

        [row] = await eventually(parked)
        assert dict(row) == {"stream_seq": seq, "reason": "body is nested too deeply", "reason_code": "undecodable"}

        async def acked() -> Any:
            info = await consumer_state(fw_env, durable)
            return info if info.ack_floor.stream_seq == seq and info.num_ack_pending == 0 else None

        await eventually(acked)
        async with httpx.AsyncClient(base_url=proc.url, timeout=5) as http:
            text = (await http.get("/metrics")).text
        assert metric(text, "fw_consumer_restarts_total", {"consumer": durable}) == 0.0
        assert metric(text, "fw_parked_messages", {"service": service, "consumer": durable,
                                                   "reason": "undecodable"}) == 1.0
    finally:
        proc.stop()
