"""The whole history of billing's session consumer delivered again changes nothing.

This is what a renamed durable (``billing--session_ended`` → ``billing--session_billing``)
would do without migration 022 carrying the idempotency record over: read the stream from its
start. The handlers must not issue, number, archive, queue or announce anything a second time.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fw_billing.application.handlers import (
    on_billing_address_provided,
    on_session_ended,
    on_support_request_created,
)
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
    CustomerType,
    InvoiceIssued,
    SessionEnded,
    SessionNotBilled,
    SupportRequestCreated,
    TermsAcceptance,
)

STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
HANDLERS: dict[type, Any] = {SupportRequestCreated: lambda e, uow, deps: on_support_request_created([e], uow, deps=deps),
                             SessionEnded: on_session_ended,
                             BillingAddressProvided: on_billing_address_provided}


def created(request_id: uuid.UUID, *, email: bool) -> SupportRequestCreated:
    return SupportRequestCreated(
        request_id=request_id, ticket="K7MQ-3XA", customer_type=CustomerType.BUSINESS, has_email=email,
        has_billing_address=False,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="d" * 64, accepted_at=STARTED))


def ended(request_id: uuid.UUID, seconds: int) -> SessionEnded:
    return SessionEnded(session_id=uuid.uuid4(), request_id=request_id, technician="tech-07", started_at=STARTED,
                        ended_at=STARTED + timedelta(seconds=seconds), duration_seconds=seconds, promoted=False)


async def deliver(world: Any, history: list[Any]) -> list[Any]:
    emitted: list[Any] = []
    for event in history:
        uow = world.uow()
        await HANDLERS[type(event)](event, uow, deps=world.deps)
        emitted += uow.emitted
    return emitted


def snapshot(repo: Any) -> dict[str, Any]:
    return {name: copy.deepcopy(value) for name, value in vars(repo).items()}


async def test_the_history_delivered_again_applies_nothing(world: Any) -> None:
    small, free, waiting, provided = (uuid.uuid4() for _ in range(4))
    world.vault.store(waiting, address=False)
    world.vault.store(provided, address=False)
    blocked_end = ended(provided, 10 * 900)
    history: list[Any] = [
        created(small, email=True), ended(small, 1800),
        created(free, email=False), ended(free, 60),
        created(waiting, email=False), ended(waiting, 10 * 900),
        created(provided, email=True), blocked_end,
    ]
    first = await deliver(world, history)
    world.vault.store(provided)  # the technician enters the address
    address = BillingAddressProvided(session_id=blocked_end.session_id, request_id=provided)
    history.append(address)
    first += await deliver(world, [address])
    assert [type(e) for e in first] == [InvoiceIssued, SessionNotBilled, BillingBlocked, BillingBlocked,
                                        InvoiceIssued]
    before = snapshot(world.repo)

    again = await deliver(world, history)

    assert again == []
    assert snapshot(world.repo) == before  # no number drawn, no invoice, archive copy or delivery twice
