"""The technician's queue: one entry per support request, as seen through the events.

Events may arrive out of order (each event type has its own durable consumer): a withdrawal or
an erasure can be seen before the creation. The entry therefore starts as a placeholder
(``unseen``) that any event may fill in; no event is ever refused for coming "too early".
The entry holds no personal data: those stay in the vault.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from fw_contracts.base import Event
from fw_contracts.events import (
    CustomerType,
    ErasureReason,
    PersonalDataErased,
    SessionStarted,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)
from fw_session.domain.errors import RequestAlreadyStarted, RequestErased, RequestWithdrawn, UnknownRequest


class RequestStatus(StrEnum):
    #: Tombstone: a later event was seen, the creation not yet.
    UNSEEN = "unseen"
    WAITING = "waiting"
    STARTED = "started"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class QueueEntry:
    request_id: uuid.UUID
    status: RequestStatus
    ticket: str | None = None
    customer_type: CustomerType | None = None
    created_at: datetime | None = None
    erased_at: datetime | None = None
    correlation_id: uuid.UUID | None = None
    created_event_id: uuid.UUID | None = None
    #: Why the data were erased (with ``erased_at``; the first erasure counts).
    erasure_reason: ErasureReason | None = None

    @classmethod
    def placeholder(cls, request_id: uuid.UUID) -> QueueEntry:
        """The entry before any event about the request was applied."""
        return cls(request_id=request_id, status=RequestStatus.UNSEEN)

    @property
    def in_queue(self) -> bool:
        """Shown to technicians and startable."""
        return self.status is RequestStatus.WAITING and self.erased_at is None


def evolve_request(entry: QueueEntry, event: Event) -> QueueEntry:
    """Apply an event about the request. Idempotent: applying it twice changes nothing more."""
    match event:
        case SupportRequestCreated():
            # A withdrawal seen earlier wins; the creation only fills in what it knows.
            status = RequestStatus.WAITING if entry.status is RequestStatus.UNSEEN else entry.status
            return replace(entry, status=status, ticket=event.ticket, customer_type=event.customer_type,
                           created_at=event.occurred_at, correlation_id=event.correlation_id,
                           created_event_id=event.event_id)
        case SupportRequestWithdrawn():
            # After a start the session runs on; ending it is the technician's decision.
            if entry.status in (RequestStatus.UNSEEN, RequestStatus.WAITING):
                return replace(entry, status=RequestStatus.WITHDRAWN)
            return entry
        case PersonalDataErased():
            if entry.erased_at is not None:
                return entry
            return replace(entry, erased_at=event.erased_at, erasure_reason=event.reason)
        case SessionStarted():
            return replace(entry, status=RequestStatus.STARTED)
    raise ValueError(f"{type(event).__name__} does not concern the queue")


def ensure_startable(entry: QueueEntry | None) -> QueueEntry:
    """The entry if a session may start for it; otherwise raises why not."""
    if entry is None or entry.status is RequestStatus.UNSEEN:
        raise UnknownRequest
    if entry.status is RequestStatus.STARTED:
        raise RequestAlreadyStarted
    if entry.status is RequestStatus.WITHDRAWN:
        raise RequestWithdrawn
    if entry.erased_at is not None:
        raise RequestErased
    return entry


def waiting_seconds(entry: QueueEntry, now: datetime) -> int:
    """Whole seconds the caller has waited (never negative)."""
    if entry.created_at is None:
        return 0
    return max(0, int((now - entry.created_at).total_seconds()))
