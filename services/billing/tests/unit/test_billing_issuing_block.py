"""Issue 14, deliverable 2: a permanent failure while issuing is a recorded block, not a parked
message; and the renderers' last line of defence for old vault data (handlers against fakes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fw_billing.adapters import cii
from fw_billing.application.handlers import (
    on_billing_address_provided,
    on_personal_data_erased,
    on_session_ended,
)
from fw_billing.domain.invoicing import SessionStatus
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
    BlockReason,
    ErasureReason,
    InvoiceIssued,
    InvoiceKind,
    NotBilledReason,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
)
from fw_contracts.vault import Address, PersonalData, VaultEntry
from fw_platform.handling import PermanentError

STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
FULL_SECONDS = 10 * 900  # 285.60 EUR gross: a full invoice, with the EN 16931 XML (B2B)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def ended(seconds: int = FULL_SECONDS, *, session_id: uuid.UUID | None = None,
          request_id: uuid.UUID | None = None) -> SessionEnded:
    return SessionEnded(session_id=session_id or uuid.uuid4(), request_id=request_id or uuid.uuid4(),
                        technician="tech-07", started_at=STARTED,
                        ended_at=STARTED + timedelta(seconds=seconds), duration_seconds=seconds)


def store(world: Any, request_id: uuid.UUID, contact_name: str, *, address: bool = True) -> None:
    """What an older build of intake accepted (the vault's contract does not check for clean text)."""
    data = PersonalData(company="Muster GmbH", contact_name=contact_name, phone="+4930123456",
                        address=Address(street="Hauptstr. 1", postal_code="10115", city="Berlin") if address else None)
    world.vault.entries[request_id] = VaultEntry(request_id=request_id, data=data, stored_at=NOW)


async def handle(world: Any, event: Any) -> list[Any]:
    uow = world.uow()
    if isinstance(event, PersonalDataErased):
        await on_personal_data_erased([event], uow, deps=world.deps)
        return uow.emitted
    handler = {SessionEnded: on_session_ended, BillingAddressProvided: on_billing_address_provided}[type(event)]
    await handler(event, uow, deps=world.deps)
    return uow.emitted


@pytest.fixture
def as_before_the_hardening(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CII renderer without its last line of defence: lxml refuses what XML cannot hold."""
    monkeypatch.setattr(cii, "xml_text", lambda text: text)


async def test_the_issues_repro_blocks_billing_instead_of_parking(world: Any, as_before_the_hardening: None) -> None:
    event = ended()
    store(world, event.request_id, "A\u0000B")  # the issue's repro: NUL in the contact name
    (out,) = await handle(world, event)  # no exception: the consumer acks, nothing is parked
    assert isinstance(out, BillingBlocked)
    assert (out.session_id, out.request_id, out.reason, out.missing) == (
        event.session_id, event.request_id, BlockReason.DOCUMENT_RENDER_FAILED, ())
    assert (out.causation_id, out.correlation_id) == (event.event_id, event.correlation_id)
    assert "A\u0000B" not in out.to_json().decode() and "A\\u0000B" not in out.to_json().decode()
    record = world.repo.sessions[event.session_id]
    assert (record.status, record.block_reason) == (SessionStatus.BLOCKED, BlockReason.DOCUMENT_RENDER_FAILED)
    # the number drawn for the failed document rolled back with it: no gap, nothing archived
    assert world.repo.counters == {} and world.repo.invoices == {} and world.repo.archived == {}
    # a redelivery of the same end says nothing new
    assert await handle(world, ended(session_id=event.session_id, request_id=event.request_id)) == []
    # the next invoice gets number 1
    (small,) = await handle(world, ended(900))
    assert isinstance(small, InvoiceIssued) and small.invoice_number == "FW-2026-000001"
    # retention's billing hold ends: the request is erased and billing records the lost claim
    world.vault.erased.add(event.request_id)
    gone = PersonalDataErased(request_id=event.request_id, reason=ErasureReason.ABANDONED, erased_at=NOW)
    (lost,) = await handle(world, gone)
    assert isinstance(lost, SessionNotBilled) and lost.reason is NotBilledReason.RECIPIENT_DATA_ERASED
    assert world.repo.sessions[event.session_id].status is SessionStatus.NOT_BILLED


async def test_with_the_hardening_the_repro_is_invoiced(world: Any) -> None:
    event = ended()
    store(world, event.request_id, "A\u0000B\u001b\ufffe")
    (out,) = await handle(world, event)
    assert isinstance(out, InvoiceIssued) and out.kind is InvoiceKind.FULL
    (_, _, rendered) = world.repo.archived[out.invoice_number]
    assert rendered.xml is not None and b"<ram:PersonName>A?B??</ram:PersonName>" in rendered.xml
    assert rendered.pdf.startswith(b"%PDF")


async def test_an_address_block_then_a_render_failure_is_announced_again(world: Any,
                                                                          as_before_the_hardening: None) -> None:
    event = ended()
    store(world, event.request_id, "A\u0000B", address=False)
    (first,) = await handle(world, event)
    assert (first.reason, first.missing) == (BlockReason.BILLING_ADDRESS_MISSING, ("billing_address",))
    store(world, event.request_id, "A\u0000B", address=True)  # the technician gave the address
    provided = BillingAddressProvided(session_id=event.session_id, request_id=event.request_id)
    (second,) = await handle(world, provided)
    assert isinstance(second, BillingBlocked) and second.reason is BlockReason.DOCUMENT_RENDER_FAILED
    assert world.repo.sessions[event.session_id].block_reason is BlockReason.DOCUMENT_RENDER_FAILED
    assert world.repo.counters == {}


async def test_any_permanent_error_while_issuing_blocks_with_issuing_failed(world: Any) -> None:
    event = ended()
    world.vault.store(event.request_id)

    async def refuse(*_: Any, **__: Any) -> None:
        raise PermanentError("archive refused")

    world.repo.archive = refuse
    (out,) = await handle(world, event)
    assert isinstance(out, BillingBlocked) and (out.reason, out.missing) == (BlockReason.ISSUING_FAILED, ())
    assert world.repo.counters == {} and world.repo.invoices == {}
    assert world.repo.sessions[event.session_id].status is SessionStatus.BLOCKED


async def test_a_transient_error_while_rendering_is_retried_not_blocked(world: Any) -> None:
    event = ended()
    world.vault.store(event.request_id)

    class Away:
        def render(self, document: Any) -> Any:
            # an availability error (fw_platform.handling.TRANSIENT); a plain OSError is not one
            raise ConnectionResetError("document service briefly away")

    object.__setattr__(world.deps, "renderer", Away())
    with pytest.raises(ConnectionResetError):
        await handle(world, event)
    assert world.repo.counters == {} and world.repo.sessions[event.session_id].status is SessionStatus.PENDING
