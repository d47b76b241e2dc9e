"""Handlers against fakes: what is stored and emitted for each kind of ended session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fw_billing.application.handlers import (
    PromotionStatementMissing,
    on_billing_address_provided,
    on_customer_promoted,
    on_personal_data_erased,
    on_session_ended,
)
from fw_billing.application.ports import RecipientDataErased
from fw_billing.domain.invoicing import SessionStatus
from fw_contracts.events import (
    BillingAddressProvided,
    BillingBlocked,
    CustomerAccountCreated,
    CustomerPromoted,
    ErasureReason,
    InvoiceIssued,
    InvoiceKind,
    NotBilledReason,
    PersonalDataErased,
    SessionEnded,
    SessionNotBilled,
)
from fw_platform.handling import PermanentError, TransientError

STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin


def ended(seconds: int, *, promoted: bool = False, session_id: uuid.UUID | None = None,
          request_id: uuid.UUID | None = None) -> SessionEnded:
    return SessionEnded(session_id=session_id or uuid.uuid4(), request_id=request_id or uuid.uuid4(),
                        technician="tech-07", started_at=STARTED,
                        ended_at=STARTED + timedelta(seconds=seconds), duration_seconds=seconds,
                        promoted=promoted)


def promoted(event: SessionEnded) -> CustomerPromoted:
    return CustomerPromoted(session_id=event.session_id, request_id=event.request_id,
                            technician="tech-07", statement_sha256="a" * 64, stated_at=STARTED)


FULL_SECONDS = 10 * 900  # 10 intervals * 24.00 = 240.00 net, 285.60 gross > 250


async def handle(world: Any, event: SessionEnded) -> list[Any]:
    uow = world.uow()
    await on_session_ended(event, uow, deps=world.deps)
    return uow.emitted


async def test_short_session_is_not_billed(world: Any) -> None:
    event = ended(119)
    (out,) = await handle(world, event)
    assert isinstance(out, SessionNotBilled)
    assert (out.reason.value, out.raw_seconds, out.tariff_version) == ("free_threshold", 119, "test-1")
    assert (out.causation_id, out.correlation_id) == (event.event_id, event.correlation_id)
    assert world.repo.sessions[event.session_id].status is SessionStatus.NOT_BILLED
    assert world.repo.invoices == {} and world.repo.counters == {}
    assert world.vault.calls == []


async def test_small_invoice_has_no_recipient_and_never_asks_the_vault(world: Any) -> None:
    event = ended(1801)
    (out,) = await handle(world, event)
    assert isinstance(out, InvoiceIssued)
    assert out.invoice_number == "FW-2026-000001"
    assert out.kind is InvoiceKind.SMALL
    assert (out.raw_seconds, out.billed_seconds, out.tariff_version) == (1801, 2700, "test-1")
    assert (out.net_total, out.vat_total, out.gross_total) == (Decimal("72.00"), Decimal("13.68"), Decimal("85.68"))
    assert out.service_date == event.ended_at and out.customer_number is None
    invoice = world.repo.invoices[out.invoice_number]
    assert invoice.recipient is None and invoice.event_id == out.event_id
    assert world.vault.calls == []
    assert world.repo.sessions[event.session_id].status is SessionStatus.INVOICED


async def test_full_invoice_snapshots_the_recipient(world: Any) -> None:
    event = ended(FULL_SECONDS)
    world.vault.store(event.request_id)
    (out,) = await handle(world, event)
    assert isinstance(out, InvoiceIssued) and out.kind is InvoiceKind.FULL
    assert out.gross_total == Decimal("285.60")
    recipient = world.repo.invoices[out.invoice_number].recipient
    assert recipient.company == "Muster GmbH" and recipient.address["city"] == "Berlin"
    assert world.vault.calls == [(event.request_id, "billing")]
    # the event itself carries no personal data
    assert "Muster" not in out.model_dump_json() and "Berlin" not in out.model_dump_json()


async def test_full_invoice_without_address_is_blocked_and_consumes_no_number(world: Any) -> None:
    event = ended(FULL_SECONDS)
    world.vault.store(event.request_id, address=False)
    (out,) = await handle(world, event)
    assert isinstance(out, BillingBlocked) and out.missing == ("billing_address",)
    assert world.repo.sessions[event.session_id].status is SessionStatus.BLOCKED
    assert world.repo.counters == {} and world.repo.invoices == {}
    # a repeat while still blocked says nothing new
    assert await handle(world, ended(FULL_SECONDS, session_id=event.session_id,
                                     request_id=event.request_id)) == []
    # the next invoice still gets number 1
    (small,) = await handle(world, ended(900))
    assert small.invoice_number == "FW-2026-000001"


async def test_blocked_session_is_invoiced_once_the_address_is_there(world: Any) -> None:
    event = ended(FULL_SECONDS)
    world.vault.store(event.request_id, address=False)
    await handle(world, event)
    world.vault.store(event.request_id, address=True)
    (out,) = await handle(world, ended(FULL_SECONDS, session_id=event.session_id, request_id=event.request_id))
    assert isinstance(out, InvoiceIssued) and out.kind is InvoiceKind.FULL


async def test_second_event_for_the_same_session_changes_nothing(world: Any) -> None:
    first = ended(1801)
    await handle(world, first)
    again = ended(5000, session_id=first.session_id, request_id=first.request_id)
    assert await handle(world, again) == []
    assert len(world.repo.invoices) == 1 and world.repo.counters == {2026: 1}


async def test_first_seen_tariff_version_is_kept(world: Any) -> None:
    event = ended(FULL_SECONDS)
    world.vault.store(event.request_id, address=False)
    await handle(world, event)  # blocked under test-1
    world.deps.tariffs._current = "test-2"  # a newer tariff is deployed meanwhile
    world.vault.store(event.request_id)
    (out,) = await handle(world, ended(FULL_SECONDS, session_id=event.session_id, request_id=event.request_id))
    assert out.tariff_version == "test-1" and out.net_total == Decimal("240.00")


async def test_numbers_are_consecutive_and_restart_each_year(world: Any) -> None:
    numbers = [(await handle(world, ended(900)))[0].invoice_number for _ in range(3)]
    assert numbers == ["FW-2026-000001", "FW-2026-000002", "FW-2026-000003"]
    uow = world.uow(now=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))  # 2027 in Berlin
    await on_session_ended(ended(900), uow, deps=world.deps)
    assert uow.emitted[0].invoice_number == "FW-2027-000001"


async def test_vault_away_is_transient(world: Any) -> None:
    event = ended(FULL_SECONDS)
    world.vault.down = True
    with pytest.raises(TransientError):
        await handle(world, event)


async def test_vault_refusal_is_permanent(world: Any) -> None:
    event = ended(FULL_SECONDS)  # the vault never heard of the request (not_found)
    with pytest.raises(PermanentError) as refused:
        await handle(world, event)
    assert not isinstance(refused.value, RecipientDataErased)


# ------------------------------------------------------------------ lost claims (data erased)
def erased(request_id: uuid.UUID, reason: ErasureReason = ErasureReason.ABANDONED) -> PersonalDataErased:
    return PersonalDataErased(request_id=request_id, reason=reason, erased_at=STARTED + timedelta(days=90))


async def on_erased(world: Any, event: PersonalDataErased) -> list[Any]:
    uow = world.uow()
    await on_personal_data_erased([event], uow, deps=world.deps)
    return uow.emitted


async def address_provided(world: Any, session: SessionEnded) -> list[Any]:
    uow = world.uow()
    await on_billing_address_provided(BillingAddressProvided(session_id=session.session_id,
                                                             request_id=session.request_id), uow, deps=world.deps)
    return uow.emitted


async def test_erasure_of_a_blocked_request_closes_the_session_as_a_lost_claim(world: Any) -> None:
    event = ended(FULL_SECONDS)
    world.vault.store(event.request_id, address=False)
    (blocked,) = await handle(world, event)
    assert isinstance(blocked, BillingBlocked)
    world.vault.erased.add(event.request_id)  # retention's billing hold ended
    gone = erased(event.request_id)
    (out,) = await on_erased(world, gone)
    assert isinstance(out, SessionNotBilled) and out.reason is NotBilledReason.RECIPIENT_DATA_ERASED
    assert (out.session_id, out.request_id, out.raw_seconds, out.tariff_version) == (
        event.session_id, event.request_id, FULL_SECONDS, "test-1")
    assert (out.causation_id, out.correlation_id) == (gone.event_id, gone.correlation_id)
    assert world.repo.sessions[event.session_id].status is SessionStatus.NOT_BILLED
    assert world.repo.invoices == {} and world.repo.counters == {}  # no number consumed
    # a redelivered erasure finds nothing blocked any more
    assert await on_erased(world, gone) == []
    # the technician's address comes too late: ignored (logged), not an error, so never parked
    calls = len(world.vault.calls)
    assert await address_provided(world, event) == []
    assert len(world.vault.calls) == calls and world.repo.invoices == {}


async def test_erasure_leaves_invoiced_and_unknown_sessions_alone(world: Any) -> None:
    event = ended(1801)
    (issued,) = await handle(world, event)
    assert isinstance(issued, InvoiceIssued)
    assert await on_erased(world, erased(event.request_id, ErasureReason.INVOICE_ISSUED)) == []
    assert world.repo.sessions[event.session_id].status is SessionStatus.INVOICED
    assert await on_erased(world, erased(uuid.uuid4())) == []


async def test_a_run_of_erasures_closes_each_blocked_session_once_by_its_first_erasure(world: Any) -> None:
    blocked_events = [ended(FULL_SECONDS) for _ in range(2)]
    for event in blocked_events:
        world.vault.store(event.request_id, address=False)
        (out,) = await handle(world, event)
        assert isinstance(out, BillingBlocked)
        world.vault.erased.add(event.request_id)
    first, other = (erased(e.request_id) for e in blocked_events)
    again = erased(blocked_events[0].request_id)  # a second erasure of the same request in the run
    lookups: list[Any] = []
    real = world.repo.blocked_sessions_for

    async def counted(request_ids: Any) -> Any:
        lookups.append(list(request_ids))
        return await real(request_ids)

    world.repo.blocked_sessions_for = counted
    uow = world.uow()
    await on_personal_data_erased([erased(uuid.uuid4()), first, again, other], uow, deps=world.deps)
    assert len(lookups) == 1 and len(lookups[0]) == 3  # one look-up for the run's three requests
    closed = uow.emitted
    assert [(e.session_id, e.causation_id) for e in closed] == [
        (blocked_events[0].session_id, first.event_id), (blocked_events[1].session_id, other.event_id)]
    assert all(isinstance(e, SessionNotBilled) for e in closed)


async def test_address_provided_after_the_data_were_erased_closes_the_claim(world: Any) -> None:
    """The address came just as the hold ended: the vault says erased when billing reads it."""
    event = ended(FULL_SECONDS)
    world.vault.store(event.request_id, address=False)
    await handle(world, event)
    world.vault.erased.add(event.request_id)
    (out,) = await address_provided(world, event)
    assert isinstance(out, SessionNotBilled) and out.reason is NotBilledReason.RECIPIENT_DATA_ERASED
    assert world.repo.sessions[event.session_id].status is SessionStatus.NOT_BILLED
    # the erasure event arriving afterwards changes nothing
    assert await on_erased(world, erased(event.request_id)) == []


async def test_a_full_invoice_for_erased_data_is_a_lost_claim_not_a_poison_message(world: Any) -> None:
    event = ended(FULL_SECONDS)
    world.vault.erased.add(event.request_id)  # e.g. withdrawn while the session ran
    (out,) = await handle(world, event)
    assert isinstance(out, SessionNotBilled) and out.reason is NotBilledReason.RECIPIENT_DATA_ERASED
    assert world.repo.sessions[event.session_id].status is SessionStatus.NOT_BILLED


# ------------------------------------------------------------------ customer accounts
async def test_promoted_session_creates_the_account_before_invoicing(world: Any) -> None:
    event = ended(1801, promoted=True)
    world.vault.store(event.request_id, statement=True)
    created, issued = await handle(world, event)
    assert isinstance(created, CustomerAccountCreated) and isinstance(issued, InvoiceIssued)
    assert created.customer_number == "K00001" == issued.customer_number
    assert created.session_id == event.session_id
    account = world.repo.customers["K00001"]
    assert account.statement.startswith("Ja") and account.technician == "tech-07"
    assert account.address == {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin",
                               "country": "DE"}
    assert world.vault.calls == [(event.request_id, "customer_account")]

    # CustomerPromoted arrives after the invoice (the vault may be erased by now): no-op
    world.vault.erased.add(event.request_id)
    uow = world.uow()
    await on_customer_promoted(promoted(event), uow, deps=world.deps)
    assert uow.emitted == [] and len(world.repo.customers) == 1


async def test_promoted_short_session_still_gets_its_account(world: Any) -> None:
    event = ended(30, promoted=True)
    world.vault.store(event.request_id, statement=True)
    created, not_billed = await handle(world, event)
    assert isinstance(created, CustomerAccountCreated) and isinstance(not_billed, SessionNotBilled)


async def test_customer_promoted_creates_the_account_once(world: Any) -> None:
    event = ended(1801)
    world.vault.store(event.request_id, statement=True)
    for _ in range(2):
        uow = world.uow()
        await on_customer_promoted(promoted(event), uow, deps=world.deps)
    assert len(world.repo.customers) == 1
    # the invoice of a later-ended session of that request names the account
    (issued,) = await handle(world, event)
    assert issued.customer_number == "K00001"


async def test_customer_promoted_after_erasure_is_parked(world: Any) -> None:
    event = ended(1801)
    world.vault.erased.add(event.request_id)
    with pytest.raises(PermanentError):
        await on_customer_promoted(promoted(event), world.uow(), deps=world.deps)


async def test_missing_statement_is_retried(world: Any) -> None:
    event = ended(1801)
    world.vault.store(event.request_id, statement=False)
    with pytest.raises(PromotionStatementMissing):
        await on_customer_promoted(promoted(event), world.uow(), deps=world.deps)
    assert not issubclass(PromotionStatementMissing, (TransientError, PermanentError))
