"""Batched handlers on real NATS JetStream and PostgreSQL: one call per run of events, the same
guarantees as single handlers (each event once, outbox, failing message isolated and parked)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from fw_contracts import Header
from fw_contracts.events import SessionEnded, SessionStarted
from fw_devenv.testing import eventually
from fw_platform.bus import connect
from fw_platform.handling import UnitOfWork, batched
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings

MIGRATION = "CREATE TABLE seen (session_id uuid PRIMARY KEY, n integer NOT NULL DEFAULT 1);\n"


def _started() -> SessionStarted:
    return SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                          started_at=datetime.now(UTC))


async def _backlog(fw_env, events: list[SessionStarted], copies: int = 1) -> None:
    """Publish before the consumer exists, so it finds a backlog and handles it in chunks."""
    nc = await connect(fw_env.nats_url, name="test-publisher")
    try:
        js = nc.jetstream()
        for e in events:
            for i in range(copies):
                # a copy under another message id: only the consumer's idempotency record drops it
                await js.publish(e.subject(), e.to_json(), headers={Header.MSG_ID: f"{e.event_id}-{i}"})
    finally:
        await nc.close()


async def _runtime(fw_env, tmp_path: Path, groups: list[int], poison: set[uuid.UUID]) -> Runtime:
    mig = tmp_path / "migrations"
    mig.mkdir(exist_ok=True)
    (mig / "001_seen.sql").write_text(MIGRATION)
    settings = ServiceSettings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("intake"), max_attempts=2)
    rt = Runtime("intake", settings, mig)

    @batched
    async def on_started(events: list[SessionStarted], uow: UnitOfWork) -> None:
        groups.append(len(events))
        if poison & {e.session_id for e in events}:
            raise ValueError("handler cannot take this one")
        await uow.conn.execute(
            "INSERT INTO seen(session_id) SELECT unnest($1::uuid[])"
            " ON CONFLICT (session_id) DO UPDATE SET n = seen.n + 1", [e.session_id for e in events])
        for e in events:
            uow.emit(SessionEnded(session_id=e.session_id, request_id=e.request_id, technician=e.technician,
                                  started_at=e.started_at, ended_at=e.started_at, duration_seconds=0,
                                  **e.caused()))

    rt.consume("session_started", {SessionStarted: on_started})
    await rt.start()
    return rt


async def test_a_backlog_reaches_the_handler_in_runs_each_event_once(fw_env, tmp_path) -> None:
    events = [_started() for _ in range(300)]
    await _backlog(fw_env, events, copies=2)
    groups: list[int] = []
    rt = await _runtime(fw_env, tmp_path, groups, set())
    try:
        consumer = rt.consumers[0]

        async def drained() -> bool:
            return consumer.outcome.handled + consumer.outcome.duplicates == 600

        await eventually(drained)
        assert consumer.outcome.handled == 300 and consumer.outcome.duplicates == 300
        assert sum(groups) == 300, "a duplicate must never reach the handler"
        assert max(groups) > 1, "a backlog must be handed over in runs"
        async with rt.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM seen WHERE n = 1") == 300

        async def published() -> bool:
            assert rt.relay is not None
            return rt.relay.published >= 300

        await eventually(published)
        info = await rt.js.stream_info("FERNWARTUNG")
        # 600 inputs (300 copies) + exactly one output per distinct input
        assert info.state.messages == 900
    finally:
        await rt.stop()


async def test_a_failing_event_in_a_run_is_isolated_and_parked_the_rest_commit(fw_env, tmp_path) -> None:
    events = [_started() for _ in range(50)]
    bad = events[17]
    await _backlog(fw_env, events)
    groups: list[int] = []
    rt = await _runtime(fw_env, tmp_path, groups, {bad.session_id})
    try:
        consumer = rt.consumers[0]

        async def settled() -> bool:
            return consumer.outcome.handled == 49 and consumer.outcome.parked == 1

        await eventually(settled)
        async with rt.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM seen") == 49
            assert await conn.fetchval("SELECT count(*) FROM seen WHERE session_id = $1", bad.session_id) == 0
            reason = await conn.fetchval("SELECT reason FROM dead_letters WHERE event_id = $1", bad.event_id)
        assert reason is not None and "ValueError" in reason
        assert 1 in groups, "the run with the failing event is split into single events"
    finally:
        await rt.stop()


async def _trickle_runtime(fw_env, tmp_path: Path, groups: list[int], linger_ms: int) -> Runtime:
    mig = tmp_path / "migrations"
    mig.mkdir(parents=True, exist_ok=True)
    (mig / "001_seen.sql").write_text(MIGRATION)
    settings = ServiceSettings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("intake"),
                               consumer_linger_ms=linger_ms)
    rt = Runtime("intake", settings, mig)

    @batched
    async def on_started(events: list[SessionStarted], uow: UnitOfWork) -> None:
        groups.append(len(events))
        await uow.conn.execute("INSERT INTO seen(session_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING",
                               [e.session_id for e in events])

    rt.consume("session_started", {SessionStarted: on_started})
    await rt.start()
    return rt


async def _trickle(fw_env, n: int, every: float) -> None:
    """Publish ``n`` events ``every`` seconds apart while the consumer runs (no backlog)."""
    import asyncio

    nc = await connect(fw_env.nats_url, name="test-publisher")
    try:
        js = nc.jetstream()
        for _ in range(n):
            e = _started()
            await js.publish(e.subject(), e.to_json(), headers={Header.MSG_ID: str(e.event_id)})
            await asyncio.sleep(every)
    finally:
        await nc.close()


async def test_under_steady_traffic_the_consumer_lingers_and_takes_events_in_runs(fw_env, tmp_path) -> None:
    # events every 10 ms, each handled within a few ms: without waiting, the consumer takes them
    # one at a time (a transaction and a pull request each); lingering 150 ms it takes runs
    for linger_ms in (0, 150):
        groups: list[int] = []
        rt = await _trickle_runtime(fw_env, tmp_path / str(linger_ms), groups, linger_ms)
        try:
            consumer = rt.consumers[0]
            await consumer.ready.wait()
            # a lone event after a quiet spell is handled at once: nothing to wait for
            await _trickle(fw_env, 1, 0)
            await eventually(lambda c=consumer: c.outcome.handled == 1)
            assert consumer.lingered == 0
            await _trickle(fw_env, 60, 0.01)
            await eventually(lambda c=consumer: c.outcome.handled == 61)
            assert sum(groups) == 61
            if linger_ms:
                assert consumer.lingered > 0 and max(groups) >= 5, groups
                assert len(groups) <= 25, groups
            else:
                assert consumer.lingered == 0
        finally:
            await rt.stop()
