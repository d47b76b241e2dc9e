"""The vault port on top of the platform's NATS request/reply client."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from nats.aio.client import Client

from fw_contracts.vault import PersonalData
from fw_contracts.wire import VaultCaller
from fw_platform.vault_client import VaultClient


class NatsVault:
    """Looks the connection up per call: the runtime connects only when the app starts."""

    def __init__(self, connection: Callable[[], Client], timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout

    async def put(self, request_id: uuid.UUID, data: PersonalData) -> None:
        """Store the data in the vault; raises ``VaultUnavailable`` / ``VaultRefused``."""
        await VaultClient(self._connection(), VaultCaller.INTAKE, timeout=self._timeout).put(request_id, data)

    async def claim_withdrawal(self, request_id: uuid.UUID) -> None:
        """Claim the request's outcome ``withdrawn``; raises ``VaultRefused`` if a session won."""
        await VaultClient(self._connection(), VaultCaller.INTAKE, timeout=self._timeout).claim(request_id, "withdrawn")
