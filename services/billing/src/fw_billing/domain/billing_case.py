"""A session's billing case as pure functions: ``decide(command, state)`` / ``evolve(state, event)``.

The case opens with the session's end as billing first saw it (:func:`open_case`: the first
``SessionEnded`` wins and fixes the tariff version) and is decided by billing's own events,
folded with :func:`fw_contracts.billing_case.next_outcome` — the same rule the audit rebuilds
billing's session rows with:

- ``SessionNotBilled``: free (below the threshold), or a lost claim (the recipient's data were
  erased before the full invoice could name them). Final.
- ``BillingBlocked``: the full invoice needs an address the request lacks, or issuing failed for
  good (a VAT id that bypassed intake's check, a document that cannot be rendered). Announced once
  per reason; the case waits for the address (``BillingAddressProvided``) or the erasure.
- ``InvoiceIssued``: final.

Issuing needs a number, a rendered document and its archived copy, which are effects: for a
billable case :func:`decide` answers :class:`InvoiceDue` (the decision, not an event); the handler
draws the number and renders, then :class:`IssueInvoice` yields the ``InvoiceIssued`` — or, when
issuing failed for good, :class:`RecordIssuingFailure` the block.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import reduce
from typing import TypeAlias

from fw_billing.domain.invoicing import Billable, NotBilled
from fw_contracts.base import Event
from fw_contracts.billing_case import BillingEvent, BillingOutcome, BillingStatus, next_outcome
from fw_contracts.events import (
    BillingBlocked,
    BlockReason,
    InvoiceIssued,
    NotBilledReason,
    SessionEnded,
    SessionNotBilled,
)


# ------------------------------------------------------------------ state
@dataclass(frozen=True)
class BillingCase:
    """An ended session as billing first saw it, and what billing decided about it so far."""

    session_id: uuid.UUID
    request_id: uuid.UUID
    started_at: datetime
    ended_at: datetime
    raw_seconds: int
    promoted: bool
    tariff_version: str
    status: BillingStatus
    #: The ``SessionEnded`` that opened the case.
    source_event_id: uuid.UUID
    #: Why the session is, or last was, BLOCKED (kept after it is closed: the office sees why a
    #: lost claim was blocked); None if it never was.
    block_reason: BlockReason | None = None

    @property
    def outcome(self) -> BillingOutcome:
        return BillingOutcome(self.status, self.block_reason if self.status is BillingStatus.BLOCKED else None)


def open_case(event: SessionEnded, tariff_version: str) -> BillingCase:
    """The pending case of a session's end, priced by ``tariff_version`` (the current one)."""
    return BillingCase(
        session_id=event.session_id, request_id=event.request_id, started_at=event.started_at,
        ended_at=event.ended_at, raw_seconds=event.duration_seconds, promoted=event.promoted,
        tariff_version=tariff_version, status=BillingStatus.PENDING, source_event_id=event.event_id)


# ------------------------------------------------------------------ commands
class RecipientData(StrEnum):
    """What billing knows of the recipient it may have to name (read from the vault)."""

    #: Not read: the invoice names nobody and nothing points abroad (or the vault has nothing).
    NOT_READ = "not_read"
    #: Read, with a billing address.
    ADDRESS = "address"
    #: Read, without an address.
    NO_ADDRESS = "no_address"
    #: The vault says the request's data were erased.
    ERASED = "erased"


@dataclass(frozen=True)
class BillSession:
    """Decide the case (at the session's end, or again when the address came).

    ``assessment`` is the session priced under the recipient's tax case, or ``None`` when no tax
    case could be decided (a VAT id that bypassed intake's check).
    """

    cause: Event
    assessment: NotBilled | Billable | None
    recipient: RecipientData = RecipientData.NOT_READ


@dataclass(frozen=True)
class IssueInvoice:
    """Issue the due invoice with the number drawn for it (effects done: number, document)."""

    cause: Event
    due: InvoiceDue
    number: str
    issued_at: datetime
    customer_number: str | None
    tariff_sha256: str | None


@dataclass(frozen=True)
class RecordIssuingFailure:
    """Issuing failed for good (no number is used): block the case with ``reason``."""

    cause: Event
    reason: BlockReason


@dataclass(frozen=True)
class CloseLostClaim:
    """The request's personal data were erased: a case blocked for them can never be invoiced."""

    cause: Event


Command: TypeAlias = BillSession | IssueInvoice | RecordIssuingFailure | CloseLostClaim


@dataclass(frozen=True)
class InvoiceDue:
    """The decision to issue: what the invoice will say, before its number is drawn."""

    billable: Billable


Decision: TypeAlias = BillingEvent | InvoiceDue


# ------------------------------------------------------------------ decide
def decide(command: Command, state: BillingCase) -> list[Decision]:
    """What ``command`` makes of the case: events (or :class:`InvoiceDue`); ``[]`` for nothing.

    A final case decides nothing (a repeated event is a no-op); a blocked case is announced again
    only with a different reason.
    """
    if state.status.final:
        return []
    match command:
        case BillSession(assessment=None):
            return _block(state, command.cause, BlockReason.ISSUING_FAILED)
        case BillSession(assessment=NotBilled() as not_billed):
            return [_not_billed(state, command.cause, not_billed.reason)]
        case BillSession(assessment=Billable() as billable):
            if billable.needs_recipient:
                if command.recipient is RecipientData.ERASED:
                    # erased before billing got here (e.g. the address came just as the hold ended)
                    return [_not_billed(state, command.cause, NotBilledReason.RECIPIENT_DATA_ERASED)]
                if command.recipient is not RecipientData.ADDRESS:
                    return _block(state, command.cause, BlockReason.BILLING_ADDRESS_MISSING)
            return [InvoiceDue(billable)]
        case IssueInvoice():
            return [_issued(state, command)]
        case RecordIssuingFailure():
            return _block(state, command.cause, command.reason)
        case CloseLostClaim():
            if state.status is not BillingStatus.BLOCKED:
                return []
            return [_not_billed(state, command.cause, NotBilledReason.RECIPIENT_DATA_ERASED)]
    raise TypeError(f"unknown command {type(command).__name__}")


def _not_billed(state: BillingCase, cause: Event, reason: NotBilledReason) -> SessionNotBilled:
    return SessionNotBilled(**cause.caused(
        session_id=state.session_id, request_id=state.request_id, reason=reason,
        tariff_version=state.tariff_version, raw_seconds=state.raw_seconds))


def _block(state: BillingCase, cause: Event, reason: BlockReason) -> list[Decision]:
    # a row blocked before reasons were recorded was blocked for the address
    before = (state.block_reason or BlockReason.BILLING_ADDRESS_MISSING
              if state.status is BillingStatus.BLOCKED else None)
    if before is reason:
        return []
    return [BillingBlocked(**cause.caused(
        session_id=state.session_id, request_id=state.request_id, reason=reason,
        missing=("billing_address",) if reason is BlockReason.BILLING_ADDRESS_MISSING else ()))]


def _issued(state: BillingCase, command: IssueInvoice) -> InvoiceIssued:
    """The one place an invoice's fields are taken from the pricing."""
    billable = command.due.billable
    p = billable.pricing
    return InvoiceIssued(**command.cause.caused(
        invoice_number=command.number, session_id=state.session_id, request_id=state.request_id,
        kind=billable.kind, issued_at=command.issued_at, service_date=state.ended_at,
        tariff_version=p.tariff_version, raw_seconds=p.raw_seconds, billed_seconds=p.billed_seconds,
        lines=p.lines, net_total=p.net_total, vat_rate=p.vat_rate, vat_total=p.vat_total,
        gross_total=p.gross_total, customer_number=command.customer_number, tax_case=billable.tax_case,
        tariff_sha256=command.tariff_sha256))


# ------------------------------------------------------------------ evolve
def evolve(state: BillingCase, event: Decision) -> BillingCase:
    """Apply one of billing's events (an :class:`InvoiceDue` changes nothing yet)."""
    if isinstance(event, InvoiceDue):
        return state
    outcome = next_outcome(state.outcome, event)
    return replace(state, status=outcome.status, block_reason=outcome.block_reason or state.block_reason)


def replay(events: Iterable[Decision], state: BillingCase) -> BillingCase:
    """Fold events into the case: the same code for the handler and for rebuilds."""
    return reduce(evolve, events, state)
