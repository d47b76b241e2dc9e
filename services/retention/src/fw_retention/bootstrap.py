"""The composition root of retention: runtime, erasure consumers, vault responder, sweep, HTTP.

The sweep also deletes protocol rows (access log, AVV requests) past their deletion date.

Tests build the service here with their own settings and clock; nothing connects before
:meth:`Retention.start` (the FastAPI lifespan calls it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from fw_contracts import utcnow
from fw_contracts.events import BillingBlocked, PersonalDataErased
from fw_platform import http as platform_http
from fw_platform.runtime import Runtime
from fw_retention.adapters.avv import PgAvvRegister, load_avv
from fw_retention.adapters.crypto import EnvelopeCipher
from fw_retention.adapters.history import billing_block_history, erasure_history
from fw_retention.adapters.store import PgVaultStore
from fw_retention.application.avv import AvvDocument, AvvRegister, prune_requests
from fw_retention.application.erasure import ErasureHandlers, sweep_abandoned, sweep_delivery_holds
from fw_retention.application.ports import Cipher, Clock, StoreFactory
from fw_retention.application.restore import ReapplyResult, reapply_erasure_log, restore_billing_holds
from fw_retention.domain.rules import records_cutoff
from fw_retention.entrypoints.http import build_router
from fw_retention.entrypoints.privacy_http import build_privacy_router
from fw_retention.entrypoints.vault_responder import VaultResponder
from fw_retention.settings import RetentionSettings

SERVICE = "retention"
MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


class RetentionRuntime(Runtime):
    """The platform runtime whose readiness also covers the vault's subscriptions."""

    responder: VaultResponder | None = None

    async def readiness(self) -> dict[str, bool]:
        checks = await super().readiness()
        checks["vault"] = bool(self.responder and self.responder.listening)
        return checks


@dataclass
class Retention:
    """The wired service. ``start``/``stop`` bracket everything that connects or runs."""

    settings: RetentionSettings
    runtime: Runtime
    responder: VaultResponder
    erasure: ErasureHandlers
    store_for: StoreFactory
    clock: Clock
    cipher: Cipher
    avv: AvvDocument
    register_for: Callable[[Any], AvvRegister] = PgAvvRegister
    _sweeper: asyncio.Task[None] | None = field(default=None, init=False)

    async def start(self) -> None:
        """Runtime (pool, migrations, NATS, relay, consumers), reapply, then the vault and the sweep.

        The erasure log is re-applied before the vault subscribes, so that after a database
        restore not even the first request can read data erased since the backup, and the
        billing holds are taken from the stream before the sweep runs. If the stream cannot be
        read, the service does not start (nothing would guard the restored rows).
        """
        await self.runtime.start()
        try:
            if self.settings.reapply_on_start:
                result = await self.reapply()
                log.info("erasure log re-applied at start", extra={"count": result.requests_purged,
                                                                   "billing_holds": result.holds_restored})
            await self.responder.start(self.runtime.nc)
        except BaseException:
            await self.runtime.stop()
            raise
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="retention-sweep")

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sweeper
            self._sweeper = None
        await self.responder.stop()
        await self.runtime.stop()

    async def sweep(self) -> int:
        """Run the deadline sweep once at the injected clock's now: abandoned requests, then
        kept delivery e-mail addresses whose hold ended."""
        erased = await sweep_abandoned(self.runtime.unit_of_work, self.store_for, now=self.clock(),
                                       abandon_after=self.settings.abandon_after,
                                       billing_hold=self.settings.billing_hold,
                                       batch=self.settings.sweep_batch)
        return erased + await sweep_delivery_holds(self.runtime.unit_of_work, self.store_for,
                                                   now=self.clock(), batch=self.settings.sweep_batch)

    async def prune_records(self) -> int:
        """Delete access-log rows and AVV requests past their deletion date; returns how many."""
        now, years = self.clock(), self.settings.records_keep_years
        async with self.runtime.unit_of_work() as uow:
            pruned = await self.store_for(uow.conn).prune_access_log(records_cutoff(now, years))
            pruned += await prune_requests(self.register_for(uow.conn), now=now, keep_years=years)
        if pruned:
            log.info("protocol rows past their deletion date deleted", extra={"count": pruned})
        return pruned

    async def reapply(self, *, from_stream: bool = True) -> ReapplyResult:
        """Restore safety (see :mod:`fw_retention.application.restore`): erasures, then holds."""
        history = [e async for e in self.erasure_history()] if from_stream else []
        result = await reapply_erasure_log(self.runtime.unit_of_work, self.store_for, history)
        if not from_stream:
            return result
        blocks = [b async for b in self.billing_block_history()]
        holds = await restore_billing_holds(self.runtime.unit_of_work, self.store_for, blocks)
        return ReapplyResult(result.markers_restored, result.requests_purged, holds)

    def erasure_history(self) -> AsyncIterator[PersonalDataErased]:
        return erasure_history(self.runtime.js)

    def billing_block_history(self) -> AsyncIterator[BillingBlocked]:
        return billing_block_history(self.runtime.js)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
                await self.prune_records()
            except Exception as exc:  # noqa: BLE001 - database away: the next round tries again
                log.warning("deadline sweep failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(self.settings.sweep_interval_s)


def bootstrap(settings: RetentionSettings | None = None, *, clock: Clock = utcnow,
              store_for: StoreFactory = PgVaultStore) -> Retention:
    """Wire the service; ``clock`` is used for stored_at, erased_at and the sweep."""
    settings = settings or RetentionSettings()  # type: ignore[call-arg]  # from the environment
    runtime = RetentionRuntime(SERVICE, settings, MIGRATIONS, clock=clock)
    cipher = EnvelopeCipher(settings.master_key_bytes())
    erasure = ErasureHandlers(store_for, cipher=cipher, delivery_hold=settings.delivery_hold)
    for name, handlers in erasure.consumers().items():
        runtime.consume(name, handlers)
    responder = VaultResponder(unit_of_work=runtime.unit_of_work, store_for=store_for,
                               cipher=cipher, clock=clock, concurrency=settings.vault_concurrency)
    runtime.responder = responder
    return Retention(settings=settings, runtime=runtime, responder=responder, erasure=erasure,
                     store_for=store_for, clock=clock, cipher=cipher, avv=load_avv())


def create_app(settings: RetentionSettings | None = None, *, clock: Clock = utcnow,
               retention: Retention | None = None) -> FastAPI:
    """The FastAPI app; its lifespan starts and stops the whole service."""
    service = retention or bootstrap(settings, clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="fernwartung retention", version="1.0.0", lifespan=lifespan,
                  description="Personal-data vault (NATS request/reply) and automatic erasure.")
    app.state.retention = service
    # The AVV document is offered to every customer (GDPR Art. 28); everything else needs a token
    # (exact route: GET /api/avv-requests, the list of requests, is not public).
    platform_http.install(app, service.runtime, public=[("GET", "/api/avv")])
    app.include_router(build_router(unit_of_work=service.runtime.unit_of_work, store_for=service.store_for,
                                    abandon_after=service.settings.abandon_after,
                                    billing_hold=service.settings.billing_hold,
                                    erasure_history=service.erasure_history,
                                    billing_block_history=service.billing_block_history))
    app.include_router(build_privacy_router(
        unit_of_work=service.runtime.unit_of_work, store_for=service.store_for, cipher=service.cipher,
        clock=service.clock, abandon_after=service.settings.abandon_after,
        billing_hold=service.settings.billing_hold, avv=service.avv,
        register_for=service.register_for))
    return app
