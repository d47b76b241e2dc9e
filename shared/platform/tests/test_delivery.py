"""Delivery guarantees of the platform on real NATS JetStream and real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nats.errors

from fw_contracts import STREAM_NAME, Header, utcnow
from fw_contracts.events import SessionEnded, SessionStarted
from fw_devenv.testing import eventually
from fw_platform.handling import TransientError, UnitOfWork
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings

MIGRATION = """
CREATE TABLE seen (session_id uuid PRIMARY KEY, n integer NOT NULL DEFAULT 1);
"""


def _started(session_id: uuid.UUID | None = None) -> SessionStarted:
    return SessionStarted(session_id=session_id or uuid.uuid4(), request_id=uuid.uuid4(),
                          technician="tech-01", started_at=datetime.now(UTC))


class Behaviour:
    """What the test handler does; tests flip these switches."""

    def __init__(self) -> None:
        self.fail_with: type[Exception] | None = None
        self.calls = 0


async def _runtime(fw_env, tmp_path: Path, behaviour: Behaviour, **overrides) -> Runtime:
    mig = tmp_path / "migrations"
    mig.mkdir(exist_ok=True)
    (mig / "001_seen.sql").write_text(MIGRATION)
    settings = ServiceSettings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("intake"),
                               max_attempts=3, **overrides)
    rt = Runtime("intake", settings, mig)

    async def on_session_started(event: SessionStarted, uow: UnitOfWork) -> None:
        behaviour.calls += 1
        if behaviour.fail_with:
            raise behaviour.fail_with("boom")
        await uow.conn.execute(
            "INSERT INTO seen(session_id) VALUES ($1) ON CONFLICT (session_id) DO UPDATE SET n = seen.n + 1",
            event.session_id)
        uow.emit(SessionEnded(session_id=event.session_id, request_id=event.request_id,
                              technician=event.technician, started_at=event.started_at,
                              ended_at=event.started_at, duration_seconds=0, **event.caused()))

    rt.consume("session_started", {SessionStarted: on_session_started})
    await rt.start()
    return rt


async def _publish(js, subject: str, data: bytes, msg_id: str) -> None:
    await js.publish(subject, data, headers={Header.MSG_ID: msg_id})


async def _stream_events(js, subject: str) -> list[dict]:
    out = []
    sub = await js.subscribe(subject, ordered_consumer=True)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                break
            out.append({"data": json.loads(msg.data), "msg_id": msg.headers.get(Header.MSG_ID)})
    finally:
        await sub.unsubscribe()
    return out


async def test_handled_once_and_published_through_outbox(fw_env, tmp_path) -> None:
    behaviour = Behaviour()
    rt = await _runtime(fw_env, tmp_path, behaviour)
    try:
        e = _started()
        js = rt.js
        await _publish(js, e.subject(), e.to_json(), str(e.event_id))
        # The same event again under another message id: JetStream cannot drop it, the
        # consumer's idempotency record must.
        await _publish(js, e.subject(), e.to_json(), "different-msg-id")

        async def done() -> bool:
            return rt.consumers[0].outcome.handled + rt.consumers[0].outcome.duplicates == 2

        await eventually(done)
        async with rt.pool.acquire() as conn:
            assert await conn.fetchval("SELECT n FROM seen WHERE session_id=$1", e.session_id) == 1

        async def published() -> bool:
            return len(await _stream_events(js, SessionEnded.subject())) == 1

        await eventually(published)
        [ended] = await _stream_events(js, SessionEnded.subject())
        assert ended["data"]["causation_id"] == str(e.event_id)
        assert ended["msg_id"] == ended["data"]["event_id"], "relay must set Nats-Msg-Id = event_id"
        async with rt.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await rt.stop()


async def test_poison_messages_are_parked_with_a_reason(fw_env, tmp_path) -> None:
    behaviour = Behaviour()
    rt = await _runtime(fw_env, tmp_path, behaviour)
    try:
        js = rt.js
        subject = SessionStarted.subject()
        future = json.loads(_started().to_json()) | {"schema_version": 7}
        missing = {k: v for k, v in json.loads(_started().to_json()).items() if k != "session_id"}
        await _publish(js, subject, b"{not json", "p1")
        await _publish(js, subject, json.dumps(future).encode(), "p2")
        await _publish(js, subject, json.dumps(missing).encode(), "p3")
        good = _started()
        await _publish(js, subject, good.to_json(), str(good.event_id))

        async def settled() -> bool:
            return rt.consumers[0].outcome.parked == 3 and rt.consumers[0].outcome.handled == 1

        await eventually(settled)
        async with rt.pool.acquire() as conn:
            rows = await conn.fetch("SELECT stream_seq, reason FROM dead_letters ORDER BY stream_seq")
        assert [r["stream_seq"] for r in rows] == [1, 2, 3]
        assert "not valid JSON" in rows[0]["reason"]
        assert "newer than this build" in rows[1]["reason"]
        assert "session_id:missing" in rows[2]["reason"]
    finally:
        await rt.stop()


async def test_failing_handler_is_retried_then_parked_not_looped(fw_env, tmp_path) -> None:
    behaviour = Behaviour()
    behaviour.fail_with = RuntimeError
    rt = await _runtime(fw_env, tmp_path, behaviour)
    try:
        e = _started()
        await _publish(rt.js, e.subject(), e.to_json(), str(e.event_id))

        async def parked() -> bool:
            return rt.consumers[0].outcome.parked == 1

        await eventually(parked, timeout=20)
        assert behaviour.calls == 3  # max_attempts
        # Parked means acknowledged on the server: nothing of it is pending or awaiting an ack.
        durable = rt.consumers[0].durable
        info = await eventually(lambda: rt.js.consumer_info(STREAM_NAME, durable),
                                until=lambda i: i.num_ack_pending == 0 and i.ack_floor.stream_seq == 1)
        assert info.num_pending == 0
        # A later message is handled, so the consumer went past the parked one: had that been
        # delivered again, it would have been handled (and failed) first.
        behaviour.fail_with = None
        marker = _started()
        await _publish(rt.js, marker.subject(), marker.to_json(), str(marker.event_id))
        await eventually(lambda: rt.consumers[0].outcome.handled, until=lambda n: n == 1)
        assert behaviour.calls == 3 + 1, "a parked message must not be delivered again"
        async with rt.pool.acquire() as conn:
            reason = await conn.fetchval("SELECT reason FROM dead_letters")
            assert await conn.fetch("SELECT session_id FROM seen") == [(marker.session_id,)]  # not e
        assert "RuntimeError" in reason
    finally:
        await rt.stop()


async def test_transient_failure_is_retried_until_it_succeeds_never_parked(fw_env, tmp_path) -> None:
    behaviour = Behaviour()
    behaviour.fail_with = TransientError
    rt = await _runtime(fw_env, tmp_path, behaviour)
    try:
        e = _started()
        await _publish(rt.js, e.subject(), e.to_json(), str(e.event_id))

        async def tried_past_the_limit() -> bool:
            return behaviour.calls >= 4  # beyond max_attempts=3

        await eventually(tried_past_the_limit, timeout=30)
        assert rt.consumers[0].outcome.parked == 0
        behaviour.fail_with = None

        async def handled() -> bool:
            return rt.consumers[0].outcome.handled == 1

        await eventually(handled, timeout=30)
    finally:
        await rt.stop()


async def test_crash_between_commit_and_publish_loses_nothing_and_doubles_nothing(fw_env, tmp_path) -> None:
    behaviour = Behaviour()
    rt = await _runtime(fw_env, tmp_path, behaviour)
    e = _started()
    # Simulate the crash: the transaction commits its outbox row, the relay never runs.
    relay = next(t for t in asyncio.all_tasks() if t.get_name() == "intake-relay")
    rt.relay.stop()  # type: ignore[union-attr]
    await asyncio.wait_for(relay, timeout=10)  # the relay has returned: it publishes nothing more
    async with rt.unit_of_work() as uow:
        uow.emit(e)
    async with rt.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    # Publish it once "before the crash" as if the ack had been lost, then restart.
    await _publish(rt.js, e.subject(), e.to_json(), str(e.event_id))
    await rt.stop()
    rt2 = Runtime("intake", rt.settings, tmp_path / "migrations")
    await rt2.start()
    try:
        async def drained() -> bool:
            async with rt2.pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM outbox") == 0

        await eventually(drained)
        copies = await _stream_events(rt2.js, e.subject())
        assert len(copies) == 1, "JetStream must de-duplicate the re-publish by Nats-Msg-Id"
    finally:
        await rt2.stop()


async def test_naive_and_aware_clock() -> None:
    assert utcnow().tzinfo is not None
