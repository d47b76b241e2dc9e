"""A durable reads every version of its events: older ones (upcast by decode) and newer ones,
which are parked with the reason instead of being skipped by the filter."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fw_contracts import Header
from fw_contracts.events import SessionStarted
from fw_devenv.testing import eventually
from fw_platform.bus import connect
from fw_platform.handling import UnitOfWork
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings


async def _recording_runtime(fw_env, tmp_path: Path, seen: list[uuid.UUID]) -> Runtime:
    """intake's runtime with one consumer of SessionStarted that records the event ids it gets."""
    mig = tmp_path / "migrations"
    mig.mkdir()

    async def on_started(event: SessionStarted, uow: UnitOfWork) -> None:
        seen.append(event.event_id)

    rt = Runtime("intake", ServiceSettings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("intake")), mig)
    rt.consume("session_started", {SessionStarted: on_started})
    await rt.start()
    return rt


async def test_a_newer_version_is_delivered_and_parked_with_its_reason(fw_env, tmp_path: Path) -> None:
    current = SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                             started_at=datetime.now(UTC))
    future = json.loads(current.to_json())
    future.update(event_id=str(uuid.uuid4()), schema_version=SessionStarted.current_schema_version() + 1)
    base = SessionStarted.subject().rsplit(".", 1)[0]
    nc = await connect(fw_env.nats_url, name="test-publisher")
    try:
        js = nc.jetstream()
        await js.publish(f"{base}.v{SessionStarted.current_schema_version() + 1}", json.dumps(future).encode(),
                         headers={Header.MSG_ID: future["event_id"]})
        await js.publish(SessionStarted.subject(), current.to_json(), headers={Header.MSG_ID: str(current.event_id)})
    finally:
        await nc.close()

    seen: list[uuid.UUID] = []
    rt = await _recording_runtime(fw_env, tmp_path, seen)
    try:
        consumer = rt.consumers[0]
        assert consumer.subjects == [f"{base}.*"]
        await eventually(lambda: consumer.outcome.handled + consumer.outcome.parked, until=lambda n: n >= 2)
        assert (consumer.outcome.handled, consumer.outcome.parked) == (1, 1)
        assert seen == [current.event_id]
        async with rt.pool.acquire() as conn:
            reason = await conn.fetchval("SELECT reason FROM dead_letters")
        assert "newer than this build" in reason
    finally:
        await rt.stop()


async def test_a_durable_of_the_previous_release_gets_the_wider_filter_and_keeps_its_position(
        fw_env, tmp_path: Path) -> None:
    from fw_platform.bus import durable_consumer_config

    nc = await connect(fw_env.nats_url, name="test-old-release")
    try:
        js = nc.jetstream()
        # as the previous release created it: filtered on the current version only
        await js.add_consumer("FERNWARTUNG", config=durable_consumer_config(
            "intake--session_started", [SessionStarted.subject()]))
        first = SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                               started_at=datetime.now(UTC))
        await js.publish(first.subject(), first.to_json(), headers={Header.MSG_ID: str(first.event_id)})
    finally:
        await nc.close()
    seen: list[uuid.UUID] = []
    rt = await _recording_runtime(fw_env, tmp_path, seen)
    try:
        await asyncio.wait_for(rt.consumers[0].ready.wait(), 10)
        info = await rt.js.consumer_info("FERNWARTUNG", "intake--session_started")
        assert info.config.filter_subject == SessionStarted.subject().rsplit(".", 1)[0] + ".*"
        await eventually(lambda: seen)
        assert seen == [first.event_id]
    finally:
        await rt.stop()
