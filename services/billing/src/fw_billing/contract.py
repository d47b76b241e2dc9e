"""Billing's use of the public contracts (see ``fw_contracts.catalog``); read by tests and docs only.

Consumed fields, from ``application/handlers.py``: a session is priced from its times, duration
and promotion flag; a promotion creates the account for its request and session; a created
request tells whether it is a business and gave an e-mail or an address; an erasure of a
request closes its blocked session as not billed. Every event
billing emits while handling one is ``caused`` by it (``correlation_id``, ``event_id``);
``InvoiceCancelled``, ``CustomerAccountErased`` and ``CustomerAccountChanged`` come from office
commands over HTTP, ``InvoiceDelivered`` / ``InvoiceDeliveryFailed`` from the delivery worker (and
``InvoiceDelivered`` with channel ``manual`` from the office's "als zugestellt markieren").
"""

from __future__ import annotations

from fw_contracts.catalog import ServiceContract
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
    CustomerAccountChanged,
    CustomerAccountCreated,
    CustomerAccountErased,
    CustomerPromoted,
    InvoiceCancelled,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
    InvoiceIssued,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
    SupportRequestCreated,
)
from fw_contracts.reference import IssuerDetailsChanged, TariffPublished
from fw_contracts.wire import VaultSubject

CONTRACT = ServiceContract(
    service="billing",
    publishes=[InvoiceIssued, InvoiceCancelled, SessionNotBilled, BillingBlocked, CustomerAccountCreated,
               CustomerAccountErased, CustomerAccountChanged, InvoiceDelivered, InvoiceDeliveryFailed,
               TariffPublished, IssuerDetailsChanged],
    consumes={
        SessionEnded: {"session_id", "request_id", "started_at", "ended_at", "duration_seconds",
                       "promoted", "correlation_id", "event_id"},
        CustomerPromoted: {"session_id", "request_id", "correlation_id", "event_id"},
        # whether the request is B2B / gave an e-mail or address (e-invoice, delivery); the ticket
        # code for the office's invoice search
        SupportRequestCreated: {"request_id", "ticket", "customer_type", "has_email", "has_billing_address",
                                # the hash of the customer's download code (checked by /api/downloads)
                                "download_sha256"},
        # the technician entered the missing address: bill the blocked session now
        BillingAddressProvided: {"session_id", "correlation_id", "event_id"},
        # the request's data are gone: a session blocked for want of the address is a lost claim
        PersonalDataErased: {"request_id", "correlation_id", "event_id"},
    },
    vault_requests=[VaultSubject.GET],
)
