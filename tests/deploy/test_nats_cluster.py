"""The cluster profile on loopback: three nats-server processes with the config deploy/ renders
(cluster routes, JetStream, sync_interval always, the users and permissions), the stream with 3
replicas created as the init job does, publishing with acks while the stream leader is SIGKILLed.
No acknowledged event may be lost, none may be stored twice, and publishing must go on."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats.errors
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from deploy_kit import load_deploy_module

from fw_contracts import STREAM_NAME
from fw_contracts.nats_permissions import ADMIN, USERS
from fw_devenv._util import free_port
from fw_devenv.nats import nats_server_binary
from fw_devenv.nats_auth import generate_passwords
from fw_platform.bus import connect, ensure_stream

render_nats = load_deploy_module("render_nats_conf")

SUBJECT = "fw.deploytest.tick"  # inside the stream's subjects (fw.>); admin may publish anywhere
RUN_BEFORE_KILL_S = 2.0
#: leader election after a SIGKILL took ~4.6 s here; the rest shows publishing goes on
RUN_AFTER_KILL_S = 8.0


@dataclass
class Node:
    name: str
    port: int
    monitor: int
    route: int
    conf: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([nats_server_binary(), "-c", str(self.conf)],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/healthz?js-enabled-only=true",
                                        timeout=1) as r:
                return json.load(r).get("status") == "ok"
        except (OSError, ValueError):  # not up yet, or not JSON yet
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no flush, no goodbye to the cluster
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[list[Node], dict[str, str]]]:
    passwords = generate_passwords(USERS)
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    routes = [f"nats-route://127.0.0.1:{r}" for _, _, r in ports]
    nodes = []
    for i, (port, monitor, route) in enumerate(ports, start=1):
        spec = render_nats.ServerSpec(
            server_name=f"nats-{i}", listen=f"127.0.0.1:{port}", http=f"127.0.0.1:{monitor}",
            store_dir=str(tmp_path / f"nats-{i}" / "jetstream"),
            cluster=render_nats.ClusterSpec(name="fernwartung", listen=f"127.0.0.1:{route}", routes=routes))
        conf = tmp_path / f"nats-{i}.conf"
        # the deploy renderer, with loopback addresses instead of container names; cost 4: fast connects
        conf.write_text(render_nats.render(passwords, spec, bcrypt_cost=4))
        nodes.append(Node(f"nats-{i}", port, monitor, route, conf, tmp_path / f"nats-{i}.log"))
    for node in nodes:
        node.start()
    try:
        deadline = time.monotonic() + 15
        while not all(n.healthy() for n in nodes):
            assert time.monotonic() < deadline, "cluster not healthy: " + "".join(
                n.log.read_text()[-1500:] for n in nodes if n.log.exists())
            time.sleep(0.05)
        yield nodes, passwords
    finally:
        for node in nodes:
            node.stop()


async def _publish_until(js, acked: dict[str, int], stop_at: float, errors: list[str],  # type: ignore[no-untyped-def]
                         ack_times: list[float], enough: Callable[[], bool] = lambda: True) -> None:
    """Publish one event after the other; retry each with the SAME Nats-Msg-Id until acked. Goes
    on past ``stop_at`` (up to 30 s) until ``enough()``: on a busy machine the election after the
    kill can take longer than the planned window."""
    while time.monotonic() < stop_at or (not enough() and time.monotonic() < stop_at + 30):
        event_id = str(uuid.uuid4())
        while True:
            try:
                ack = await js.publish(SUBJECT, event_id.encode(), timeout=1.0,
                                       headers={"Nats-Msg-Id": event_id})
                acked[event_id] = ack.seq
                ack_times.append(time.monotonic())
                break
            except Exception as exc:
                errors.append(type(exc).__name__)
                await asyncio.sleep(0.05)
                if time.monotonic() > stop_at + 15:
                    raise


async def _stream_leader(js) -> str:  # type: ignore[no-untyped-def]
    info = await js.stream_info(STREAM_NAME)
    assert info.config.num_replicas == 3
    assert info.cluster and info.cluster.leader
    return info.cluster.leader


async def _atomic_batch_dedupes(js, nc, acked: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """The replicated stream takes the outbox relay's atomic batches (``allow_atomic`` set by
    ``ensure_stream``), and refuses a repeat of a stored batch whole (Nats-Msg-Id de-duplication
    inside batches); the batch's events count as acknowledged for the checks below."""
    from fw_platform.outbox import OutboxRelay

    assert (await js.stream_info(STREAM_NAME)).config.allow_atomic is True
    rows = [{"subject": SUBJECT, "payload": f"batch-{i}".encode(), "event_id": f"batch-{uuid.uuid4()}",
             "event_type": "DeployTestTick"} for i in range(20)]
    relay = OutboxRelay(None, js, service="deploytest", nc=nc)  # type: ignore[arg-type]
    await relay._publish_atomic(rows)  # type: ignore[arg-type]
    last = (await js.stream_info(STREAM_NAME)).state.last_seq
    for i, r in enumerate(rows):
        acked[r["event_id"]] = last - len(rows) + 1 + i
    with pytest.raises(Exception, match="10201"):
        await relay._publish_atomic(rows)  # type: ignore[arg-type]


@pytest.mark.long(18)
async def test_replicated_stream_loses_no_acked_event_when_a_node_is_killed(
        cluster: tuple[list[Node], dict[str, str]]) -> None:
    nodes, passwords = cluster
    urls = ",".join(n.url for n in nodes)
    nc = await connect(urls, name="deploy-cluster-test", user=ADMIN, password=passwords[ADMIN])
    try:
        js = nc.jetstream(timeout=5)
        # as the init job does: ensure_stream(js, replicas=3), retried while the meta leader is elected
        deadline = time.monotonic() + 15
        while True:
            try:
                await ensure_stream(js, replicas=3)
                break
            except Exception:  # noqa: BLE001 - the cluster is electing its meta leader: any API error
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        leader = await _stream_leader(js)

        acked: dict[str, int] = {}
        await _atomic_batch_dedupes(js, nc, acked)
        errors: list[str] = []
        ack_times: list[float] = []
        started = time.monotonic()
        before_kill = -1  # set at the kill
        publisher = asyncio.create_task(
            _publish_until(js, acked, started + RUN_BEFORE_KILL_S + RUN_AFTER_KILL_S, errors, ack_times,
                           enough=lambda: before_kill >= 0 and len(acked) - before_kill > 20))
        await asyncio.sleep(RUN_BEFORE_KILL_S)
        before_kill = len(acked)
        victim = next(n for n in nodes if n.name == leader)
        victim.kill()  # the stream leader: the hardest case (a new leader must be elected)
        await publisher
        after_kill = len(acked) - before_kill
        # the fail-over shows as the longest pause between two acks
        pause = max(b - a for a, b in itertools.pairwise(ack_times))

        assert before_kill > 10, "publishing did not get going"
        assert after_kill > 10, f"publishing did not continue after the kill ({errors[-5:]})"
        new_leader = await _stream_leader(js)
        assert new_leader != victim.name

        # read everything back with a pull consumer (admin) from a surviving node
        stored: list[str] = []
        # creating a consumer needs a Raft group of the surviving nodes: on a busy machine,
        # shortly after the kill, the first request can time out (seen once at 5 s); retried
        deadline = time.monotonic() + 30
        while True:
            try:
                sub = await js.pull_subscribe(SUBJECT, durable=None, stream=STREAM_NAME)
                break
            except nats.errors.TimeoutError:
                assert time.monotonic() < deadline, "no consumer on the surviving nodes within 30 s"
        info = await js.stream_info(STREAM_NAME)
        while len(stored) < info.state.messages:
            msgs = await sub.fetch(500, timeout=5)
            for msg in msgs:
                stored.append(msg.headers["Nats-Msg-Id"] if msg.headers else msg.data.decode())
                await msg.ack()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

        missing = set(acked) - set(stored)
        assert not missing, f"{len(missing)} acknowledged events lost"
        assert len(stored) == len(set(stored)), "an event was stored twice (retries must dedupe)"
        assert info.state.messages == len(stored)
        # every acked sequence number is where the event is (no ack for a message that vanished)
        assert sorted(acked.values()) == sorted(set(acked.values()))
        print(f"\ncluster: {before_kill} acked before, {after_kill} after killing leader {victim.name} "
              f"(new leader {new_leader}); {len(stored)} stored, 0 lost; "
              f"{len(errors)} retried publishes ({sorted(set(errors))}); longest pause between acks {pause:.1f}s")

        # the killed node comes back and catches up (the stream is replicated again); meanwhile the
        # audit reads the history with its own read-only user: batched direct gets may be answered
        # by any replica, the returning one included, and must still give every message once, in order
        victim.start()
        expected = list(range(1, info.state.last_seq + 1))
        assert await _audit_read(urls, passwords["audit"]) == expected
        deadline = time.monotonic() + 15
        while True:
            info = await js.stream_info(STREAM_NAME)
            replicas = info.cluster.replicas or [] if info.cluster else []
            if len(replicas) == 2 and all(r.current for r in replicas):
                break
            assert time.monotonic() < deadline, f"{victim.name} did not catch up: {replicas}"
            await asyncio.sleep(0.2)
        assert await _audit_read(urls, passwords["audit"]) == expected
    finally:
        await nc.close()


async def _audit_read(urls: str, password: str) -> list[int]:
    """The stream's sequences as ``fernwartung audit`` reads them with the audit user (small batches:
    many requests, answered by whichever replica)."""
    from fw_audit.source import connect as audit_connect
    from fw_audit.source import read_direct, stream_state

    nc = await audit_connect(urls, "audit", password)
    try:
        state = await stream_state(nc.jetstream(timeout=5), STREAM_NAME)
        assert state.allow_direct
        return [r.seq async for r in read_direct(nc, state, ["fw.>"], batch=100)]
    finally:
        await nc.close()
