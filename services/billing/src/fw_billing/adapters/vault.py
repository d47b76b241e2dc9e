"""The vault as billing's personal-data source (request/reply over core NATS)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal

from nats.aio.client import Client

from fw_billing.application.delivery import AddressGone
from fw_billing.application.ports import RecipientDataErased, RecipientDataMissing
from fw_contracts.vault import VaultEntry, VaultError
from fw_contracts.wire import VaultCaller
from fw_platform.handling import PermanentError
from fw_platform.vault_client import VaultClient, VaultRefused, VaultUnavailable

#: Refusals that no retry can change: park the message with the reason (an error code only).
_FINAL = {VaultError.ERASED, VaultError.NOT_FOUND, VaultError.FORBIDDEN, VaultError.INVALID}


class VaultPersonalData:
    """Reads a request's personal data; ``VaultUnavailable`` (transient) passes through."""

    def __init__(self, nc: Callable[[], Client], timeout: float = 3.0) -> None:
        # The connection exists only once the runtime has started, hence a provider.
        self._nc = nc
        self._timeout = timeout

    async def get(self, request_id: uuid.UUID,
                  purpose: Literal["billing", "customer_account"]) -> VaultEntry:
        """The vault entry of ``request_id``, read for ``purpose``."""
        try:
            return await VaultClient(self._nc(), VaultCaller.BILLING, timeout=self._timeout).get(request_id, purpose=purpose)
        except VaultRefused as exc:
            if exc.error is VaultError.ERASED:
                raise RecipientDataErased(f"vault refused ({purpose}): {exc.error.value}") from None
            if exc.error is VaultError.NOT_FOUND:
                raise RecipientDataMissing(f"vault refused ({purpose}): {exc.error.value}") from None
            if exc.error in _FINAL:
                raise PermanentError(f"vault refused ({purpose}): {exc.error.value}") from None
            raise

    async def delivery_email(self, request_id: uuid.UUID) -> str:
        """The address the invoice is e-mailed to (purpose ``delivery``); :class:`AddressGone`
        when the vault has none (any more); ``VaultUnavailable`` (transient) passes through."""
        try:
            email = await VaultClient(self._nc(), VaultCaller.BILLING, timeout=self._timeout).delivery_email(request_id)
        except VaultRefused as exc:
            if exc.error in (VaultError.ERASED, VaultError.NOT_FOUND):
                raise AddressGone(exc.error.value) from None
            # forbidden/invalid: a set-up fault, not the customer's; retried and visible
            raise VaultUnavailable(f"vault refused (delivery): {exc.error.value}") from None
        if email is None:
            raise AddressGone("none given")
        return email
