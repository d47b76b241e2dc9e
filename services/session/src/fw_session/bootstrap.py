"""The composition root: settings + clock + adapters -> runtime, consumers and the HTTP app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from fw_contracts import utcnow
from fw_contracts.events import BillingBlocked, PersonalDataErased, SupportRequestCreated, SupportRequestWithdrawn
from fw_platform import http
from fw_platform.runtime import Runtime
from fw_session.adapters.contacts_sql import SqlContactReads
from fw_session.adapters.sql import sql_stores
from fw_session.adapters.vault import NatsVault
from fw_session.application.billing import BillingAddressService, BillingEventHandlers
from fw_session.application.contacts import SessionContacts
from fw_session.application.ports import StoresFactory, Vault
from fw_session.application.queue_events import QueueEventHandlers
from fw_session.application.service import SessionService
from fw_session.entrypoints import http_contacts
from fw_session.entrypoints.http import MESSAGES, build_router, install_error_handlers
from fw_session.settings import Settings

SERVICE = "session"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, *, now: Callable[[], datetime] = utcnow,
               vault: Vault | None = None, stores: StoresFactory = sql_stores) -> FastAPI:
    """Build the service. ``now`` is the clock for session times (tests pass a fixed one).

    The runtime is at ``app.state.runtime`` and the use cases at ``app.state.service``.
    """
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings, MIGRATIONS)
    vault = vault or NatsVault(lambda: runtime.nc, timeout=settings.vault_timeout)

    queue = QueueEventHandlers(stores)
    runtime.consume("support_request_created", {SupportRequestCreated: queue.on_support_request_created})
    runtime.consume("support_request_withdrawn", {SupportRequestWithdrawn: queue.on_support_request_withdrawn})
    runtime.consume("personal_data_erased", {PersonalDataErased: queue.on_personal_data_erased})
    billing_events = BillingEventHandlers(stores)
    runtime.consume("billing_blocked", {BillingBlocked: billing_events.on_billing_blocked})

    service = SessionService(uow=runtime.unit_of_work, stores=stores, vault=vault, now=now,
                             queue_limit=settings.queue_limit)
    billing = BillingAddressService(uow=runtime.unit_of_work, stores=stores, vault=vault, now=now)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="fernwartung session", version="1", lifespan=lifespan,
                  description="Technician API: queue, start, promotion statement, end. "
                              "Stores no screen, keystroke or file content.")
    http.install(app, runtime, custom_messages=MESSAGES)
    install_error_handlers(app)
    app.include_router(build_router(service, billing))
    app.include_router(http_contacts.router(SessionContacts(uow=runtime.unit_of_work, reads=SqlContactReads,
                                                            vault=vault)))
    app.state.runtime = runtime
    app.state.service = service
    return app
