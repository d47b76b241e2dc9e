"""The composition root: settings -> runtime, consumers, handlers, HTTP app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from fw_contracts.events import CustomerPromoted, SessionEnded
from fw_platform.http import install
from fw_platform.runtime import Runtime

from fw_billing.adapters.repository import SqlBillingRepository
from fw_billing.adapters.tariff_files import load_catalog
from fw_billing.adapters.vault import VaultPersonalData
from fw_billing.adapters.views import BillingViews
from fw_billing.application.handlers import on_customer_promoted, on_session_ended
from fw_billing.application.ports import BillingDeps, PersonalDataSource
from fw_billing.entrypoints import http
from fw_billing.settings import Settings

SERVICE = "billing"
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Billing:
    """The wired service: what the app and tests reach into."""

    runtime: Runtime
    deps: BillingDeps
    views: BillingViews


def build(settings: Settings, *, vault: PersonalDataSource | None = None) -> Billing:
    """Wire billing; ``vault`` replaces the NATS vault client (tests)."""
    runtime = Runtime(SERVICE, settings, MIGRATIONS)
    deps = BillingDeps(
        tariffs=load_catalog(settings.tariff_version, settings.tariff_dir),
        vault=vault or VaultPersonalData(lambda: runtime.nc, timeout=settings.vault_timeout),
        repository=SqlBillingRepository,
        number_format=settings.invoice_number_format,
    )
    runtime.consume("session_ended", {SessionEnded: partial(on_session_ended, deps=deps)})
    runtime.consume("customer_promoted", {CustomerPromoted: partial(on_customer_promoted, deps=deps)})
    return Billing(runtime=runtime, deps=deps, views=BillingViews(lambda: runtime.pool))


def create_app(settings: Settings | None = None, *, vault: PersonalDataSource | None = None) -> FastAPI:
    """The HTTP app; its lifespan starts and stops the runtime (nothing connects at import)."""
    billing = build(settings or Settings(), vault=vault)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await billing.runtime.start()
        try:
            yield
        finally:
            await billing.runtime.stop()

    app = FastAPI(title="fernwartung billing", version="1.0.0", lifespan=lifespan)
    app.state.billing = billing
    install(app, billing.runtime)
    app.include_router(http.router(billing.views))
    return app
