"""The composition root of retention: settings -> runtime, erasure consumers, vault responder,
deadline sweep, HTTP app. Nothing connects before :meth:`fw_platform.app.App.start`.

Tests build the service here with their own settings and clock (and store factory).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI

from fw_contracts import utcnow
from fw_platform import http as platform_http
from fw_platform.app import App, lifespan, register
from fw_platform.runtime import Runtime
from fw_retention.adapters.avv import PgAvvRegister, load_avv
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.adapters.history import billing_block_history, erasure_history
from fw_retention.adapters.store import PgVaultStore
from fw_retention.application.consumers import consumers
from fw_retention.application.erasure import ErasureHandlers
from fw_retention.application.ports import Clock, StoreFactory
from fw_retention.application.service import RetentionService
from fw_retention.entrypoints.http import build_router
from fw_retention.entrypoints.privacy_http import build_privacy_router
from fw_retention.entrypoints.sweeper import sweep_forever
from fw_retention.entrypoints.vault_responder import VaultResponder
from fw_retention.settings import Settings

SERVICE = "retention"
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, *, clock: Clock = utcnow,
          store_for: StoreFactory = PgVaultStore) -> App[RetentionService]:
    """Wire retention; ``clock`` is used for stored_at, erased_at and the sweep (tests pass one)."""
    runtime = Runtime(SERVICE, settings, MIGRATIONS, clock=clock)
    cipher = EnvelopeCipher(settings.master_key_bytes())
    register(runtime, consumers(ErasureHandlers(store_for, cipher=cipher, delivery_hold=settings.delivery_hold)))
    responder = VaultResponder(unit_of_work=runtime.deferred_unit_of_work, store_for=store_for,
                               cipher=cipher, clock=clock, concurrency=settings.vault_concurrency)
    runtime.ready_when("vault", lambda: responder.listening)
    service = RetentionService(
        unit_of_work=runtime.unit_of_work, store_for=store_for, register_for=PgAvvRegister, clock=clock,
        erasure_history=lambda: erasure_history(runtime.js),
        billing_block_history=lambda: billing_block_history(runtime.js),
        abandon_after=settings.abandon_after, billing_hold=settings.billing_hold,
        sweep_batch=settings.sweep_batch, records_keep_years=settings.records_keep_years)

    http = FastAPI(title="fernwartung retention", version="1.0.0", lifespan=lifespan,
                   description="Personal-data vault (NATS request/reply) and automatic erasure.")
    # The AVV document is offered to every customer (GDPR Art. 28); everything else needs a token
    # (exact route: GET /api/avv-requests, the list of requests, is not public).
    platform_http.install(http, runtime, public=[("GET", "/api/avv")])
    http.include_router(build_router(unit_of_work=runtime.unit_of_work, store_for=store_for,
                                     abandon_after=settings.abandon_after, billing_hold=settings.billing_hold,
                                     erasure_history=service.erasure_history,
                                     billing_block_history=service.billing_block_history))
    http.include_router(build_privacy_router(
        unit_of_work=runtime.unit_of_work, store_for=store_for, cipher=cipher, clock=clock,
        abandon_after=settings.abandon_after, billing_hold=settings.billing_hold, avv=load_avv(),
        register_for=PgAvvRegister))

    async def start_vault() -> None:
        await responder.start(runtime.nc)

    # The erasure log is re-applied before the vault subscribes (see RetentionService.reapply_at_start).
    return App(http=http, service=service, runtime=runtime,
               on_start=[*([service.reapply_at_start] if settings.reapply_on_start else []), start_vault],
               background=[partial(sweep_forever, service, settings.sweep_interval_s)],
               on_stop=[responder.stop])
