"""The FERNWARTUNG stream's settings, and ``ensure_stream`` bringing an older stream up to them
(real nats-server, admin credentials as the init job and ``make run`` use)."""

from __future__ import annotations

import dataclasses

import nats.errors
import pytest
from nats.js.api import StreamConfig

from fw_contracts import STREAM_NAME
from fw_platform.bus import connect, ensure_stream, stream_config


def _as_released_before_allow_direct() -> StreamConfig:
    """The stream as earlier releases created it: everything as now, but no direct get and no
    atomic batches."""
    return dataclasses.replace(stream_config(), allow_direct=None, allow_atomic=None)


async def test_a_new_stream_allows_direct_get_and_stays_append_only(fw_env) -> None:
    nc = await connect(fw_env.nats_url, name="test-admin")
    try:
        info = await nc.jetstream().stream_info(STREAM_NAME)  # created by fw_env's ensure_stream
        assert info.config.allow_direct is True
        assert info.config.allow_atomic is True
        assert info.config.deny_delete and info.config.deny_purge and not info.config.allow_rollup_hdrs
    finally:
        await nc.close()


async def test_ensure_stream_adds_allow_direct_and_atomic_to_an_existing_stream_and_keeps_its_messages(fw_env) -> None:
    nc = await connect(fw_env.nats_url, name="test-admin")
    try:
        js = nc.jetstream()
        await js.delete_stream(STREAM_NAME)
        await js.add_stream(_as_released_before_allow_direct())
        for i in range(3):
            await js.publish("fw.intake.probe.v1", f'{{"n":{i}}}'.encode())
        before = await js.stream_info(STREAM_NAME)
        assert not before.config.allow_direct
        assert not before.config.allow_atomic
        # without allow_direct nobody answers on the direct-get subject
        with pytest.raises(nats.errors.NoRespondersError):
            await nc.request(f"$JS.API.DIRECT.GET.{STREAM_NAME}", b'{"seq":1}', timeout=2)

        await ensure_stream(js)  # what every start does

        after = await js.stream_info(STREAM_NAME)
        assert after.config.allow_direct is True
        assert after.config.allow_atomic is True, "updated in place, not recreated"
        assert after.config.deny_delete and after.config.deny_purge
        assert (after.state.first_seq, after.state.last_seq, after.state.messages) == (1, 3, 3)
        msg = await js.get_msg(STREAM_NAME, 2, direct=True)
        assert (msg.seq, msg.data) == (2, b'{"n":1}')
        await ensure_stream(js)  # idempotent
        assert (await js.stream_info(STREAM_NAME)).config.allow_direct is True
    finally:
        await nc.close()



async def test_ensure_stream_removes_the_durables_of_earlier_releases_and_keeps_the_others(fw_env) -> None:
    from fw_contracts.nats_permissions import DURABLES, RETIRED_DURABLES
    from fw_platform.bus import durable_consumer_config

    assert all(not set(RETIRED_DURABLES[u]) & set(DURABLES.get(u, ())) for u in RETIRED_DURABLES)
    nc = await connect(fw_env.nats_url, name="test-admin")
    try:
        js = nc.jetstream()
        retired = [f"{u}--{n}" for u, names in RETIRED_DURABLES.items() for n in names]
        kept = "billing--session_billing"
        for durable in [*retired, kept]:
            await js.add_consumer(STREAM_NAME, durable_consumer_config(durable, ["fw.session.>"]))

        await ensure_stream(js)  # an upgrade's first start

        names = {c.name for c in await js.consumers_info(STREAM_NAME)}
        assert kept in names and not set(retired) & names
        await ensure_stream(js)  # nothing left to remove: idempotent
        assert kept in {c.name for c in await js.consumers_info(STREAM_NAME)}
    finally:
        await nc.close()
