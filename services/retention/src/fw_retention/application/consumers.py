"""Retention's handler table: which durable consumer hands which event to which handler."""

from __future__ import annotations

from functools import partial

from fw_contracts.events import (
    BillingBlocked,
    InvoiceDelivered,
    InvoiceDeliveryFailed,
    InvoiceIssued,
    SessionNotBilled,
    SupportRequestWithdrawn,
)
from fw_platform.app import Consumers
from fw_platform.handling import batched
from fw_retention.application.erasure import ErasureHandlers


def consumers(erasure: ErasureHandlers) -> Consumers:
    """``{durable name: {event class: handler}}``, registered by bootstrap."""
    return {
        "invoice_issued": {InvoiceIssued: batched(partial(erasure.on_invoices_issued))},
        "session_not_billed": {SessionNotBilled: batched(partial(erasure.on_sessions_not_billed))},
        "support_request_withdrawn": {SupportRequestWithdrawn: batched(partial(erasure.on_support_requests_withdrawn))},
        # its own durable (not added to another one): a new durable reads the stream from the
        # start, so blocks announced before this consumer existed are held as well
        "billing_blocked": {BillingBlocked: erasure.on_billing_blocked},
        # own durables too (read from the stream's start): the second erasure step
        "invoice_delivered": {InvoiceDelivered: batched(partial(erasure.on_invoices_delivered))},
        "invoice_delivery_failed": {InvoiceDeliveryFailed: batched(partial(erasure.on_invoice_deliveries_failed))},
    }
