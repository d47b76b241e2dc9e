"""Client of the personal-data vault (request/reply over core NATS, never the stream).

Every caller names itself: its requests go to its own subjects (``vault.v1.get.billing``), the
only ones its NATS user may publish on, and the vault binds each caller to its purposes.
"""

from __future__ import annotations

import uuid

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from fw_contracts.address import STORED, PostalAddress
from fw_contracts.vault import (
    AddressRequest,
    ClaimOutcome,
    ClaimRequest,
    GetRequest,
    PersonalData,
    PromotionStatement,
    Purpose,
    PutRequest,
    StatementRequest,
    VaultEntry,
    VaultError,
    VaultReply,
)
from fw_contracts.wire import VaultCaller, VaultSubject, vault_subject
from fw_platform.handling import TransientError


class VaultUnavailable(TransientError):
    """The vault did not answer (no responder or timeout). Nothing was stored."""


class VaultRefused(Exception):
    """The vault answered with an error (erased, not found, forbidden, ...)."""

    def __init__(self, error: VaultError, reply: VaultReply) -> None:
        super().__init__(f"vault refused: {error.value}")
        self.error = error
        self.reply = reply


class VaultClient:
    """The vault as ``caller`` sees it (``intake``, ``session`` or ``billing``)."""

    def __init__(self, nc: Client, caller: VaultCaller | str, timeout: float = 3.0) -> None:
        self._nc = nc
        self.caller = VaultCaller(caller)
        self._timeout = timeout

    async def _call(self, operation: VaultSubject, body: bytes) -> VaultReply:
        try:
            msg = await self._nc.request(vault_subject(operation, self.caller), body, timeout=self._timeout)
        except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
            raise VaultUnavailable(type(exc).__name__) from None
        if msg.headers and msg.headers.get("Status") == "503":
            raise VaultUnavailable("no responders")
        # the entry is stored data (an address may predate today's input rules)
        reply = VaultReply.model_validate_json(msg.data, context=STORED)
        if not reply.ok and reply.error == VaultError.INTERNAL:
            # The vault is up but its database is not: as unavailable as no answer at all.
            raise VaultUnavailable("vault internal error")
        if not reply.ok:
            raise VaultRefused(reply.error or VaultError.INTERNAL, reply)
        return reply

    async def put(self, request_id: uuid.UUID, data: PersonalData) -> None:
        await self._call(VaultSubject.PUT, PutRequest(request_id=request_id, data=data).model_dump_json().encode())

    async def get(self, request_id: uuid.UUID, purpose: Purpose) -> VaultEntry:
        """The request's data for ``purpose``; refused (``forbidden``) if it is not the caller's."""
        reply = await self._call(
            VaultSubject.GET, GetRequest(request_id=request_id, purpose=purpose).model_dump_json().encode())
        assert reply.entry is not None
        return reply.entry

    async def delivery_email(self, request_id: uuid.UUID) -> str | None:
        """The e-mail address the invoice of ``request_id`` is delivered to (None: none given);
        kept by the vault after the first erasure step until the delivery is done."""
        reply = await self._call(
            VaultSubject.GET, GetRequest(request_id=request_id, purpose="delivery").model_dump_json().encode())
        return str(reply.delivery_email) if reply.delivery_email is not None else None

    async def add_statement(self, request_id: uuid.UUID, statement: PromotionStatement) -> None:
        await self._call(
            VaultSubject.ADD_STATEMENT,
            StatementRequest(request_id=request_id, statement=statement).model_dump_json().encode())

    async def set_address(self, request_id: uuid.UUID, address: PostalAddress) -> None:
        """Add or replace the billing address of a stored request (refused once erased)."""
        await self._call(
            VaultSubject.ADDRESS,
            AddressRequest(request_id=request_id, address=address).model_dump_json().encode())

    async def claim(self, request_id: uuid.UUID, outcome: ClaimOutcome) -> None:
        """Decide the request's outcome; :class:`VaultRefused` with ``claimed`` if the other won."""
        await self._call(
            VaultSubject.CLAIM, ClaimRequest(request_id=request_id, outcome=outcome).model_dump_json().encode())
