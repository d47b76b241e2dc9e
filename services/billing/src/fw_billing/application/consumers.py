"""Billing's handler table: which durable consumer hands which event to which handler."""

from __future__ import annotations

from functools import partial

from fw_billing.application.handlers import (
    on_billing_address_provided,
    on_customer_promoted,
    on_personal_data_erased,
    on_session_ended,
    on_support_request_created,
)
from fw_billing.application.ports import BillingDeps
from fw_contracts.events import (
    BillingAddressProvided,
    CustomerPromoted,
    PersonalDataErased,
    SessionEnded,
    SupportRequestCreated,
)
from fw_platform.app import Consumers
from fw_platform.handling import batched


def consumers(deps: BillingDeps) -> Consumers:
    """``{durable name: {event class: handler}}``, registered by bootstrap."""
    return {
        # One durable for the billing case, in stream order: the request's facts (B2B?, e-mail
        # given?) come before the session's end, the provided address after it (migration 022).
        "session_billing": {SessionEnded: partial(on_session_ended, deps=deps),
                            SupportRequestCreated: batched(partial(on_support_request_created, deps=deps)),
                            BillingAddressProvided: partial(on_billing_address_provided, deps=deps)},
        "customer_promoted": {CustomerPromoted: partial(on_customer_promoted, deps=deps)},
        # Its own durable: created later than the others, it reads the whole history, so sessions
        # blocked for ever by an erasure before it existed are closed as well.
        "personal_data_erased": {PersonalDataErased: batched(partial(on_personal_data_erased, deps=deps))},
    }
