"""Handlers of the consumed events: each stores the facts its event contributes, nothing else.

The handler runs inside the consumer's transaction (``uow.conn``, with the platform's
idempotency record). Idempotent also by state: every fact table has the fact's natural key, so a
repeated event is a no-op. Reporting emits nothing.
"""

from __future__ import annotations

from functools import partial

from fw_contracts import Event
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
from fw_platform.handling import Handler, UnitOfWork, batched
from fw_reporting.application.ports import FactStoreFactory
from fw_reporting.domain.facts import facts_of

CONSUMED: tuple[type[Event], ...] = (
    InvoiceIssued, InvoiceCancelled, SessionStarted, SessionEnded, SessionNotBilled, CustomerPromoted,
    CustomerAccountCreated, SupportRequestWithdrawn, PersonalDataErased)


async def on_events(events: list[Event], uow: UnitOfWork, *, store: FactStoreFactory) -> None:
    """Store the facts of a run of events (in stream order) with one statement per fact kind.

    A batched handler (``fw_platform.handling.batched``): when reporting catches up on a long
    history (a new instance, a rebuild), a chunk of events costs a few round trips, not one per
    event. Every fact kind is idempotent by its natural key and independent of the others'
    order, so grouping by kind changes nothing in the result.

    What each event contributes (``facts_of``): InvoiceIssued revenue, minutes and an erasure
    trigger; InvoiceCancelled a Storno, subtracted in its own month; SessionStarted a session per
    technician (also while it runs); SessionEnded its length; SessionNotBilled unbilled minutes
    and a trigger; CustomerPromoted a promotion per month and technician; CustomerAccountCreated
    an account (by number, no personal data); SupportRequestWithdrawn a trigger;
    PersonalDataErased an erasure, whose delay is measured against its trigger.
    """
    await store(uow.conn).record_many([fact for event in events for fact in facts_of(event)])


def handlers(store: FactStoreFactory) -> dict[type[Event], Handler]:
    """``{event class: handler}`` for the one durable consumer ``reporting--events``: the same
    batched handler for every class, so a whole chunk is one run."""
    handler = batched(partial(on_events, store=store))
    return dict.fromkeys(CONSUMED, handler)
