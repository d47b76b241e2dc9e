"""``fw_platform.app.App``: start and stop order, a failed start, background loops, the lifespan;
and ``fw_platform.keys.decode_key``."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from fastapi import FastAPI

from fw_platform.app import App, lifespan
from fw_platform.keys import decode_key


def recorder(log: list[str], name: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
    async def step() -> None:
        log.append(name)
        if fail:
            raise RuntimeError(name)
    return step


async def test_start_runs_steps_in_order_then_loops_and_stop_reverses() -> None:
    log: list[str] = []
    looping = asyncio.Event()

    async def loop() -> None:
        looping.set()
        await asyncio.Event().wait()  # until cancelled

    app = App(http=FastAPI(), service=None, on_start=[recorder(log, "a"), recorder(log, "b")],
              background=[loop], on_stop=[recorder(log, "stop a"), recorder(log, "stop b")])
    await app.start()
    await asyncio.wait_for(looping.wait(), 5)
    assert log == ["a", "b"]
    await app.stop()
    assert log == ["a", "b", "stop b", "stop a"]
    await app.stop()  # twice is harmless
    assert log == ["a", "b", "stop b", "stop a", "stop b", "stop a"]


async def test_a_failing_start_step_stops_the_app_and_raises() -> None:
    log: list[str] = []
    started: list[str] = []

    async def loop() -> None:
        started.append("loop")

    app = App(http=FastAPI(), service=None, on_start=[recorder(log, "a"), recorder(log, "b", fail=True),
                                                      recorder(log, "c")],
              background=[loop], on_stop=[recorder(log, "stop")])
    with pytest.raises(RuntimeError, match="b"):
        await app.start()
    assert log == ["a", "b", "stop"] and started == []


class RecordingRuntime:
    """The three lifecycle calls App makes on a :class:`fw_platform.runtime.Runtime`."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def open(self) -> None:
        self.log.append("open")

    def start_consumers(self) -> None:
        self.log.append("consumers")

    async def stop(self) -> None:
        self.log.append("runtime stop")


async def test_consumers_start_only_after_every_start_step() -> None:
    """A start step (re-applying erasures to a restored database, publishing reference data)
    runs before any event is handled: nothing is invoiced against a restored account first, and
    no handler's transaction races the step's."""
    log: list[str] = []
    app = App(http=FastAPI(), service=None, runtime=RecordingRuntime(log),  # type: ignore[arg-type]
              on_start=[recorder(log, "a"), recorder(log, "b")])
    await app.start()
    assert log == ["open", "a", "b", "consumers"]
    await app.stop()
    assert log[-1] == "runtime stop"


async def test_a_failing_start_step_starts_no_consumer() -> None:
    log: list[str] = []
    app = App(http=FastAPI(), service=None, runtime=RecordingRuntime(log),  # type: ignore[arg-type]
              on_start=[recorder(log, "a", fail=True)])
    with pytest.raises(RuntimeError, match="a"):
        await app.start()
    assert log == ["open", "a", "runtime stop"]


async def test_stop_ends_a_loop_that_swallows_one_cancellation() -> None:
    """Python 3.11's wait_for may swallow a cancellation (a worker woken at that moment)."""
    rounds: list[int] = []
    running = asyncio.Event()

    async def stubborn() -> None:
        running.set()
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if rounds:
                    raise
                rounds.append(1)  # swallowed once, as wait_for can

    app = App(http=FastAPI(), service=None, background=[stubborn])
    await app.start()
    await asyncio.wait_for(running.wait(), 5)
    await asyncio.wait_for(app.stop(), 10)
    assert rounds == [1]


async def test_the_lifespan_starts_and_stops_the_app_around_the_http_app() -> None:
    log: list[str] = []
    http = FastAPI(lifespan=lifespan)

    @http.get("/ping")
    async def ping() -> dict[str, object]:
        return {"service": http.state.service, "log": list(log)}

    app = App(http=http, service="svc", on_start=[recorder(log, "start")], on_stop=[recorder(log, "stop")])
    assert http.state.app is app and http.state.service == "svc" and http.state.runtime is None
    async with http.router.lifespan_context(http), \
            httpx.AsyncClient(transport=httpx.ASGITransport(http), base_url="http://t") as client:
        assert (await client.get("/ping")).json() == {"service": "svc", "log": ["start"]}
    assert log == ["start", "stop"]


def test_decode_key_accepts_32_base64_bytes() -> None:
    raw = bytes(range(32))
    assert decode_key(" " + base64.b64encode(raw).decode() + "\n", name="master_key") == raw


@pytest.mark.parametrize(("text", "why"), [("not base64!", "must be base64"),
                                            (base64.b64encode(b"short").decode(), "must be 32 bytes")])
def test_decode_key_names_the_setting_and_never_echoes_the_value(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"^archive_key {why}") as refused:
        decode_key(text, name="archive_key")
    assert text.strip() not in str(refused.value)
