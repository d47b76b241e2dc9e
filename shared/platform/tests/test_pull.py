"""Pull requests answered into a callback subscription (``fw_platform.pull``) on a real NATS
JetStream: long poll, ``no_wait``, the end of a request, a late message, a deleted consumer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from nats.js.api import StreamConfig

from fw_platform.bus import connect, durable_consumer_config
from fw_platform.pull import ConsumerGone, Puller

STREAM = "PULLTEST"


async def _setup(fw_env: Any, name: str, n: int) -> tuple[Any, Puller]:
    nc = await connect(fw_env.nats_url, name="pull-test")
    js = nc.jetstream()
    stream = f"{STREAM}{name}"
    await js.add_stream(StreamConfig(name=stream, subjects=[f"pull.{name}.>"]))
    for i in range(n):
        await js.publish(f"pull.{name}.x", str(i).encode())
    await js.add_consumer(stream, config=durable_consumer_config("d", [f"pull.{name}.>"]))
    puller = Puller(nc, stream, "d")
    await puller.start()
    return nc, puller


async def test_a_batch_then_what_waits_then_nothing(fw_env: Any) -> None:
    nc, puller = await _setup(fw_env, "a", 7)
    try:
        first = await puller.fetch(3, 5)
        assert [m.data for m in first] == [b"0", b"1", b"2"]
        assert first[-1].metadata.num_pending == 4
        # what waits (4 of the 10 asked for), then the request's expiry (408) ends it
        started = time.monotonic()
        rest = await puller.fetch(10, 0.3)
        assert [m.data for m in rest] == [b"3", b"4", b"5", b"6"]
        assert 0.2 < time.monotonic() - started < 1.0  # the server's 408, not the grace
        for m in first + rest:
            await m.ack()
        # as many as wait: at once, without waiting for the expiry
        await puller._nc.jetstream().publish("pull.a.x", b"7")
        started = time.monotonic()
        (last,) = await puller.fetch(1, 5)
        assert last.data == b"7" and time.monotonic() - started < 1
        await last.ack()
        assert await puller.fetch(1, 0.3) == []
    finally:
        await puller.stop()
        await nc.close()


async def test_a_long_poll_returns_the_message_published_meanwhile(fw_env: Any) -> None:
    nc, puller = await _setup(fw_env, "b", 0)
    try:
        waiting = asyncio.ensure_future(puller.fetch(1, 5))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        started = time.monotonic()
        await nc.jetstream().publish("pull.b.x", b"late")
        (msg,) = await asyncio.wait_for(waiting, 5)
        assert msg.data == b"late" and time.monotonic() - started < 1
        await msg.ack()
    finally:
        await puller.stop()
        await nc.close()


async def test_a_message_arriving_after_its_request_is_handed_out_next(fw_env: Any) -> None:
    """A reply that comes when no request waits (given up, e.g. across a reconnect) is kept for
    the next request instead of waiting for the ack wait's redelivery."""
    nc, puller = await _setup(fw_env, "c", 2)
    try:
        await nc.publish(puller._inbox, b"stray")  # a delivery no request waits for
        await nc.flush()
        await asyncio.sleep(0.1)
        got = await puller.fetch(3, 5)
        assert [m.data for m in got] == [b"stray", b"0", b"1"]
    finally:
        await puller.stop()
        await nc.close()


async def test_a_deleted_consumer_is_an_error_not_an_empty_poll(fw_env: Any) -> None:
    nc, puller = await _setup(fw_env, "d", 0)
    try:
        waiting = asyncio.ensure_future(puller.fetch(1, 10))
        await asyncio.sleep(0.2)
        await nc.jetstream().delete_consumer(f"{STREAM}d", "d")
        with pytest.raises(ConsumerGone):
            await asyncio.wait_for(waiting, 5)
    finally:
        await puller.stop()
        await nc.close()
