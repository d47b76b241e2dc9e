"""Reporting's use of the public contracts (see ``fw_contracts.catalog``); read by tests and docs only.

Consumed fields: exactly those ``domain/facts.py`` (``facts_of``) copies into its facts.
Reporting publishes nothing and uses no vault subject.
"""

from __future__ import annotations

from fw_contracts.catalog import ServiceContract
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

CONTRACT = ServiceContract(
    service="reporting",
    publishes=[],
    consumes={
        InvoiceIssued: {"invoice_number", "session_id", "request_id", "kind", "issued_at",
                        "tariff_version", "raw_seconds", "billed_seconds", "net_total", "vat_total",
                        "gross_total", "occurred_at"},
        InvoiceCancelled: {"cancellation_number", "invoice_number", "cancelled_at", "reason_code",
                           "net_total", "vat_total", "gross_total"},
        SessionStarted: {"session_id", "request_id", "technician", "started_at"},
        SessionEnded: {"session_id", "request_id", "technician", "started_at", "ended_at",
                       "duration_seconds", "promoted"},
        SessionNotBilled: {"session_id", "request_id", "reason", "raw_seconds", "occurred_at"},
        CustomerPromoted: {"session_id", "request_id", "technician", "stated_at"},
        CustomerAccountCreated: {"customer_number", "request_id", "occurred_at"},
        SupportRequestWithdrawn: {"request_id", "occurred_at"},
        PersonalDataErased: {"request_id", "reason", "trigger_event_id", "erased_at", "had_data"},
    },
)
