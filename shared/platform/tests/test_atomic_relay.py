"""The outbox relay's atomic batches on a real nats-server and PostgreSQL: one batch per long
chunk, and the failure semantics of single publishes kept (a failed or unconfirmed batch is
published again whole; nothing lost, nothing doubled), also across a server kill."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fw_contracts import STREAM_NAME, Header
from fw_contracts.events import SessionStarted
from fw_platform.bus import connect
from fw_platform.outbox import BATCH_COMMIT, BATCH_ID, BATCH_SEQUENCE, OutboxRelay
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings

N = 40


def _events(n: int) -> list[SessionStarted]:
    now = datetime.now(UTC)
    return [SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                           started_at=now) for _ in range(n)]


async def _runtime_without_relay(fw_env: Any, tmp_path: Path) -> Runtime:
    """session's runtime with session's own NATS user (its permissions, as deployed: it may
    publish only its own events, ``fw.session.>``)."""
    mig = tmp_path / "migrations"
    mig.mkdir(exist_ok=True)
    user, password = fw_env.nats_credentials("session")
    rt = Runtime("session", ServiceSettings(nats_url=fw_env.nats_plain_url, nats_user=user, nats_password=password,
                                            database_url=fw_env.dsn("session")), mig)
    await rt.start()
    assert rt.relay is not None
    rt.relay.stop()  # the test drives its own relay
    await asyncio.sleep(0.3)
    return rt


async def _fill(rt: Runtime, events: list[SessionStarted]) -> None:
    async with rt.unit_of_work() as uow:
        uow.emit(*events)


async def _outbox_count(rt: Runtime) -> int:
    async with rt.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM outbox"))


async def _stored(fw_env: Any) -> list[tuple[str, dict[str, str]]]:
    """Every message in the stream, in order: (Nats-Msg-Id, headers); read as admin."""
    nc = await connect(fw_env.nats_url, name="test-admin-read")
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
            msg = await js.get_msg(STREAM_NAME, seq, direct=True)
            headers = dict(msg.headers or {})
            out.append((headers[Header.MSG_ID], headers))
        return out
    finally:
        await nc.close()


def _relay(rt: Runtime) -> OutboxRelay:
    return OutboxRelay(rt.pool, rt.js, service="session", nc=rt.nc)


async def _wait(pred: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_a_long_chunk_is_one_atomic_batch_and_a_short_one_single_publishes(fw_env, tmp_path) -> None:
    rt = await _runtime_without_relay(fw_env, tmp_path)
    try:
        long_chunk, short_chunk = _events(N), _events(3)
        relay = _relay(rt)
        await _fill(rt, long_chunk)
        assert await relay.publish_pending() == N
        await _fill(rt, short_chunk)
        assert await relay.publish_pending() == 3
        assert (relay.atomic_batches, relay.atomic_fallbacks) == (1, 0)
        assert await _outbox_count(rt) == 0

        stored = await _stored(fw_env)
        assert [m for m, _ in stored] == [str(e.event_id) for e in long_chunk + short_chunk], "order kept"
        batch = [h for _, h in stored[:N]]
        assert len({h[BATCH_ID] for h in batch}) == 1
        assert [int(h[BATCH_SEQUENCE]) for h in batch] == list(range(1, N + 1))
        assert batch[-1][BATCH_COMMIT] == "1"
        assert all(h[Header.EVENT_TYPE] == "SessionStarted" for _, h in stored)
        assert not any(BATCH_ID in h for _, h in stored[N:]), "short chunks are single publishes"
    finally:
        await rt.stop()


async def test_a_batch_whose_ack_was_lost_is_not_stored_twice(fw_env, tmp_path, monkeypatch) -> None:
    """The server stored the batch, the relay never heard: the rows stay, the next attempt's
    batch is refused as a duplicate (10201) and the chunk goes out one by one, each dropped."""
    rt = await _runtime_without_relay(fw_env, tmp_path)
    try:
        events = _events(N)
        await _fill(rt, events)
        relay = _relay(rt)
        real_request = rt.nc.request

        async def ack_lost(*args: Any, **kwargs: Any) -> Any:
            await real_request(*args, **kwargs)
            raise TimeoutError("the ack was lost")

        monkeypatch.setattr(rt.nc, "request", ack_lost)
        try:
            await relay.publish_pending()
            raise AssertionError("an unconfirmed batch must fail the attempt")
        except TimeoutError:
            pass
        monkeypatch.undo()
        assert await _outbox_count(rt) == N, "rolled back: the rows wait"
        assert len(await _stored(fw_env)) == N, "the server did store the batch"

        assert await relay.publish_pending() == N
        assert relay.atomic_fallbacks == 1
        assert await _outbox_count(rt) == 0
        assert [m for m, _ in await _stored(fw_env)] == [str(e.event_id) for e in events], "nothing doubled"
    finally:
        await rt.stop()


async def test_a_batch_without_its_commit_is_published_again_whole(fw_env, tmp_path, monkeypatch) -> None:
    """The connection fails before the commit: nothing of the batch is stored, the rows stay,
    the next attempt stores all of them once."""
    rt = await _runtime_without_relay(fw_env, tmp_path)
    try:
        events = _events(N)
        await _fill(rt, events)
        relay = _relay(rt)

        async def lost_before_commit(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("connection lost before the commit")

        monkeypatch.setattr(rt.nc, "request", lost_before_commit)
        try:
            await relay.publish_pending()
            raise AssertionError("a batch without commit must fail the attempt")
        except ConnectionError:
            pass
        monkeypatch.undo()
        await rt.nc.flush()  # the staged messages have reached the server
        assert await _outbox_count(rt) == N
        assert await _stored(fw_env) == [], "an uncommitted batch stores nothing"

        assert await relay.publish_pending() == N
        assert (relay.atomic_batches, relay.atomic_fallbacks) == (1, 0)
        assert [m for m, _ in await _stored(fw_env)] == [str(e.event_id) for e in events]
    finally:
        await rt.stop()


async def test_server_killed_around_a_batch_loses_and_doubles_nothing(fw_env, tmp_path, monkeypatch) -> None:
    """SIGKILL of nats-server right after the commit went out (stored or not, the relay cannot
    know), then a restart on the same store: the running relay retries until all are stored
    exactly once."""
    rt = await _runtime_without_relay(fw_env, tmp_path)
    try:
        events = _events(N)
        await _fill(rt, events)
        relay = _relay(rt)
        real_request = rt.nc.request
        server = fw_env.nats
        killed = asyncio.Event()

        async def kill_after_commit(subject: str, payload: bytes = b"", **kwargs: Any) -> Any:
            if not killed.is_set():
                await rt.nc.publish(subject, payload, headers=kwargs.get("headers"))
                await rt.nc.flush()
                proc = server._proc
                proc.kill()
                await asyncio.to_thread(proc.wait)
                server._proc = None
                killed.set()
                await asyncio.to_thread(server.start)
                raise ConnectionError("server killed")
            return await real_request(subject, payload, **kwargs)

        monkeypatch.setattr(rt.nc, "request", kill_after_commit)
        task = asyncio.create_task(relay.run())
        try:
            async def drained() -> bool:
                return killed.is_set() and await _outbox_count(rt) == 0

            await _wait(drained, timeout=60)
        finally:
            relay.stop()
            await task
        assert [m for m, _ in await _stored(fw_env)] == [str(e.event_id) for e in events]
    finally:
        await rt.stop()


async def test_a_stream_without_allow_atomic_gets_single_publishes(fw_env, tmp_path) -> None:
    """An older stream (before ``ensure_stream`` ran): the server refuses the batch (10174), the
    chunk goes out one by one, and the relay stops trying batches for a while."""
    import dataclasses

    from fw_platform.bus import stream_config

    rt = await _runtime_without_relay(fw_env, tmp_path)
    admin = await connect(fw_env.nats_url, name="test-admin")
    try:
        await admin.jetstream().update_stream(dataclasses.replace(stream_config(), allow_atomic=False))
        events = _events(N)
        await _fill(rt, events)
        relay = _relay(rt)
        assert await relay.publish_pending() == N
        assert relay.atomic_fallbacks == 1
        await _fill(rt, more := _events(N))
        assert await relay.publish_pending() == N
        assert relay.atomic_fallbacks == 1, "no new batch attempt right after the refusal"
        assert relay._atomic_off_until > 0
        assert [m for m, _ in await _stored(fw_env)] == [str(e.event_id) for e in events + more]
    finally:
        await admin.close()
        await rt.stop()



class _LoggedPool:
    """``rt.pool`` whose connections report every query they send to ``seen``."""

    def __init__(self, pool: Any, seen: list[str]) -> None:
        self._pool, self._seen = pool, seen

    def acquire(self) -> Any:
        outer = self

        class _Acquired:
            async def __aenter__(self) -> Any:
                self._cm = outer._pool.acquire()
                self.conn = await self._cm.__aenter__()
                self.conn.add_query_logger(self._log)
                return self.conn

            def _log(self, record: Any) -> None:
                outer._seen.append(record.query)

            async def __aexit__(self, *exc: object) -> None:
                self.conn.remove_query_logger(self._log)
                await self._cm.__aexit__(*exc)

        return _Acquired()


async def test_the_relays_delete_commits_without_waiting_for_its_wal_flush(fw_env, tmp_path) -> None:
    """The delete of published rows goes with ``synchronous_commit = off`` in its ``COMMIT``
    (no WAL flush of its own); if PostgreSQL loses it in a crash, the rows come back and are
    published again without a second copy in the stream."""
    rt = await _runtime_without_relay(fw_env, tmp_path)
    try:
        events = _events(3)
        await _fill(rt, events)
        seen: list[str] = []
        relay = OutboxRelay(_LoggedPool(rt.pool, seen), rt.js, service="session", nc=rt.nc)
        assert await relay.publish_pending() == 3
        assert seen[-1] == "SET LOCAL synchronous_commit = off;COMMIT", seen
        assert await _outbox_count(rt) == 0
        # the delete lost: the same rows again (as the crash would leave them)
        async with rt.unit_of_work() as uow:
            uow.emit(*events)
        assert await relay.publish_pending(probe=True) == 3
        assert await _outbox_count(rt) == 0
        assert [m for m, _ in await _stored(fw_env)] == [str(e.event_id) for e in events]
    finally:
        await rt.stop()
