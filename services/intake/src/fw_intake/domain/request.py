"""The support request's life cycle as seen by intake: decide and evolve, both pure.

Intake's table is a projection of its own events plus SessionStarted and PersonalDataErased,
so replaying those events through :func:`evolve` (:func:`replay`) rebuilds it exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from fw_contracts import Event
from fw_contracts.events import (
    CustomerType,
    PersonalDataErased,
    SessionStarted,
    SupportRequestCreated,
    SupportRequestWithdrawn,
    TermsAcceptance,
    WithdrawalReason,
)
from fw_intake.domain.terms import TermsDocument

Fact = SupportRequestCreated | SupportRequestWithdrawn | SessionStarted | PersonalDataErased
_FACTS = (SupportRequestCreated, SupportRequestWithdrawn, SessionStarted, PersonalDataErased)


class RequestStatus(StrEnum):
    OPEN = "open"
    IN_SESSION = "in_session"
    WITHDRAWN = "withdrawn"
    ERASED = "erased"


@dataclass(frozen=True)
class SupportRequest:
    """What intake keeps about a request: ids, consent proof, status. No personal data."""

    request_id: uuid.UUID
    ticket: str
    customer_type: CustomerType
    terms_version: str
    terms_sha256: str
    withdrawal_waiver: bool
    created_at: datetime
    status: RequestStatus
    updated_at: datetime


class WithdrawRefused(Exception):
    """The request cannot be withdrawn in its current status; ``code`` names the reason."""

    def __init__(self, code: str, status: RequestStatus) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def decide_create(
    *,
    request_id: uuid.UUID,
    ticket: str,
    customer_type: CustomerType,
    terms: TermsDocument,
    withdrawal_waiver: bool,
    has_billing_address: bool,
    has_email: bool,
    now: datetime,
    download_sha256: str | None = None,
) -> SupportRequestCreated:
    """The event that records a new request with the proof of consent."""
    # The waiver is a consumer's declaration (§356 Abs. 4 BGB); for a business it means nothing.
    waiver = withdrawal_waiver and customer_type is CustomerType.CONSUMER
    return SupportRequestCreated(
        request_id=request_id,
        ticket=ticket,
        customer_type=customer_type,
        terms=TermsAcceptance(terms_version=terms.version, terms_sha256=terms.sha256,
                              accepted_at=now, withdrawal_waiver=waiver),
        has_billing_address=has_billing_address,
        has_email=has_email,
        download_sha256=download_sha256,
        occurred_at=now,
        # The request id doubles as the correlation id of the whole process: every later event
        # about this request can be traced without another lookup table.
        correlation_id=request_id,
    )


def decide_withdraw(state: SupportRequest, now: datetime,
                    reason: WithdrawalReason = WithdrawalReason.CUSTOMER) -> SupportRequestWithdrawn:
    """Withdrawal is possible only while nobody works on the request yet."""
    if state.status is RequestStatus.WITHDRAWN:
        raise WithdrawRefused("already_withdrawn", state.status)
    if state.status is RequestStatus.IN_SESSION:
        raise WithdrawRefused("session_started", state.status)
    if state.status is RequestStatus.ERASED:
        raise WithdrawRefused("request_closed", state.status)
    return SupportRequestWithdrawn(request_id=state.request_id, reason=reason, occurred_at=now,
                                   correlation_id=state.request_id)


#: Statuses only move up this order. Taking the maximum makes :func:`evolve` commutative, so
#: the live table (each consumer sees its events at its own pace) and a replay in stream order
#: end in the same status. A withdrawal confirmed to the customer outranks a session start that
#: intake had not seen yet; erasure is final.
_RANK = {RequestStatus.OPEN: 0, RequestStatus.IN_SESSION: 1, RequestStatus.WITHDRAWN: 2,
         RequestStatus.ERASED: 3}


def _status_of(event: Fact) -> RequestStatus:
    if isinstance(event, SupportRequestWithdrawn):
        return RequestStatus.WITHDRAWN
    if isinstance(event, SessionStarted):
        return RequestStatus.IN_SESSION
    if isinstance(event, PersonalDataErased):
        return RequestStatus.ERASED
    return RequestStatus.OPEN


def evolve(state: SupportRequest | None, event: Fact) -> SupportRequest | None:
    """Apply one event; order-independent and idempotent (see ``_RANK``)."""
    if isinstance(event, SupportRequestCreated):
        if state is not None:
            return state  # a redelivered creation changes nothing
        return SupportRequest(
            request_id=event.request_id, ticket=event.ticket, customer_type=event.customer_type,
            terms_version=event.terms.terms_version, terms_sha256=event.terms.terms_sha256,
            withdrawal_waiver=event.terms.withdrawal_waiver, created_at=event.occurred_at,
            status=RequestStatus.OPEN, updated_at=event.occurred_at)
    if state is None:
        return None
    status = _status_of(event)
    if _RANK[status] <= _RANK[state.status]:
        return state
    return replace(state, status=status, updated_at=event.occurred_at)


def replay(events: Iterable[Event]) -> dict[uuid.UUID, SupportRequest]:
    """Intake's table rebuilt from the stream (events of other kinds are skipped)."""
    states: dict[uuid.UUID, SupportRequest] = {}
    for event in events:
        if isinstance(event, _FACTS):
            new = evolve(states.get(event.request_id), event)
            if new is not None:
                states[event.request_id] = new
    return states
