"""Session's use of the public contracts (see ``fw_contracts.catalog``); read by tests and docs only.

Consumed fields, from ``application/queue_events.py`` and ``domain/requests.py``
(``evolve_request``): the queue entry copies ticket, customer type, creation time and the ids
that later become the session's correlation and causation ids; a withdrawal needs only the
request; an erasure stamps ``erased_at``. A ``BillingBlocked`` opens the session's billing block
(``domain/billing.py``), answered by ``BillingAddressProvided`` after the address went to the vault.
"""

from __future__ import annotations

from fw_contracts.catalog import ServiceContract
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
    CustomerPromoted,
    PersonalDataErased,
    SessionEnded,
    SessionStarted,
    SessionTakenOver,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)
from fw_contracts.wire import VaultSubject

CONTRACT = ServiceContract(
    service="session",
    publishes=[SessionStarted, CustomerPromoted, SessionEnded, SessionTakenOver, BillingAddressProvided],
    consumes={
        SupportRequestCreated: {"request_id", "ticket", "customer_type", "occurred_at",
                                "correlation_id", "event_id"},
        SupportRequestWithdrawn: {"request_id"},
        # the queue drops the request; the reason tells an invoiced block from a lost claim
        PersonalDataErased: {"request_id", "erased_at", "reason"},
        # application/billing.py + domain/billing.py: shown on the session until the address is given
        BillingBlocked: {"session_id", "request_id", "missing", "occurred_at", "correlation_id"},
    },
    vault_requests=[VaultSubject.GET, VaultSubject.ADD_STATEMENT, VaultSubject.ADDRESS, VaultSubject.CLAIM],
)
