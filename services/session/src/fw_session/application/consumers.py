"""Session's handler table: which durable consumer hands which event to which handler."""

from __future__ import annotations

from functools import partial

from fw_contracts.events import (
    BillingBlocked,
    PersonalDataErased,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)
from fw_platform.app import Consumers
from fw_platform.handling import batched
from fw_session.application.billing import BillingEventHandlers
from fw_session.application.ports import StoresFactory
from fw_session.application.queue_events import QueueEventHandlers


def consumers(stores: StoresFactory) -> Consumers:
    """``{durable name: {event class: handler}}``, registered by bootstrap."""
    queue = QueueEventHandlers(stores)
    billing = BillingEventHandlers(stores)
    # one batched handler per durable (the platform groups consecutive events of one handler)
    return {
        "support_request_created": {SupportRequestCreated: batched(partial(queue.apply_run))},
        "support_request_withdrawn": {SupportRequestWithdrawn: batched(partial(queue.apply_run))},
        "personal_data_erased": {PersonalDataErased: batched(partial(queue.apply_run))},
        "billing_blocked": {BillingBlocked: billing.on_billing_blocked},
    }
