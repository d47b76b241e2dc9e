"""All four services as real processes on a private NATS + PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, billing_tariff_env, start_all
from fw_platform.bus import connect

#: A tariff that bills even a session of one second (the free threshold for aborted connections
#: is tested in billing's own tests); otherwise like the shipped one.
E2E_TARIFF = """
version = "e2e-1"
base_fee = 10.00
interval_seconds = 900
rate_per_interval = 24.00
min_billed_seconds = 900
free_threshold_seconds = 0
vat_rate = 0.19
timezone = "Europe/Berlin"
"""


def e2e_extra_env(env: FwEnv) -> dict[str, str]:
    return billing_tariff_env(env.work_dir, E2E_TARIFF)


@dataclass
class Office:
    env: FwEnv
    procs: dict[str, ServiceProcess]
    http: httpx.AsyncClient

    def url(self, service: str, path: str) -> str:
        return self.procs[service].url + path

    async def stream_messages(self) -> list[tuple[str, bytes, dict[str, str]]]:
        """Every message in the stream: (subject, raw body, headers)."""
        nc = await connect(self.env.nats_url, name="e2e-reader")
        try:
            js = nc.jetstream()
            info = await js.stream_info("FERNWARTUNG")
            out: list[tuple[str, bytes, dict[str, str]]] = []
            if info.state.messages == 0:
                return out
            sub = await js.subscribe("fw.>", ordered_consumer=True)
            while len(out) < info.state.messages:
                msg = await sub.next_msg(timeout=5)
                out.append((msg.subject, msg.data, dict(msg.headers or {})))
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    async def events(self, event_type: str | None = None) -> list[dict]:
        evs = [json.loads(body) for _, body, _ in await self.stream_messages()]
        return [e for e in evs if event_type is None or e["event_type"] == event_type]


@pytest.fixture
def office_procs(fw_env: FwEnv) -> Iterator[dict[str, ServiceProcess]]:
    procs: dict[str, ServiceProcess] = {}
    try:
        for svc in ("retention", "intake", "session", "billing"):
            procs[svc] = ServiceProcess(svc, fw_env, extra=e2e_extra_env(fw_env))
        start_all(list(procs.values()))
        yield procs
    finally:
        for p in procs.values():
            p.stop()


@pytest_asyncio.fixture
async def office(fw_env: FwEnv, office_procs: dict[str, ServiceProcess]) -> AsyncIterator[Office]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield Office(fw_env, office_procs, http)
