"""The composition root: settings -> runtime with the one durable consumer, report routes, app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from fw_platform import http
from fw_platform.app import App, lifespan, register
from fw_platform.runtime import Runtime
from fw_reporting import SERVICE
from fw_reporting.adapters.sql import SqlFactStore, SqlReportSource
from fw_reporting.application.consumers import consumers
from fw_reporting.application.ports import FactStoreFactory
from fw_reporting.entrypoints import http as routes
from fw_reporting.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, *, store: FactStoreFactory = SqlFactStore) -> App[None]:
    """Wire reporting (nothing connects before start). Its routes are queries over the facts,
    so there is no application object: ``service`` is None."""
    runtime = register(Runtime(SERVICE, settings, MIGRATIONS), consumers(store))
    app = FastAPI(title="fernwartung reporting", version="1.0.0", lifespan=lifespan,
                  description="Figures from the event stream: revenue, sessions, minutes, promotions, "
                              "erasure delays, parked messages. JSON and CSV.")
    http.install(app, runtime)
    routes.install(app, SqlReportSource(lambda: runtime.pool), settings.report_timezone)
    return App(http=app, service=None, runtime=runtime)
