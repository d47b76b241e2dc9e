"""Reading billing's own ``CustomerAccountErased`` history back from the stream (restore safety),
with :func:`fw_platform.history.event_history` (stateless gets, like retention's erasure history;
``fw_contracts.nats_permissions`` grants billing exactly these gets)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from nats.js import JetStreamContext

from fw_contracts.events import CustomerAccountErased
from fw_platform.history import event_history


def account_erasure_history(js: JetStreamContext) -> AsyncIterator[CustomerAccountErased]:
    """Every ``CustomerAccountErased`` in the stream, oldest first."""
    return event_history(js, CustomerAccountErased)
