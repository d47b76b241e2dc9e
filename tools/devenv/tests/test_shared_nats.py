"""The worker's one nats-server (``SharedNats``): each test gets it emptied with a new stream,
and a new server when a client of the test before is still connected."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest

from fw_devenv.pytest_plugin import SharedNats
from fw_platform.bus import STREAM_NAME


async def test_each_test_gets_an_empty_server_and_a_lingering_client_a_new_one(tmp_path: Path) -> None:
    shared = SharedNats(tmp_path)
    try:
        first = await shared.fresh()
        nc = await nats.connect(first.admin_url)
        js = nc.jetstream()
        await js.add_stream(name="LEFTOVER", subjects=["leftover.>"])
        await js.publish("leftover.x", b"1")
        await js.publish("fw.intake.support_request_created.v2", b"{}")
        assert (await js.stream_info(STREAM_NAME)).state.messages == 1

        # the client above is still connected: the next test must not share a server with it
        with pytest.warns(UserWarning, match="1 NATS connection"):
            second = await shared.fresh()
        assert second.port != first.port and not first.is_running()
        await nc.close()

        nc = await nats.connect(second.admin_url)
        js = nc.jetstream()
        await js.add_stream(name="LEFTOVER", subjects=["leftover.>"])
        await js.publish("fw.intake.support_request_created.v2", b"{}")
        await nc.close()
        third = await shared.fresh()  # nobody connected: the same server, emptied
        assert third is second
        nc = await nats.connect(third.admin_url)
        try:
            js = nc.jetstream()
            assert [s.config.name for s in await js.streams_info()] == [STREAM_NAME]
            info = await js.stream_info(STREAM_NAME)
            assert info.state.messages == 0 and info.state.consumer_count == 0
        finally:
            await nc.close()
    finally:
        shared.stop()


async def test_the_stream_is_created_again_once_the_old_store_is_gone() -> None:
    """nats-server may answer 'error creating store for stream' (10049) right after deleting the
    stream of that name: the set-up waits that out; any other error fails it at once."""
    from nats.js.errors import ServerError

    from fw_devenv.pytest_plugin import _create_stream_again

    calls = []

    async def not_yet_twice(js: object) -> None:
        calls.append(js)
        if len(calls) <= 2:
            raise ServerError(code=500, err_code=10049, description="error creating store for stream")

    await _create_stream_again("js", not_yet_twice)
    assert calls == ["js", "js", "js"]

    async def refused(js: object) -> None:
        calls.append(js)
        raise ServerError(code=500, err_code=10052, description="another error")

    calls.clear()
    with pytest.raises(ServerError):
        await _create_stream_again("js", refused)
    assert len(calls) == 1
