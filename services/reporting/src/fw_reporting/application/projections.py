"""Handlers of the consumed events: each stores the facts its event contributes, nothing else.

They run inside the consumer's transaction (``uow.conn``, with the platform's idempotency
record). Idempotent also by state: every fact table has the fact's natural key, so a repeated
event is a no-op. Reporting emits nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
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
from fw_platform.consumer import Handler, UnitOfWork

from fw_reporting.application.ports import FactStoreFactory
from fw_reporting.domain.facts import facts_of

log = logging.getLogger(__name__)


async def _record(event: Event, uow: UnitOfWork, store: FactStoreFactory) -> None:
    facts = store(uow.conn)
    for fact in facts_of(event):
        if not await facts.record(fact):
            log.info("fact already recorded", extra={"event_id": str(event.event_id),
                                                       "event_type": event.event_type})


async def on_invoice_issued(event: InvoiceIssued, uow: UnitOfWork, *, store: FactStoreFactory) -> None:
    """Revenue, minutes, and the trigger of an erasure."""
    await _record(event, uow, store)


async def on_invoice_cancelled(event: InvoiceCancelled, uow: UnitOfWork, *, store: FactStoreFactory) -> None:
    """A Storno: subtracted from the revenue of its own month."""
    await _record(event, uow, store)


async def on_session_started(event: SessionStarted, uow: UnitOfWork, *, store: FactStoreFactory) -> None:
    """A session per technician (also while it runs)."""
    await _record(event, uow, store)


async def on_session_ended(event: SessionEnded, uow: UnitOfWork, *, store: FactStoreFactory) -> None:
    """The session's length."""
    await _record(event, uow, store)


async def on_session_not_billed(event: SessionNotBilled, uow: UnitOfWork, *, store: FactStoreFactory) -> None:
    """Unbilled minutes, and the trigger of an erasure."""
    await _record(event, uow, store)


async def on_customer_promoted(event: CustomerPromoted, uow: UnitOfWork, *, store: FactStoreFactory) -> None:
    """A promotion, per month and technician."""
    await _record(event, uow, store)


async def on_customer_account_created(event: CustomerAccountCreated, uow: UnitOfWork, *,
                                      store: FactStoreFactory) -> None:
    """A permanent customer account (by customer number; no personal data)."""
    await _record(event, uow, store)


async def on_support_request_withdrawn(event: SupportRequestWithdrawn, uow: UnitOfWork, *,
                                       store: FactStoreFactory) -> None:
    """The trigger of an erasure."""
    await _record(event, uow, store)


async def on_personal_data_erased(event: PersonalDataErased, uow: UnitOfWork, *,
                                  store: FactStoreFactory) -> None:
    """An erasure; its delay is measured against the trigger with ``trigger_event_id``."""
    await _record(event, uow, store)


def handlers(store: FactStoreFactory) -> dict[type[Event], Handler]:
    """``{event class: handler}`` for the one durable consumer ``reporting--events``."""
    table: dict[type[Event], Callable[..., Awaitable[None]]] = {
        InvoiceIssued: on_invoice_issued,
        InvoiceCancelled: on_invoice_cancelled,
        SessionStarted: on_session_started,
        SessionEnded: on_session_ended,
        SessionNotBilled: on_session_not_billed,
        CustomerPromoted: on_customer_promoted,
        CustomerAccountCreated: on_customer_account_created,
        SupportRequestWithdrawn: on_support_request_withdrawn,
        PersonalDataErased: on_personal_data_erased,
    }
    return {cls: partial(fn, store=store) for cls, fn in table.items()}
