"""Billing blocked for want of an address: record it, and let the technician provide the address.

``on_billing_blocked`` runs in the consumer's transaction; ``provide_billing_address`` is the
technician's command: it writes the address to the vault (never to this service's tables or
the stream), then emits ``BillingAddressProvided`` with ids only.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from fw_contracts.address import PostalAddress
from fw_contracts.events import BillingBlocked
from fw_platform.handling import UnitOfWork
from fw_session.application.ports import Clock, StoresFactory, UowFactory, Vault
from fw_session.domain.billing import (
    BillingBlock,
    BillingClosedDataErased,
    BlockState,
    block_state,
    decide_provide_address,
    evolve_block,
)
from fw_session.domain.requests import QueueEntry
from fw_session.domain.session import Session, ensure_owner

log = logging.getLogger(__name__)


class BillingEventHandlers:
    """``on_<event>(event, uow)`` for billing's events, bound to the stores by bootstrap."""

    def __init__(self, stores: StoresFactory) -> None:
        self._stores = stores

    async def on_billing_blocked(self, event: BillingBlocked, uow: UnitOfWork) -> None:
        """Billing needs an address for the full invoice: show it on the session."""
        blocks = self._stores(uow).blocks
        before = await blocks.lock(event.session_id)
        after = evolve_block(before, event)
        if after is not None and after != before:
            await blocks.save(after)
        log.info("billing blocked", extra={"session_id": str(event.session_id),
                                           "request_id": str(event.request_id)})


@dataclass(frozen=True)
class SessionView:
    """A session with its billing block (if billing ever blocked it) and its request's entry."""

    session: Session
    block: BillingBlock | None
    request: QueueEntry | None = None

    @property
    def block_state(self) -> BlockState | None:
        return block_state(self.block, erased_at=self.request.erased_at if self.request else None,
                           erasure_reason=self.request.erasure_reason if self.request else None)


class BillingAddressService:
    """The technician's command to provide a missing billing address, and the session view."""

    def __init__(self, *, uow: UowFactory, stores: StoresFactory, vault: Vault, now: Clock) -> None:
        self._uow = uow
        self._stores = stores
        self._vault = vault
        self._now = now

    async def view(self, session_id: uuid.UUID, technician: str) -> SessionView:
        """The session's state and its billing block; raises ``UnknownSession``/``NotYourSession``."""
        async with self._uow() as uow:
            stores = self._stores(uow)
            session = ensure_owner(await stores.sessions.load(session_id), technician)
            return SessionView(session, await stores.blocks.get(session_id),
                               await stores.requests.get(session.request_id))

    async def provide(self, session_id: uuid.UUID, address: PostalAddress, technician: str) -> SessionView:
        """Store the address in the vault, then emit ``BillingAddressProvided``.

        The block row stays locked during the vault call, so two technicians entering an address
        at once are serialised. If the vault refuses or is away, nothing is emitted; a retry
        with the same address is harmless (the vault answers ok without rewriting).
        """
        async with self._uow() as uow:
            stores = self._stores(uow)
            session = ensure_owner(await stores.sessions.load(session_id), technician)
            block = await stores.blocks.lock(session_id)
            event = decide_provide_address(block, at=self._now())
            request = await stores.requests.get(session.request_id)
            if request is not None and request.erased_at is not None:
                raise BillingClosedDataErased  # too late: nothing to store, nothing to announce
            await self._vault.set_address(session.request_id, address)
            updated = evolve_block(block, event)
            assert updated is not None
            await stores.blocks.save(updated)
            uow.emit(event)
        log.info("billing recipient details provided", extra={"session_id": str(session_id),
                                                    "request_id": str(session.request_id)})
        return SessionView(session, updated, request)
