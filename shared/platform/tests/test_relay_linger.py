"""The outbox relay under a stream of commits, on real NATS JetStream and PostgreSQL: woken
within its linger of its last round it waits, so several commits go out in one round; without
a linger every commit is a round of its own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fw_contracts.events import SessionStarted
from fw_devenv.testing import eventually
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings


async def _commits(rt: Runtime, n: int, every: float) -> None:
    for _ in range(n):
        async with rt.unit_of_work() as uow:
            uow.emit(SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                                    started_at=datetime.now(UTC)))
        await asyncio.sleep(every)


async def test_a_busy_services_commits_are_published_together(fw_env: Any, tmp_path: Path) -> None:
    for linger_ms in (0, 100):
        mig = tmp_path / str(linger_ms)
        mig.mkdir()
        user, password = fw_env.nats_credentials("session")
        rt = Runtime("session", ServiceSettings(nats_url=fw_env.nats_plain_url, nats_user=user,
                                                nats_password=password, database_url=fw_env.dsn("session"),
                                                relay_linger_ms=linger_ms), mig)
        await rt.start()
        try:
            relay = rt.relay
            assert relay is not None
            # the relay's start-up round (a probe for rows left from before) first: had it taken
            # the first commit, the commit's own wake-up would have come within the linger
            await asyncio.sleep(0.3)
            await _commits(rt, 1, 0)  # the first commit after a quiet spell goes out at once
            await eventually(lambda r=relay: r.published == 1)
            assert relay.lingered == 0
            await asyncio.sleep(0.3)
            await _commits(rt, 40, 0.01)
            await eventually(lambda r=relay: r.published == 41)
            if linger_ms:
                assert relay.lingered > 0 and relay.rounds <= 1 + 20, relay.rounds
            else:
                assert relay.lingered == 0 and relay.rounds >= 30, relay.rounds
        finally:
            await rt.stop()


async def test_a_relay_with_a_backlog_never_waits(fw_env: Any, tmp_path: Path) -> None:
    # rows left from a quiet time (the relay stopped): full rounds follow each other at once
    from fw_platform.outbox import OutboxRelay

    user, password = fw_env.nats_credentials("session")
    rt = Runtime("session", ServiceSettings(nats_url=fw_env.nats_plain_url, nats_user=user, nats_password=password,
                                            database_url=fw_env.dsn("session")), tmp_path)
    await rt.start()
    try:
        assert rt.relay is not None
        rt.relay.stop()
        await asyncio.sleep(0.3)
        await _commits(rt, 40, 0)
        relay = OutboxRelay(rt.pool, rt.js, service="session", batch_size=5, linger=0.5)
        task = asyncio.create_task(relay.run())
        try:
            await eventually(lambda: relay.published == 40)  # its first round finds the rows
            assert relay.rounds >= 8 and relay.lingered == 0
        finally:
            relay.stop()
            await task
    finally:
        await rt.stop()
