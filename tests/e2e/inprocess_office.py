"""Retention and billing in-process on the test's real NATS and PostgreSQL, each with its own NATS
user (its real permissions). Shared by the e2e tests that move retention's clock and play intake
and session by publishing their events.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx
from fastapi import FastAPI
from nats.aio.client import Client

from fw_billing.bootstrap import build as build_billing
from fw_billing.settings import Settings as BillingSettings
from fw_contracts import STREAM_NAME, Event, Header, decode
from fw_devenv.pytest_plugin import FwEnv
from fw_platform.bus import connect
from fw_retention.application.service import RetentionService
from fw_retention.bootstrap import build as build_retention
from fw_retention.settings import Settings as RetentionSettings

E = TypeVar("E", bound=Event)
C = TypeVar("C", bound=Callable[[], datetime])


@dataclass
class Clock:
    """Retention's clock, set by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def service_settings(env: FwEnv, service: str) -> dict[str, Any]:
    """``FW_<SVC>_*`` of the test environment as settings keywords (the service's NATS user)."""
    prefix = f"FW_{service.upper()}_"
    values: dict[str, Any] = {k.removeprefix(prefix).lower(): v
                              for k, v in env.settings_env(service).items() if k.startswith(prefix)}
    values["http_port"] = 0
    return values


@dataclass
class Office(Generic[C]):
    env: FwEnv
    nc: Client
    clock: C
    retention: RetentionService
    billing: httpx.AsyncClient
    billing_pool: Any

    async def publish(self, event: Event) -> None:
        await self.nc.jetstream().publish(event.subject(), event.to_json(), headers={
            Header.MSG_ID: str(event.event_id), Header.EVENT_TYPE: event.event_type})

    async def events(self, kind: type[E], request_id: uuid.UUID | None = None) -> list[E]:
        """Every event of ``kind`` in the stream (of one request, if given), oldest first."""
        js = self.nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        out: list[E] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
            msg = await js.get_msg(STREAM_NAME, seq)
            event = decode(msg.data, msg.subject)
            if isinstance(event, kind) and (request_id is None or getattr(event, "request_id", None) == request_id):
                out.append(event)
        return out

    async def sql(self, service: str, query: str, *args: Any) -> Any:
        if service == "retention":
            async with self.retention.unit_of_work() as uow:
                return await uow.conn.fetchval(query, *args)
        return await self.billing_pool.fetchval(query, *args)


@dataclass
class Running:
    """What ``running_office`` started: the test's own NATS connection, retention, billing."""

    nc: Client
    retention: RetentionService
    billing: httpx.AsyncClient
    billing_pool: Any


@contextlib.asynccontextmanager
async def running_office(env: FwEnv, clock: Callable[[], datetime], nats_name: str,
                         **billing_settings: Any) -> AsyncIterator[Running]:
    """Start retention (sweeping only when the test says) and billing (``billing_settings`` on top
    of the environment's), stop both afterwards."""
    retention = build_retention(RetentionSettings(**service_settings(env, "retention"),
                                                  sweep_interval_s=3600.0), clock=clock)
    await retention.start()
    app: FastAPI = build_billing(BillingSettings(**service_settings(env, "billing"), **billing_settings)).http
    nc = await connect(env.nats_url, name=nats_name)
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://billing"))
            yield Running(nc, retention.service, client, app.state.runtime.pool)
    finally:
        await nc.close()
        await retention.stop()


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy, and return that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
