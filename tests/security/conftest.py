"""Fixtures of the security tests (helpers: ``security_kit``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from fw_devenv.pytest_plugin import FwEnv
from fw_devenv.testing import eventually
from fw_platform.bus import BusErrors, connect

# The helper module has a name of its own, so it cannot clash with other test folders' helpers.
sys.path.insert(0, str(Path(__file__).parent))

from security_kit import (
    ConnectAs,
    NatsUser,
    RunningService,
    StartServices,
    create_service_app,
    runtime_of,
)


@pytest_asyncio.fixture
async def connect_as(fw_env: FwEnv) -> AsyncIterator[ConnectAs]:
    """``await connect_as("intake")``: a connection with that user's credentials."""
    opened: list[NatsUser] = []

    async def _connect(user: str) -> NatsUser:
        name, password = fw_env.nats_credentials(user)
        errors = BusErrors()
        nc = await connect(fw_env.nats_plain_url, name=f"sec-{user}", user=name, password=password,
                           errors=errors)
        opened.append(NatsUser(user, nc, errors))
        return opened[-1]

    yield _connect
    for u in opened:
        with contextlib.suppress(Exception):
            await u.nc.close()


@pytest_asyncio.fixture
async def admin(connect_as: ConnectAs) -> NatsUser:
    return await connect_as("admin")


@pytest_asyncio.fixture
async def start_services(fw_env: FwEnv, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StartServices]:
    """Start services in-process, each with its own NATS user and database role; wait until ready."""
    stack = contextlib.AsyncExitStack()

    async def _start(*services: str, ready_timeout: float = 20.0) -> dict[str, RunningService]:
        running: dict[str, RunningService] = {}
        for svc in services:
            for key, value in fw_env.settings_env(svc).items():
                monkeypatch.setenv(key, value)
            app = create_service_app(svc)
            # the start itself waits for PostgreSQL and NATS (retrying): bounded, so a service that
            # cannot connect fails the test instead of hanging it
            await asyncio.wait_for(stack.enter_async_context(app.router.lifespan_context(app)), ready_timeout)
            running[svc] = RunningService(svc, app, runtime_of(svc, app))
        for svc in running.values():
            await eventually(svc.runtime.readiness, until=lambda checks: all(checks.values()),
                             timeout=ready_timeout, what=f"{svc.name} ready")
        return running

    try:
        yield _start
    finally:
        await stack.aclose()
