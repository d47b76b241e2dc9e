"""The composition root: settings -> runtime with the one durable consumer, report routes, app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from fw_platform import http
from fw_platform.runtime import Runtime
from fw_reporting import SERVICE
from fw_reporting.adapters.sql import SqlFactStore, SqlReportSource
from fw_reporting.application.ports import FactStoreFactory
from fw_reporting.application.projections import handlers
from fw_reporting.entrypoints import http as routes
from fw_reporting.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
#: The one durable consumer ``reporting--events`` over every event reporting uses: one consumer
#: reads them in stream order, and its name is the one NATS permits this service.
CONSUMER = "events"


def build_runtime(settings: Settings, store: FactStoreFactory = SqlFactStore) -> Runtime:
    """The runtime with reporting's consumer registered (not started)."""
    runtime = Runtime(SERVICE, settings, MIGRATIONS)
    runtime.consume(CONSUMER, handlers(store))
    return runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    """The reporting app; its lifespan starts and stops the runtime (nothing connects before)."""
    settings = settings or Settings()
    runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="fernwartung reporting", version="1.0.0", lifespan=lifespan,
                  description="Figures from the event stream: revenue, sessions, minutes, promotions, "
                              "erasure delays, parked messages. JSON and CSV.")
    app.state.runtime = runtime
    http.install(app, runtime)
    routes.install(app, SqlReportSource(lambda: runtime.pool), settings.report_timezone)
    return app
