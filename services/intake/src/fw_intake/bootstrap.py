"""The composition root: settings → runtime, consumers, terms, vault, routes, app."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI

from fw_intake import SERVICE
from fw_intake.adapters.published_terms import SqlPublishedTerms
from fw_intake.adapters.repository import SqlSupportRequests
from fw_intake.adapters.terms_files import load_terms
from fw_intake.adapters.vault import NatsVault
from fw_intake.application.consumers import consumers
from fw_intake.application.ports import PersonalDataVault
from fw_intake.application.reference import publish_terms_at_start
from fw_intake.entrypoints import http as routes
from fw_intake.entrypoints.schemas import MESSAGES
from fw_intake.settings import Settings
from fw_platform import http
from fw_platform.app import App, lifespan, register
from fw_platform.ratelimit import TokenBucket as RateLimiter
from fw_platform.runtime import Runtime

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, *, vault: PersonalDataVault | None = None,
          deps: routes.IntakeDeps | None = None) -> App[routes.IntakeDeps]:
    """Wire intake. ``vault`` replaces NATS in tests; ``deps`` replaces every port of the routes
    (unit tests with fakes, which serve the app without starting it)."""
    runtime = register(Runtime(SERVICE, settings, MIGRATIONS), consumers(SqlSupportRequests))
    deps = deps or routes.IntakeDeps(
        terms=load_terms(settings.terms_current),
        vault=vault or NatsVault(lambda: runtime.nc, timeout=settings.vault_timeout_s),
        unit_of_work=runtime.unit_of_work,
        requests=SqlSupportRequests,
        limiter=RateLimiter(settings.rate_limit_per_minute),
        single_statement=runtime.single_statement,
    )

    app = FastAPI(title="fernwartung intake", version="1.0.0", lifespan=lifespan)
    # The customer's own routes need no token: the form, the terms, and their request (the
    # unguessable request id is the capability to see or withdraw it).
    http.install(app, runtime, custom_messages=MESSAGES,
                 public=[("POST", "/api/support-requests"), ("GET", "/api/support-requests/{request_id}"),
                         ("POST", "/api/support-requests/{request_id}/withdraw"),
                         ("GET", "/api/terms/current"), ("GET", "/api/terms/{version}")])
    routes.install(app, deps)
    return App(http=app, service=deps, runtime=runtime,
               on_start=[partial(publish_terms_at_start, runtime.unit_of_work, SqlPublishedTerms, deps.terms)])
