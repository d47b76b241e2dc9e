"""The failure policy: every decode failure parks the message alone, a handler's own OSError is
parked after ``max_attempts``, connection errors are retried, and the clock is injectable.

The decode and classification checks are pure; the rest runs on real NATS JetStream and real
PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import nats.errors
import pytest
from nats.aio.msg import Msg
from prometheus_client import REGISTRY

from fw_contracts import STREAM_NAME, Header, UndecodableEvent
from fw_contracts.events import SessionStarted
from fw_devenv.testing import eventually
from fw_platform import failures
from fw_platform.bus import connect
from fw_platform.consumer import EventConsumer
from fw_platform.db import DatabaseUnavailable
from fw_platform.failures import decode_message
from fw_platform.handling import TRANSIENT, PermanentError, TransientError, UnitOfWork
from fw_platform.pull import Puller
from fw_platform.runtime import Runtime
from fw_platform.settings import ServiceSettings

MIGRATION = "CREATE TABLE seen (session_id uuid PRIMARY KEY, now timestamptz NOT NULL);"
DURABLE = "intake--session_started"

#: 100,000 levels of objects: json.loads raises RecursionError on it.
DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def _started() -> SessionStarted:
    return SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                          started_at=datetime.now(UTC))


def _msg(data: bytes, subject: str | None = None) -> Any:
    return SimpleNamespace(data=data, subject=subject or SessionStarted.subject(), metadata=None)


# ---------------------------------------------------------------------------- pure


@pytest.mark.parametrize(("body", "reason"), [
    (DEEP, "body is nested too deeply"),
    (b"[" * 100_000 + b"]" * 100_000, "body is nested too deeply"),
    (b"\xff\xfe{}", "body is not valid JSON"),
    (b"{not json", "body is not valid JSON"),
    (b'"a string"', "body is not a JSON object"),
    (b"null", "body is not a JSON object"),
    (b"x" * (failures.MAX_MESSAGE_BYTES + 1), f"body is too large ({failures.MAX_MESSAGE_BYTES + 1} bytes"),
])
def test_every_decode_failure_is_undecodable(body: bytes, reason: str) -> None:
    with pytest.raises(UndecodableEvent) as got:
        decode_message(_msg(body))
    assert got.value.reason.startswith(reason)


@pytest.mark.parametrize(("raised", "reason"), [
    (MemoryError(), "body is too large to decode"),
    (RecursionError(), "body is nested too deeply"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "body is not valid UTF-8"),
    (KeyError("Anna Beispiel"), "body cannot be decoded: KeyError"),
])
def test_what_escapes_decode_is_undecodable_without_its_text(monkeypatch: pytest.MonkeyPatch,
                                                           raised: Exception, reason: str) -> None:
    def explode(payload: bytes, subject: str | None = None) -> None:
        raise raised

    monkeypatch.setattr(failures, "decode", explode)
    with pytest.raises(UndecodableEvent) as got:
        decode_message(_msg(b"{}"))
    assert got.value.reason == reason


def test_transient_is_connection_and_availability_only() -> None:
    for exc in (TransientError(), ConnectionRefusedError(), ConnectionResetError(), TimeoutError(),
                nats.errors.TimeoutError(), nats.errors.ConnectionClosedError(),
                nats.errors.NoRespondersError(), asyncpg.ConnectionDoesNotExistError(),
                asyncpg.InterfaceError("connection is closed"),
                asyncpg.CannotConnectNowError(), DatabaseUnavailable("OSError")):
        assert isinstance(exc, TRANSIENT), exc
    for exc in (FileNotFoundError(), PermissionError(), IsADirectoryError(), OSError(), ValueError(),
                PermanentError(), asyncpg.UniqueViolationError()):
        assert not isinstance(exc, TRANSIENT), exc


# ---------------------------------------------------------------------------- real servers


class Handler:
    """The test handler: records the time its unit of work got; fails as told."""

    def __init__(self, missing_file: Path) -> None:
        self.missing_file = missing_file
        self.fail: str | None = None
        self.calls = 0

    async def __call__(self, event: SessionStarted, uow: UnitOfWork) -> None:
        self.calls += 1
        if self.fail == "file":
            self.missing_file.read_bytes()  # the handler's own file access: FileNotFoundError
        if self.fail == "connection":
            raise ConnectionResetError("peer went away")
        await uow.conn.execute("INSERT INTO seen(session_id, now) VALUES ($1, $2)", event.session_id, uow.now)


def _runtime(fw_env: Any, tmp_path: Path, handler: Handler, **kw: Any) -> Runtime:
    mig = tmp_path / "migrations"
    mig.mkdir(exist_ok=True)
    (mig / "001_seen.sql").write_text(MIGRATION)
    settings = ServiceSettings(nats_url=fw_env.nats_url, database_url=fw_env.dsn("intake"), max_attempts=3)
    rt = Runtime("intake", settings, mig, **kw)
    rt.consume("session_started", {SessionStarted: handler})
    return rt


async def _publish_all(fw_env: Any, bodies: list[bytes]) -> None:
    nc = await connect(fw_env.nats_url, name="failures-test")
    try:
        js = nc.jetstream()
        for body in bodies:
            await js.publish(SessionStarted.subject(), body, headers={Header.MSG_ID: str(uuid.uuid4())})
    finally:
        await nc.close()


def _restarts() -> float:
    return REGISTRY.get_sample_value("fw_consumer_restarts_total", {"consumer": DURABLE}) or 0.0


async def test_a_deeply_nested_message_in_a_batch_is_parked_alone_and_the_batch_commits(
        fw_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = [_started() for _ in range(5)]
    after = [_started() for _ in range(5)]
    # all in the stream before the consumer starts; its first fetch takes them as one batch
    await _publish_all(fw_env, [e.to_json() for e in before] + [DEEP] + [e.to_json() for e in after])
    batches: list[int] = []
    process, fetch = EventConsumer.process, EventConsumer._fetch
    fetched = False

    async def fetch_all_first(self: EventConsumer, puller: Puller) -> list[Msg]:
        # The consumer's own fetch tops a batch up for 50 ms: on a busy machine that brought 4 and
        # then 7. This test is about handling a batch with the poison in it, so it asks for all 11.
        nonlocal fetched
        if not fetched:
            fetched = True
            return await puller.fetch(11, 10)
        return await fetch(self, puller)

    async def recording(self: EventConsumer, msgs: Sequence[Msg]) -> failures.Outcome:
        batches.append(len(msgs))
        return await process(self, msgs)

    monkeypatch.setattr(EventConsumer, "_fetch", fetch_all_first)
    monkeypatch.setattr(EventConsumer, "process", recording)
    restarts = _restarts()
    rt = _runtime(fw_env, tmp_path, Handler(tmp_path / "missing"))
    await rt.start()
    try:
        consumer = rt.consumers[0]

        async def settled() -> bool:
            return consumer.outcome.handled == 10 and consumer.outcome.parked == 1

        await eventually(settled)
        assert batches == [11], "the poison and the good events came in one batch"
        async with rt.pool.acquire() as conn:
            seen = {r["session_id"] for r in await conn.fetch("SELECT session_id FROM seen")}
            [parked] = await conn.fetch("SELECT stream_seq, event_id, reason, reason_code, deliveries FROM dead_letters")
        assert seen == {e.session_id for e in before + after}
        assert dict(parked) == {"stream_seq": 6, "event_id": None, "reason": "body is nested too deeply",
                                "reason_code": "undecodable", "deliveries": 1}
        info = await rt.js.consumer_info(STREAM_NAME, DURABLE)
        assert info.ack_floor is not None and info.ack_floor.stream_seq == 11
        assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)
        assert consumer.outcome.retried == 0
        assert _restarts() == restarts
        assert consumer.ready.is_set()
    finally:
        await rt.stop()


async def test_a_handlers_own_file_error_is_parked_after_max_attempts(fw_env: Any, tmp_path: Path) -> None:
    handler = Handler(tmp_path / "missing")
    handler.fail = "file"
    rt = _runtime(fw_env, tmp_path, handler)
    await rt.start()
    try:
        await _publish_all(fw_env, [_started().to_json()])
        consumer = rt.consumers[0]

        async def parked() -> bool:
            return consumer.outcome.parked == 1

        await eventually(parked)
        assert handler.calls == 3  # max_attempts, then no more
        async with rt.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT reason, reason_code, deliveries FROM dead_letters")
        assert dict(row) == {"reason": "handler failed 3 times: FileNotFoundError", "reason_code": "failing",
                             "deliveries": 3}
        info = await rt.js.consumer_info(STREAM_NAME, DURABLE)
        assert info.ack_floor.stream_seq == 1 and info.num_ack_pending == 0
    finally:
        await rt.stop()


async def test_a_connection_error_is_retried_past_max_attempts_never_parked(fw_env: Any, tmp_path: Path) -> None:
    handler = Handler(tmp_path / "missing")
    handler.fail = "connection"
    rt = _runtime(fw_env, tmp_path, handler)
    await rt.start()
    try:
        await _publish_all(fw_env, [_started().to_json()])
        consumer = rt.consumers[0]

        async def past_the_limit() -> bool:
            return handler.calls >= 4  # beyond max_attempts=3

        await eventually(past_the_limit, timeout=30)
        assert consumer.outcome.parked == 0
        handler.fail = None

        async def handled() -> bool:
            return consumer.outcome.handled == 1

        await eventually(handled, timeout=30)
        async with rt.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
    finally:
        await rt.stop()


async def test_the_clock_is_injected_into_every_unit_of_work(fw_env: Any, tmp_path: Path) -> None:
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    rt = _runtime(fw_env, tmp_path, Handler(tmp_path / "missing"), clock=lambda: at)
    await rt.start()
    try:
        event = _started()
        await _publish_all(fw_env, [event.to_json()])

        async def handled() -> bool:
            return rt.consumers[0].outcome.handled == 1

        await eventually(handled)
        async with rt.pool.acquire() as conn:
            assert await conn.fetchval("SELECT now FROM seen WHERE session_id = $1", event.session_id) == at
        async with rt.unit_of_work() as uow:
            assert uow.now == at
    finally:
        await rt.stop()
