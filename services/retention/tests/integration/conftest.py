"""Fixtures for tests against real NATS and PostgreSQL (``fw_env`` from fw_devenv)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats
import pytest_asyncio
from nats.aio.client import Client

from fw_devenv.provision import database_dsn
from fw_platform.app import App
from fw_retention.application.service import RetentionService

from retention_testkit import Clock, running


@pytest_asyncio.fixture
async def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def retention_app(fw_env: Any, clock: Clock) -> AsyncIterator[App[RetentionService]]:
    """The retention service, started (runtime, consumers, vault, sweep)."""
    async with running(fw_env, clock) as app:
        yield app


@pytest_asyncio.fixture
async def service(retention_app: App[RetentionService]) -> RetentionService:
    """The started service's use cases (sweep, prune, reapply)."""
    return retention_app.service


@pytest_asyncio.fixture
async def nc(fw_env: Any) -> AsyncIterator[Client]:
    """A separate client connection (plays intake, session, billing)."""
    client = await nats.connect(fw_env.nats_url, name="test-client")
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture
async def admin(fw_env: Any) -> AsyncIterator[asyncpg.Connection]:
    """Superuser connection to the test database (to look at the raw bytes, simulate restores)."""
    conn = await asyncpg.connect(database_dsn(fw_env.admin_dsn, fw_env.database))
    try:
        yield conn
    finally:
        await conn.close()
