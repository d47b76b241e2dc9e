"""The composition root: settings → runtime, consumers, terms, vault, routes, app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from fw_contracts.events import PersonalDataErased, SessionStarted
from fw_intake import SERVICE
from fw_intake.adapters.published_terms import SqlPublishedTerms
from fw_intake.adapters.repository import SqlSupportRequests
from fw_intake.adapters.terms_files import load_terms
from fw_intake.adapters.vault import NatsVault
from fw_intake.application.events import on_personal_data_erased, on_session_started
from fw_intake.application.ports import PersonalDataVault
from fw_intake.application.reference import publish_terms
from fw_intake.entrypoints import http as routes
from fw_intake.entrypoints.schemas import MESSAGES
from fw_intake.settings import Settings
from fw_platform import http
from fw_platform.ratelimit import TokenBucket as RateLimiter
from fw_platform.runtime import Runtime

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: Settings) -> Runtime:
    """The runtime with intake's durable consumers registered (not started)."""
    runtime = Runtime(SERVICE, settings, MIGRATIONS)
    runtime.consume("session_started", {SessionStarted: partial(on_session_started, requests=SqlSupportRequests)})
    runtime.consume("personal_data_erased",
                    {PersonalDataErased: partial(on_personal_data_erased, requests=SqlSupportRequests)})
    return runtime


def create_app(settings: Settings | None = None, *, vault: PersonalDataVault | None = None) -> FastAPI:
    """The intake app; its lifespan starts and stops the runtime. ``vault`` replaces NATS in tests."""
    settings = settings or Settings()
    runtime = build_runtime(settings)
    deps = routes.IntakeDeps(
        terms=load_terms(settings.terms_current),
        vault=vault or NatsVault(lambda: runtime.nc, timeout=settings.vault_timeout_s),
        unit_of_work=runtime.unit_of_work,
        requests=SqlSupportRequests,
        limiter=RateLimiter(settings.rate_limit_per_minute),
    )
    return build_app(runtime, deps)


def build_app(runtime: Runtime, deps: routes.IntakeDeps) -> FastAPI:
    """The FastAPI app around ``runtime`` and ``deps`` (unit tests pass fakes and skip the lifespan)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            # The terms' text into the stream (once per version): the auditor reads what was accepted.
            async with runtime.unit_of_work() as uow:
                await publish_terms(uow.repository(SqlPublishedTerms), uow, deps.terms)
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="fernwartung intake", version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    # The customer's own routes need no token: the form, the terms, and their request (the
    # unguessable request id is the capability to see or withdraw it).
    http.install(app, runtime, custom_messages=MESSAGES,
                 public=[("POST", "/api/support-requests"), ("GET", "/api/support-requests/{request_id}"),
                         ("POST", "/api/support-requests/{request_id}/withdraw"),
                         ("GET", "/api/terms/current"), ("GET", "/api/terms/{version}")])
    routes.install(app, deps)
    return app
