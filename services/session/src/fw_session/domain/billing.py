"""A session's billing block: billing cannot issue the full invoice until the address is known.

Billing announces the block with ``BillingBlocked``; the technician asks the customer and enters
the address, which goes to the vault, and session announces ``BillingAddressProvided`` (ids
only). The address may be entered again while billing has not yet billed (a typo), so "provided"
does not close the matter for good: a newer ``BillingBlocked`` opens the block again.

The block is closed for good once the request's personal data are erased (``PersonalDataErased``,
seen by the queue): with reason ``invoice_issued`` because the invoice went out; with any other
reason (typically retention's billing hold ended before the address came) no invoice can be
issued any more — billing closes the session as not billed, a lost claim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from fw_contracts.base import Event
from fw_contracts.events import BillingAddressProvided, BillingBlocked, ErasureReason
from fw_session.domain.errors import DomainError


class BillingNotBlocked(DomainError):
    code = "billing_not_blocked"
    message_de = ("Die Abrechnung dieser Sitzung wartet auf keine Rechnungsanschrift; "
                  "eine Anschrift kann nur nachgetragen werden, wenn die Abrechnung danach fragt.")
    message_en = ("Billing of this session is not waiting for a billing address; an address can only "
                  "be added when billing asks for it.")


class BillingClosedDataErased(DomainError):
    code = "billing_closed_data_erased"
    message_de = ("Die Daten dieser Anfrage wurden bereits gelöscht; für diese Sitzung kann keine Rechnung "
                  "mehr ausgestellt werden. Eine Anschrift wird nicht mehr gespeichert.")
    message_en = ("The data of this request have already been erased; no invoice can be issued for this "
                  "session any more. No address is stored.")


class BlockState(StrEnum):
    """What became of a billing block."""

    #: billing waits for the address
    WAITING = "waiting"
    #: the technician entered it; billing bills with it
    ADDRESS_PROVIDED = "address_provided"
    #: the invoice was issued (the request's data were then erased as ``invoice_issued``)
    INVOICED = "invoiced"
    #: the data were erased before an invoice: billing closes the session as not billed
    CLOSED_DATA_ERASED = "closed_data_erased"


def block_state(block: BillingBlock | None, *, erased_at: datetime | None,
                erasure_reason: ErasureReason | None) -> BlockState | None:
    """The block's state, given what the queue knows about the request's erasure."""
    if block is None:
        return None
    if erased_at is not None:
        # an invoice's delivery may be reported (and erase) before retention saw the invoice
        invoiced = erasure_reason in (ErasureReason.INVOICE_ISSUED, ErasureReason.INVOICE_DELIVERED,
                                      ErasureReason.INVOICE_DELIVERY_FAILED)
        return BlockState.INVOICED if invoiced else BlockState.CLOSED_DATA_ERASED
    return BlockState.WAITING if block.waiting else BlockState.ADDRESS_PROVIDED


@dataclass(frozen=True)
class BillingBlock:
    """What billing is missing for a session, and whether the technician has provided it."""

    session_id: uuid.UUID
    request_id: uuid.UUID
    missing: tuple[str, ...]
    blocked_at: datetime
    blocked_event_id: uuid.UUID
    correlation_id: uuid.UUID
    address_provided_at: datetime | None = None
    provided_event_id: uuid.UUID | None = None

    @property
    def waiting(self) -> bool:
        """True while billing waits and nobody has provided what is missing yet."""
        return self.address_provided_at is None


def evolve_block(state: BillingBlock | None, event: Event) -> BillingBlock | None:
    """Apply an event. Idempotent: the same event twice changes nothing more."""
    match event:
        case BillingBlocked() if not event.missing:
            # Billing could not issue for another reason (e.g. the document could not be
            # rendered): nothing the technician could provide; billing's pages show it.
            return state
        case BillingBlocked():
            if state is not None:
                provided = state.address_provided_at
                # A redelivery, a repeat while still waiting, or an announcement older than the
                # address: nothing new. Only a block announced after the address reopens it.
                if provided is None or event.occurred_at <= provided:
                    return state
            return BillingBlock(session_id=event.session_id, request_id=event.request_id,
                                missing=tuple(event.missing), blocked_at=event.occurred_at,
                                blocked_event_id=event.event_id, correlation_id=event.correlation_id)
        case BillingAddressProvided() if state is not None:
            return replace(state, address_provided_at=event.occurred_at, provided_event_id=event.event_id)
    raise ValueError(f"{type(event).__name__} cannot be applied to this billing block")


def decide_provide_address(block: BillingBlock | None, *, at: datetime) -> BillingAddressProvided:
    """The event announcing that the address is in the vault; refused if billing is not blocked.

    Also allowed after an earlier address (a correction): billing bills once with what the vault
    holds when it gets to it.
    """
    if block is None:
        raise BillingNotBlocked
    return BillingAddressProvided(session_id=block.session_id, request_id=block.request_id, occurred_at=at,
                                  correlation_id=block.correlation_id, causation_id=block.blocked_event_id)
