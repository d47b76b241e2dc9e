"""What one delivery costs nats-server and the client, one event at a time (``python -m bench.ack_probe``).

A publisher publishes one event (JetStream, ``sync_interval: always`` as in every fernwartung
server), waits until the consumer has handled it, and repeats. Four ways to consume are
compared on one fresh server: a pull ``fetch(1)`` per message or one standing pull request with
a callback, each with ``ack_sync`` (a request, answered by the server) or a plain ``ack``.
Printed per event: nats-server's CPU (``/proc``) and this process's CPU (publisher and
consumer together, so only the differences between the ways count). Not part of ``make
bench``; it measured the case for plain acks (``fw_platform.consumer``, ``bench/ANALYSIS.md``).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from fw_devenv._util import free_port
from fw_devenv.nats import NatsServer
from fw_devenv.nats_auth import generate_passwords
from fw_devenv.pytest_plugin import TEST_BCRYPT_COST

EVENTS = 1500
BODY = b'{"x":1}' * 30


def _server_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="ack-probe-"))
    server = NatsServer(root / "nats", free_port(), passwords=generate_passwords(), bcrypt_cost=TEST_BCRYPT_COST)
    server.start()
    try:
        pid = int(server.pid_file.read_text().strip())
        pub = await nats.connect(server.admin_url)
        nc = await nats.connect(server.admin_url)
        pjs, js = pub.jetstream(), nc.jetstream()
        await pjs.add_stream(name="PROBE", subjects=["probe.>"])

        async def ack(msg: Msg, sync: bool) -> None:
            await (msg.ack_sync() if sync else msg.ack())

        async def fetching(name: str, handled: asyncio.Event, sync: bool) -> asyncio.Task[None]:
            psub = await js.pull_subscribe_bind(durable=name, stream="PROBE")

            async def loop() -> None:
                while True:
                    try:
                        msgs = await psub.fetch(1, timeout=5)
                    except (TimeoutError, NatsTimeoutError):
                        continue  # nothing came: ask again
                    for msg in msgs:
                        await ack(msg, sync)
                        handled.set()
            return asyncio.create_task(loop())

        async def standing(name: str, handled: asyncio.Event, sync: bool) -> asyncio.Task[None]:
            inbox, left = nc.new_inbox(), [0]

            async def pull() -> None:
                left[0] = 200
                await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.PROBE.{name}", reply=inbox,
                                 payload=json.dumps({"batch": 200, "expires": 30_000_000_000}).encode())

            async def on_msg(msg: Msg) -> None:
                if msg.headers and msg.headers.get("Status"):
                    return
                left[0] -= 1
                await ack(msg, sync)
                handled.set()
                if left[0] < 100:
                    await pull()
            await nc.subscribe(inbox, cb=on_msg)
            await pull()
            return asyncio.create_task(asyncio.sleep(3600))

        async def run(name: str, start: Callable[[str, asyncio.Event, bool], Awaitable[asyncio.Task[None]]],
                      sync: bool) -> None:
            await js.add_consumer("PROBE", config=ConsumerConfig(
                durable_name=name, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.NEW,
                filter_subject=f"probe.{name}", max_deliver=-1, ack_wait=60))
            handled = asyncio.Event()
            task = await start(name, handled, sync)
            await asyncio.sleep(0.3)
            server0, client0 = _server_cpu_s(pid), time.process_time()
            for i in range(EVENTS):
                handled.clear()
                await pjs.publish(f"probe.{name}", BODY, headers={"Nats-Msg-Id": f"{name}-{i}"})
                await asyncio.wait_for(handled.wait(), 5)
            server_us = 1e6 * (_server_cpu_s(pid) - server0) / EVENTS
            client_us = 1e6 * (time.process_time() - client0) / EVENTS
            task.cancel()
            print(f"{name:28} nats-server {server_us:5.0f} us/event   this process {client_us:5.0f} us/event")

        for round_ in (1, 2):
            await run(f"fetch1-ack_sync-{round_}", fetching, True)
            await run(f"fetch1-ack-{round_}", fetching, False)
            await run(f"standing-ack_sync-{round_}", standing, True)
            await run(f"standing-ack-{round_}", standing, False)
        await nc.close()
        await pub.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
