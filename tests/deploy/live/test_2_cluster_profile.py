"""The cluster profile (deploy/cluster/README.md): three NATS nodes, the stream with three
replicas, two instances of every service. The stream leader's container is killed while
lifecycles run through Caddy; every lifecycle completes exactly once."""

from __future__ import annotations

import collections
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import APP_SERVICES, Deployment
from engine import log, run, timed
from office import Browser, Lifecycle, Office, lifecycle, markers

from fw_devenv.testing import eventually_sync

CLUSTER_FILE = "cluster/compose.cluster.yaml"
NODES = {"nats-1": "nats", "nats-2": "nats-2", "nats-3": "nats-3"}  # server name -> service
#: The bounded load: this many people each run this many lifecycles one after the other.
WORKERS, PER_WORKER = 3, 2


@pytest.fixture(scope="module")
def cluster(images: dict[str, str], workroot: Path) -> Iterator[Office]:
    dep = Deployment(workroot / "cluster", files=[CLUSTER_FILE])
    dep.prepare()
    dep.compose("down", "-v", "--remove-orphans", check=False)
    dep.render_nats_conf(images["project"], cluster=True)
    dep.up(label="cluster first start: ")
    dep.add_staff()
    dep.wait_healthy()
    office = Office(dep, dep.caddy_root_ca(workroot / "caddy-root-cluster.crt"))
    office.sign_in()
    try:
        yield office
    finally:
        if os.environ.get("FW_DEPLOY_KEEP") != "1":
            dep.compose("down", "-v", "--remove-orphans", check=False)


def stream_info(dep: Deployment) -> dict:
    script = """
import asyncio, json, os, nats
async def main():
    nc = await nats.connect(os.environ["FW_INIT_NATS_URL"].split(","), user=os.environ["FW_INIT_NATS_USER"],
                            password=os.environ["FW_INIT_NATS_PASSWORD"])
    resp = await nc.request("$JS.API.STREAM.INFO.FERNWARTUNG", b"", timeout=10)
    print(json.dumps(json.loads(resp.data)))
    await nc.close()
asyncio.run(main())
"""
    return dict(json.loads(dep.admin_python(script).strip().splitlines()[-1]))


def test_three_nodes_stream_r3_two_instances_each(cluster: Office) -> None:
    rows = cluster.dep.containers()
    count = collections.Counter(r["Service"] for r in rows)
    assert {s: count[s] for s in APP_SERVICES} == dict.fromkeys(APP_SERVICES, 2), count
    assert {s: count[s] for s in NODES.values()} == dict.fromkeys(NODES.values(), 1)
    info = stream_info(cluster.dep)
    assert info["config"]["num_replicas"] == 3
    replicas = [r["name"] for r in info["cluster"].get("replicas", [])]
    assert sorted([info["cluster"]["leader"], *replicas]) == sorted(NODES), info["cluster"]
    assert all(r.get("current") for r in info["cluster"]["replicas"]), info["cluster"]


def test_killing_the_stream_leader_under_load_loses_and_doubles_nothing(cluster: Office) -> None:
    leader = stream_info(cluster.dep)["cluster"]["leader"]
    service = NODES[leader]
    container = cluster.dep.containers(service)[0]["Name"]
    before = int(cluster.dep.inspect(container)["RestartCount"])
    done: list[Lifecycle] = []
    errors: list[BaseException] = []
    started = threading.Event()
    lock = threading.Lock()

    def worker() -> None:
        tech, desk = Browser(cluster.ca), Browser(cluster.ca)
        try:
            tech.sign_in("tech-01", cluster.dep.passwords["tech-01"])
            desk.sign_in("buero", cluster.dep.passwords["buero"])
            for _ in range(PER_WORKER):
                lc = lifecycle(cluster.ca, tech, desk, markers())
                started.set()
                with lock:
                    done.append(lc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            started.set()
        finally:
            tech.close()
            desk.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    with timed(f"cluster: {WORKERS * PER_WORKER} lifecycles, stream leader killed"):
        for t in threads:
            t.start()
        assert started.wait(300), "no lifecycle finished before the kill"
        log(f"killing the stream leader {leader} ({container})")
        run(["kill", "-9", str(cluster.dep.inspect(container)["State"]["Pid"])])
        for t in threads:
            t.join(600)
    assert not errors, errors
    assert len(done) == WORKERS * PER_WORKER

    def leader_back() -> bool:
        info = cluster.dep.inspect(container)
        return int(info["RestartCount"]) > before and info["State"].get("Health", {}).get("Status") == "healthy"

    eventually_sync(leader_back, timeout=180, what=f"{container} restarted")
    after = stream_info(cluster.dep)
    assert after["cluster"]["leader"] in NODES
    cluster.done.extend(done)
    for lc in done:
        cluster.wait_erased(lc)
    cluster.assert_each_lifecycle_once()
    numbers = [lc.invoice for lc in done]
    assert len(set(numbers)) == len(numbers), numbers

    def replicas_current() -> bool:
        return all(r.get("current") for r in stream_info(cluster.dep)["cluster"].get("replicas", []))

    eventually_sync(replicas_current, timeout=120, what="the restarted node caught up")
