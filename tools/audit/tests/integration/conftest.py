"""The live office for the audit's integration tests: the four services as real processes on
the test's NATS and PostgreSQL, billing on the test module's ``TARIFF`` (a TOML text)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, billing_tariff_env, start_all


@pytest.fixture
def procs(fw_env: FwEnv, request: pytest.FixtureRequest) -> Iterator[dict[str, ServiceProcess]]:
    extra = billing_tariff_env(fw_env.work_dir, request.module.TARIFF)
    started: dict[str, ServiceProcess] = {}
    try:
        for svc in ("retention", "intake", "session", "billing"):
            started[svc] = ServiceProcess(svc, fw_env, extra=extra)
        start_all(list(started.values()))
        yield started
    finally:
        for p in started.values():
            p.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20) as client:
        yield client
