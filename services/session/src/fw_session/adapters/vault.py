"""The vault port over NATS request/reply, via the platform's ``VaultClient``.

Replies carry personal data: they are returned to the caller and never logged or stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from nats.aio.client import Client

from fw_contracts.address import PostalAddress
from fw_contracts.vault import PersonalData, PromotionStatement, VaultError
from fw_contracts.wire import VaultCaller
from fw_platform.vault_client import VaultClient, VaultRefused
from fw_session.application.ports import VaultRejected

#: The vault's answer for a request whose data are gone: leave it out of the queue.
_GONE = frozenset({VaultError.ERASED, VaultError.NOT_FOUND})


class NatsVault:
    def __init__(self, nc: Callable[[], Client], timeout: float = 3.0) -> None:
        # A callable: the connection exists only once the runtime has started.
        self._nc = nc
        self._timeout = timeout

    def _client(self) -> VaultClient:
        return VaultClient(self._nc(), VaultCaller.SESSION, timeout=self._timeout)

    async def personal_data(self, request_id: uuid.UUID) -> PersonalData | None:
        try:
            entry = await self._client().get(request_id, purpose="queue")
        except VaultRefused as exc:
            if exc.error in _GONE:
                return None
            raise VaultRejected(exc.error) from None
        return entry.data

    async def add_statement(self, request_id: uuid.UUID, statement: PromotionStatement) -> None:
        try:
            await self._client().add_statement(request_id, statement)
        except VaultRefused as exc:
            raise VaultRejected(exc.error) from None

    async def set_address(self, request_id: uuid.UUID, address: PostalAddress) -> None:
        try:
            await self._client().set_address(request_id, address)
        except VaultRefused as exc:
            raise VaultRejected(exc.error) from None

    async def claim_start(self, request_id: uuid.UUID) -> None:
        try:
            await self._client().claim(request_id, "session_started")
        except VaultRefused as exc:
            raise VaultRejected(exc.error) from None
