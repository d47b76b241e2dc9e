"""The facts reporting keeps, translated from the public events at the edge (pure).

Reporting depends only on the fields named in ``fw_reporting.contract``; every fact below is
built from those and nothing else, so the consumer contract test covers exactly what is read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from fw_contracts import Event
from fw_contracts.events import (
    CustomerAccountCreated,
    CustomerPromoted,
    InvoiceCancelled,
    InvoiceIssued,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
    SessionStarted,
    SupportRequestWithdrawn,
)


@dataclass(frozen=True)
class InvoiceFact:
    invoice_number: str
    session_id: uuid.UUID
    request_id: uuid.UUID
    kind: str
    issued_at: datetime
    tariff_version: str
    raw_seconds: int
    billed_seconds: int
    net: Decimal
    vat: Decimal
    gross: Decimal
    event_id: uuid.UUID


@dataclass(frozen=True)
class CancellationFact:
    cancellation_number: str
    invoice_number: str
    cancelled_at: datetime
    reason_code: str
    net: Decimal
    vat: Decimal
    gross: Decimal
    event_id: uuid.UUID


@dataclass(frozen=True)
class SessionStartFact:
    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: str
    started_at: datetime


@dataclass(frozen=True)
class SessionEndFact:
    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: str
    started_at: datetime
    ended_at: datetime
    duration_seconds: int
    promoted: bool


@dataclass(frozen=True)
class NotBilledFact:
    session_id: uuid.UUID
    request_id: uuid.UUID
    reason: str
    raw_seconds: int
    occurred_at: datetime


@dataclass(frozen=True)
class PromotionFact:
    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: str
    stated_at: datetime


@dataclass(frozen=True)
class AccountFact:
    customer_number: str
    request_id: uuid.UUID
    created_at: datetime


@dataclass(frozen=True)
class ErasureTriggerFact:
    """An event after which retention erases the request's personal data."""

    event_id: uuid.UUID
    event_type: str
    request_id: uuid.UUID
    occurred_at: datetime


@dataclass(frozen=True)
class ErasureFact:
    event_id: uuid.UUID
    request_id: uuid.UUID
    reason: str
    trigger_event_id: uuid.UUID | None
    erased_at: datetime
    had_data: bool


Fact = (InvoiceFact | CancellationFact | SessionStartFact | SessionEndFact | NotBilledFact
        | PromotionFact | AccountFact | ErasureTriggerFact | ErasureFact)


def _trigger(event: InvoiceIssued | SessionNotBilled | SupportRequestWithdrawn) -> ErasureTriggerFact:
    return ErasureTriggerFact(event_id=event.event_id, event_type=event.event_type,
                              request_id=event.request_id, occurred_at=event.occurred_at)


def facts_of(event: Event) -> tuple[Fact, ...]:
    """The facts one event contributes; empty for events reporting does not use."""
    match event:
        case InvoiceIssued():
            return (InvoiceFact(
                invoice_number=event.invoice_number, session_id=event.session_id,
                request_id=event.request_id, kind=event.kind.value, issued_at=event.issued_at,
                tariff_version=event.tariff_version, raw_seconds=event.raw_seconds,
                billed_seconds=event.billed_seconds, net=event.net_total, vat=event.vat_total,
                gross=event.gross_total, event_id=event.event_id), _trigger(event))
        case InvoiceCancelled():
            return (CancellationFact(
                cancellation_number=event.cancellation_number, invoice_number=event.invoice_number,
                cancelled_at=event.cancelled_at, reason_code=event.reason_code, net=event.net_total,
                vat=event.vat_total, gross=event.gross_total, event_id=event.event_id),)
        case SessionStarted():
            return (SessionStartFact(session_id=event.session_id, request_id=event.request_id,
                                     technician=event.technician, started_at=event.started_at),)
        case SessionEnded():
            return (SessionEndFact(
                session_id=event.session_id, request_id=event.request_id, technician=event.technician,
                started_at=event.started_at, ended_at=event.ended_at,
                duration_seconds=event.duration_seconds, promoted=event.promoted),)
        case SessionNotBilled():
            return (NotBilledFact(session_id=event.session_id, request_id=event.request_id,
                                  reason=event.reason.value, raw_seconds=event.raw_seconds,
                                  occurred_at=event.occurred_at), _trigger(event))
        case CustomerPromoted():
            return (PromotionFact(session_id=event.session_id, request_id=event.request_id,
                                  technician=event.technician, stated_at=event.stated_at),)
        case CustomerAccountCreated():
            return (AccountFact(customer_number=event.customer_number, request_id=event.request_id,
                                created_at=event.occurred_at),)
        case SupportRequestWithdrawn():
            return (_trigger(event),)
        case PersonalDataErased():
            return (ErasureFact(event_id=event.event_id, request_id=event.request_id,
                                reason=event.reason.value, trigger_event_id=event.trigger_event_id,
                                erased_at=event.erased_at, had_data=event.had_data),)
    return ()
