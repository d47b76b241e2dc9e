"""The live office for the audit's integration tests: the four services as real processes on
the test's NATS and PostgreSQL, billing on the test module's ``TARIFF`` (a TOML text)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from fw_devenv.pytest_plugin import FwEnv, ServiceProcess, start_all


@pytest.fixture
def procs(fw_env: FwEnv, request: pytest.FixtureRequest) -> Iterator[dict[str, ServiceProcess]]:
    tariff: str = request.module.TARIFF
    found = re.search(r'^version = "([^"]+)"', tariff, re.M)
    assert found, "the module's TARIFF needs a version"
    tariffs = fw_env.work_dir / "tariffs"
    tariffs.mkdir(exist_ok=True)
    (tariffs / f"{found.group(1)}.toml").write_text(tariff)
    extra = {"FW_BILLING_TARIFF_DIR": str(tariffs), "FW_BILLING_TARIFF_VERSION": found.group(1)}
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
