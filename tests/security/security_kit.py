"""Helpers of the security tests: connections as the real NATS users, services as their own users."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from fw_devenv.testing import eventually
from fw_platform.bus import BusErrors
from fw_platform.runtime import Runtime

#: How long a JetStream call waits before we call it refused: a denied API request is never
#: answered (the server drops it and tells the client only through the error callback).
DENIED_TIMEOUT = 1.0


@dataclass
class NatsUser:
    """A connection as one NATS user, with the errors nats-py reported to its callback."""

    user: str
    nc: Client
    errors: BusErrors

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream(timeout=DENIED_TIMEOUT)

    async def denied(self, subject: str, action: str = "publish", timeout: float = 3.0) -> str:
        """Wait for the server's "Permissions Violation" for ``action`` on ``subject``; return it."""
        wanted = f'permissions violation for {action} to "{subject}"'.lower()

        def violation() -> str | None:
            return next((t for t in self.errors.permission_denied() if wanted in t.lower()), None)

        found = await eventually(violation, timeout=timeout,
                                 what=f"{self.user}: permission violation for {action} {subject!r}")
        assert found is not None
        return found

    async def publish_denied(self, subject: str, payload: bytes = b"{}") -> str:
        """A core publish (nats-py never raises for a refused one): flush, then the callback."""
        await self.nc.publish(subject, payload, reply=self.nc.new_inbox())
        await self.nc.flush()
        return await self.denied(subject)

    def assert_no_denials(self) -> None:
        assert self.errors.permission_denied() == [], (self.user, self.errors.errors)


ConnectAs = Callable[[str], Awaitable[NatsUser]]


def runtime_of(service: str, app: FastAPI) -> Runtime:
    """Every service's ``App`` puts its runtime on the HTTP app's state."""
    runtime: Runtime = app.state.runtime
    return runtime


def create_service_app(service: str) -> FastAPI:
    """The service's real app, built from ``FW_<SVC>_*`` in the environment (as in production)."""
    bootstrap = importlib.import_module(f"fw_{service}.bootstrap")
    settings = importlib.import_module(f"fw_{service}.settings")
    http: FastAPI = bootstrap.build(settings.Settings()).http
    return http


@dataclass
class RunningService:
    name: str
    app: FastAPI
    runtime: Runtime


StartServices = Callable[..., Awaitable[dict[str, RunningService]]]


def first_event_subject(producer: str) -> str:
    """A real event subject of ``producer`` (``fw.<producer>.<event>.v<n>``)."""
    from fw_contracts import ALL_EVENTS

    return next(cls.subject() for cls in ALL_EVENTS if cls.producer == producer)
