"""The composition root: settings + clock + adapters -> runtime, consumers and the HTTP app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from fw_contracts import utcnow
from fw_platform import http
from fw_platform.app import App, lifespan, register
from fw_platform.runtime import Runtime
from fw_session.adapters.contacts_sql import SqlContactReads
from fw_session.adapters.sql import sql_stores
from fw_session.adapters.vault import NatsVault
from fw_session.application.billing import BillingAddressService
from fw_session.application.consumers import consumers
from fw_session.application.contacts import SessionContacts
from fw_session.application.ports import StoresFactory, Vault
from fw_session.application.service import SessionService
from fw_session.entrypoints import http_contacts
from fw_session.entrypoints.http import MESSAGES, build_router, install_error_handlers
from fw_session.settings import Settings

SERVICE = "session"
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, *, clock: Callable[[], datetime] = utcnow, vault: Vault | None = None,
          stores: StoresFactory = sql_stores) -> App[SessionService]:
    """Wire session. ``clock`` is the clock for session times (tests pass a fixed one); ``vault``
    and ``stores`` replace NATS and PostgreSQL in tests."""
    runtime = register(Runtime(SERVICE, settings, MIGRATIONS), consumers(stores))
    vault = vault or NatsVault(lambda: runtime.nc, timeout=settings.vault_timeout)
    service = SessionService(uow=runtime.unit_of_work, stores=stores, vault=vault, now=clock,
                             queue_limit=settings.queue_limit, unlocked=runtime.single_statement)
    billing = BillingAddressService(uow=runtime.unit_of_work, stores=stores, vault=vault, now=clock)
    contacts = SessionContacts(uow=runtime.unit_of_work, reads=SqlContactReads, vault=vault)

    app = FastAPI(title="fernwartung session", version="1", lifespan=lifespan,
                  description="Technician API: queue, start, promotion statement, end. "
                              "Stores no screen, keystroke or file content.")
    http.install(app, runtime, custom_messages=MESSAGES)
    install_error_handlers(app)
    app.include_router(build_router(service, billing))
    app.include_router(http_contacts.router(contacts))
    return App(http=app, service=service, runtime=runtime)
