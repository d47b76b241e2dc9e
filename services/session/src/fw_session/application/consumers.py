"""Session's handler table: which durable consumer hands which event to which handler."""

from __future__ import annotations

from fw_contracts.events import (
    BillingBlocked,
    PersonalDataErased,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)
from fw_platform.app import Consumers
from fw_session.application.billing import BillingEventHandlers
from fw_session.application.ports import StoresFactory
from fw_session.application.queue_events import QueueEventHandlers


def consumers(stores: StoresFactory) -> Consumers:
    """``{durable name: {event class: handler}}``, registered by bootstrap."""
    queue = QueueEventHandlers(stores)
    billing = BillingEventHandlers(stores)
    return {
        "support_request_created": {SupportRequestCreated: queue.on_support_request_created},
        "support_request_withdrawn": {SupportRequestWithdrawn: queue.on_support_request_withdrawn},
        "personal_data_erased": {PersonalDataErased: queue.on_personal_data_erased},
        "billing_blocked": {BillingBlocked: billing.on_billing_blocked},
    }
