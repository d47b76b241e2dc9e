"""What billing decided about a session, as a fold of billing's own events.

A session's billing outcome is *pending* until billing publishes one of ``SessionNotBilled``
(final), ``BillingBlocked`` (waits, with its reason) or ``InvoiceIssued`` (final; a corrected
invoice for the same session keeps it invoiced). :func:`next_outcome` is that rule, stated once
next to the contracts: billing's domain (``fw_billing.domain.billing_case``) folds its events
with it, and the audit (``fw_audit.projections``) rebuilds billing's session rows with the same
function from the stream alone, without importing a service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from fw_contracts.base import Event
from fw_contracts.events import BillingBlocked, BlockReason, InvoiceIssued, SessionNotBilled

#: The events that decide a session's billing (all published by billing, keyed by session).
BillingEvent: TypeAlias = SessionNotBilled | BillingBlocked | InvoiceIssued


class BillingStatus(StrEnum):
    """Billing's view of an ended session (the stored values of ``session_billing.status``)."""

    #: Seen, nothing decided yet: exists only inside billing's transaction.
    PENDING = "pending"
    NOT_BILLED = "not_billed"
    BLOCKED = "blocked"
    INVOICED = "invoiced"

    @property
    def final(self) -> bool:
        """A final session is never billed again, whatever arrives later."""
        return self in (BillingStatus.NOT_BILLED, BillingStatus.INVOICED)


@dataclass(frozen=True)
class BillingOutcome:
    """The decision part of a session's billing; ``block_reason`` only while BLOCKED."""

    status: BillingStatus = BillingStatus.PENDING
    block_reason: BlockReason | None = None


PENDING = BillingOutcome()


def next_outcome(outcome: BillingOutcome, event: Event) -> BillingOutcome:
    """The outcome after one of billing's events about the session (others change nothing).

    Trusts its input: billing decided the event against this outcome already (a final outcome
    gets no further ``SessionNotBilled``/``BillingBlocked``; a second ``InvoiceIssued`` is a
    correction of the same session and keeps it invoiced).
    """
    match event:
        case SessionNotBilled():
            return BillingOutcome(BillingStatus.NOT_BILLED)
        case BillingBlocked():
            return BillingOutcome(BillingStatus.BLOCKED, event.reason)
        case InvoiceIssued():
            return BillingOutcome(BillingStatus.INVOICED)
    return outcome


def session_outcomes(events: Iterable[Event]) -> dict[uuid.UUID, BillingOutcome]:
    """Every session's outcome after ``events`` (stream order), keyed by session id."""
    outcomes: dict[uuid.UUID, BillingOutcome] = {}
    for event in events:
        if isinstance(event, SessionNotBilled | BillingBlocked | InvoiceIssued):
            outcomes[event.session_id] = next_outcome(outcomes.get(event.session_id, PENDING), event)
    return outcomes
