"""Retention's use of the public contracts (see ``fw_contracts.catalog``); read by tests and docs only.

Consumed fields, from ``application/erasure.py``: each trigger erases its ``request_id``; its
``event_id`` becomes ``trigger_event_id``, ``occurred_at`` is when the erasure became due, and
``correlation_id``/``event_id`` are carried on (``caused``). ``BillingBlocked`` holds its
``request_id`` (for ``session_id``'s block, counted from ``occurred_at``, ``event_id`` kept) back
from the abandonment erasure until the billing hold ends. ``InvoiceDelivered`` and
``InvoiceDeliveryFailed`` erase the e-mail address kept for the delivery (second step).
``PersonalDataErased`` is read back
from the stream by ``adapters/history.py`` + ``application/restore.py`` (restore safety).
"""

from __future__ import annotations

from fw_contracts.catalog import ServiceContract
from fw_contracts.events import (
    BillingBlocked,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
    InvoiceIssued,
    PersonalDataErased,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_contracts.wire import VaultSubject

_TRIGGER = {"request_id", "event_id", "occurred_at", "correlation_id"}

CONTRACT = ServiceContract(
    service="retention",
    publishes=[PersonalDataErased],
    consumes={
        InvoiceIssued: _TRIGGER,
        SessionNotBilled: _TRIGGER,
        SupportRequestWithdrawn: _TRIGGER,
        # billing waits for the address: hold the request until the billing hold ends
        BillingBlocked: {"request_id", "session_id", "event_id", "occurred_at"},
        # the second erasure step: the kept delivery e-mail address goes
        InvoiceDelivered: _TRIGGER,
        InvoiceDeliveryFailed: _TRIGGER,
        # its own history, read back on restore (not a durable consumer)
        PersonalDataErased: {"request_id", "reason", "trigger_event_id", "erased_at", "had_data",
                             "scope", "delivery_hold_until"},
    },
    vault_serves=[VaultSubject.PUT, VaultSubject.GET, VaultSubject.ADD_STATEMENT, VaultSubject.ADDRESS,
                  VaultSubject.CLAIM],
    vault_queue="retention-vault",
)
