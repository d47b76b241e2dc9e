"""Reporting's handler table: the one durable consumer and the events it hands to the projection."""

from __future__ import annotations

from fw_platform.app import Consumers
from fw_reporting.application.ports import FactStoreFactory
from fw_reporting.application.projections import handlers

#: The one durable consumer ``reporting--events`` over every event reporting uses: one consumer
#: reads them in stream order, and its name is the one NATS permits this service.
CONSUMER = "events"


def consumers(store: FactStoreFactory) -> Consumers:
    """``{durable name: {event class: handler}}``, registered by bootstrap."""
    return {CONSUMER: handlers(store)}
