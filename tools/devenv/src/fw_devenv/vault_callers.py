"""The vault's three callers on one connection, for tests that play several of them at once.

Each operation goes out as the caller that really uses it (``vault.v1.put.intake``, a read for
the queue as session, for billing as billing), so a test needs no knowledge of the subjects.
Only with a connection that may publish on all of them (admin in the test environment).
"""

from __future__ import annotations

import uuid

from nats.aio.client import Client

from fw_contracts.vault import Address, ClaimOutcome, PersonalData, PromotionStatement, Purpose, VaultEntry
from fw_contracts.wire import VaultCaller
from fw_platform.vault_client import VaultClient


class VaultCallers:
    """``put``/``get``/``add_statement``/``set_address``/``claim`` as intake, session or billing."""

    def __init__(self, nc: Client, timeout: float = 3.0) -> None:
        self.intake = VaultClient(nc, VaultCaller.INTAKE, timeout)
        self.session = VaultClient(nc, VaultCaller.SESSION, timeout)
        self.billing = VaultClient(nc, VaultCaller.BILLING, timeout)

    async def put(self, request_id: uuid.UUID, data: PersonalData) -> None:
        await self.intake.put(request_id, data)

    async def get(self, request_id: uuid.UUID, purpose: Purpose) -> VaultEntry:
        """As session for the queue, as billing for billing and the customer account."""
        return await (self.session if purpose == "queue" else self.billing).get(request_id, purpose)

    async def add_statement(self, request_id: uuid.UUID, statement: PromotionStatement) -> None:
        await self.session.add_statement(request_id, statement)

    async def set_address(self, request_id: uuid.UUID, address: Address) -> None:
        await self.session.set_address(request_id, address)

    async def claim(self, request_id: uuid.UUID, outcome: ClaimOutcome) -> None:
        await (self.session if outcome == "session_started" else self.intake).claim(request_id, outcome)
