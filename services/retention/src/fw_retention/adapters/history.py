"""Reading history back from the stream (restore safety): retention's own ``PersonalDataErased``
and billing's ``BillingBlocked`` (the billing holds recorded since a restored backup was taken).

Stateless message gets with :func:`fw_platform.history.event_history` (see there why not a
consumer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from nats.js import JetStreamContext

from fw_contracts.events import BillingBlocked, PersonalDataErased
from fw_platform.history import event_history


def erasure_history(js: JetStreamContext) -> AsyncIterator[PersonalDataErased]:
    """Every ``PersonalDataErased`` in the stream, oldest first."""
    return event_history(js, PersonalDataErased)


def billing_block_history(js: JetStreamContext) -> AsyncIterator[BillingBlocked]:
    """Every ``BillingBlocked`` in the stream, oldest first (the billing holds, after a restore)."""
    return event_history(js, BillingBlocked)
