"""Use cases and event handlers against in-memory fakes."""

from __future__ import annotations

import uuid
from functools import partial

import pytest

from fw_contracts import utcnow
from fw_contracts.events import (
    CustomerType,
    ErasureReason,
    PersonalDataErased,
    SessionStarted,
    SupportRequestCreated,
    SupportRequestWithdrawn,
)
from fw_contracts.vault import Address, PersonalData
from fw_intake.application.commands import (
    CreateSupportRequest,
    RequestNotFound,
    TicketSpaceExhausted,
    create_support_request,
    get_support_request,
    withdraw_support_request,
)
from fw_intake.application.events import on_personal_data_erased, on_session_started
from fw_intake.domain.request import RequestStatus, WithdrawRefused
from fw_intake.domain.terms import TermsDocument
from fw_platform.handling import PermanentError, UnitOfWork
from fw_platform.vault_client import VaultUnavailable

TERMS = TermsDocument.from_bytes("2026-01", b"Bedingungen")


def _cmd(**changes: object) -> CreateSupportRequest:
    data = PersonalData(company="Muster GmbH", contact_name="Erika Muster", phone="+491701234567",
                        email="erika@example.org",
                        address=Address(street="Hauptstr. 1", postal_code="10115", city="Berlin"))
    fields: dict[str, object] = {"personal_data": data, "customer_type": CustomerType.BUSINESS,
                                 "terms": TERMS, "withdrawal_waiver": False}
    fields.update(changes)
    return CreateSupportRequest(**fields)  # type: ignore[arg-type]


async def _create(store, vault, cmd=None, new_ticket=None):  # type: ignore[no-untyped-def]
    kwargs = {"new_ticket": new_ticket} if new_ticket else {}
    return await create_support_request(cmd or _cmd(), vault=vault, unit_of_work=store.unit_of_work,
                                        requests=store.repo, **kwargs)


async def test_create_stores_in_vault_then_records_and_emits(store, vault) -> None:  # type: ignore[no-untyped-def]
    created = await _create(store, vault)
    assert vault.stored[created.request_id].company == "Muster GmbH"
    row = store.rows[created.request_id]
    assert row.ticket == created.ticket and row.status is RequestStatus.OPEN
    [event] = store.published
    assert isinstance(event, SupportRequestCreated)
    assert event.request_id == created.request_id and event.ticket == created.ticket
    assert event.has_billing_address and event.has_email
    assert "Muster" not in event.model_dump_json() and "+49" not in event.model_dump_json()


async def test_create_without_optional_data(store, vault) -> None:  # type: ignore[no-untyped-def]
    data = PersonalData(company="A", contact_name="B", phone="+4930123456")
    await _create(store, vault, _cmd(personal_data=data))
    [event] = store.published
    assert not event.has_billing_address and not event.has_email


async def test_vault_unavailable_stores_and_publishes_nothing(store, vault) -> None:  # type: ignore[no-untyped-def]
    vault.available = False
    with pytest.raises(VaultUnavailable):
        await _create(store, vault)
    assert store.rows == {} and store.published == [] and store.transactions == 0


async def test_ticket_collision_draws_again(store, vault, tickets) -> None:  # type: ignore[no-untyped-def]
    first = await _create(store, vault, new_ticket=tickets("AAAA-AAA"))
    second = await _create(store, vault, new_ticket=tickets("AAAA-AAA", "AAAA-AAA", "BBBB-BBB"))
    assert (first.ticket, second.ticket) == ("AAAA-AAA", "BBBB-BBB")
    assert len(store.published) == 2


async def test_ticket_space_exhausted_rolls_back(store, vault) -> None:  # type: ignore[no-untyped-def]
    await _create(store, vault, new_ticket=lambda: "AAAA-AAA")
    with pytest.raises(TicketSpaceExhausted):
        await _create(store, vault, new_ticket=lambda: "AAAA-AAA")
    assert len(store.rows) == 1 and len(store.published) == 1


async def test_withdraw(store, vault) -> None:  # type: ignore[no-untyped-def]
    created = await _create(store, vault)
    state = await withdraw_support_request(created.request_id, unit_of_work=store.unit_of_work,
                                           requests=store.repo, vault=vault)
    assert state.status is RequestStatus.WITHDRAWN
    assert isinstance(store.published[-1], SupportRequestWithdrawn)
    with pytest.raises(WithdrawRefused) as info:
        await withdraw_support_request(created.request_id, unit_of_work=store.unit_of_work,
                                       requests=store.repo, vault=vault)
    assert info.value.code == "already_withdrawn"
    assert len(store.published) == 2
    with pytest.raises(RequestNotFound):
        await withdraw_support_request(uuid.uuid4(), unit_of_work=store.unit_of_work, requests=store.repo,
                                       vault=vault)
    with pytest.raises(RequestNotFound):
        await get_support_request(uuid.uuid4(), unit_of_work=store.unit_of_work, requests=store.repo)


async def test_session_started_then_no_withdrawal(store, vault) -> None:  # type: ignore[no-untyped-def]
    created = await _create(store, vault)
    event = SessionStarted(session_id=uuid.uuid4(), request_id=created.request_id, technician="tech-01",
                           started_at=utcnow())
    handler = partial(on_session_started, requests=store.repo)
    await handler([event], UnitOfWork(conn=None, now=utcnow()))  # type: ignore[arg-type]
    await handler([event], UnitOfWork(conn=None, now=utcnow()))  # type: ignore[arg-type]  # redelivery
    assert store.rows[created.request_id].status is RequestStatus.IN_SESSION
    with pytest.raises(WithdrawRefused) as info:
        await withdraw_support_request(created.request_id, unit_of_work=store.unit_of_work,
                                       requests=store.repo, vault=vault)
    assert info.value.code == "session_started"


async def test_a_session_start_that_won_at_the_vault_refuses_the_withdrawal(store, vault) -> None:  # type: ignore[no-untyped-def]
    # intake has not seen SessionStarted yet; the vault has the start's claim
    created = await _create(store, vault)
    vault.claims[created.request_id] = "session_started"
    published = len(store.published)
    with pytest.raises(WithdrawRefused) as info:
        await withdraw_support_request(created.request_id, unit_of_work=store.unit_of_work,
                                       requests=store.repo, vault=vault)
    assert info.value.code == "session_started"
    assert store.rows[created.request_id].status is RequestStatus.OPEN and len(store.published) == published


async def test_withdrawal_without_the_vault_records_nothing(store, vault) -> None:  # type: ignore[no-untyped-def]
    created = await _create(store, vault)
    vault.available = False
    published = len(store.published)
    with pytest.raises(VaultUnavailable):
        await withdraw_support_request(created.request_id, unit_of_work=store.unit_of_work,
                                       requests=store.repo, vault=vault)
    assert store.rows[created.request_id].status is RequestStatus.OPEN and len(store.published) == published


async def test_session_for_unknown_request_is_parked(store) -> None:  # type: ignore[no-untyped-def]
    event = SessionStarted(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-01",
                           started_at=utcnow())
    with pytest.raises(PermanentError):
        await on_session_started([event], UnitOfWork(conn=None, now=utcnow()),  # type: ignore[arg-type]
                                 requests=store.repo)


async def test_erasure_sets_erased_and_ignores_unknown(store, vault) -> None:  # type: ignore[no-untyped-def]
    created = await _create(store, vault)
    uow = UnitOfWork(conn=None, now=utcnow())  # type: ignore[arg-type]
    erased = PersonalDataErased(request_id=created.request_id, reason=ErasureReason.WITHDRAWN,
                                erased_at=utcnow())
    await on_personal_data_erased([erased], uow, requests=store.repo)
    assert store.rows[created.request_id].status is RequestStatus.ERASED
    unknown = PersonalDataErased(request_id=uuid.uuid4(), reason=ErasureReason.ABANDONED, erased_at=utcnow())
    await on_personal_data_erased([unknown], uow, requests=store.repo)
    assert uow.emitted == []


async def test_a_run_of_events_is_decided_in_stream_order_and_written_once(store, vault) -> None:  # type: ignore[no-untyped-def]
    # the consumer hands over consecutive events of a type together: several requests, one of
    # them twice (a redelivery within the run), one unknown erasure
    first, second = await _create(store, vault), await _create(store, vault)
    at = utcnow()
    started = [SessionStarted(session_id=uuid.uuid4(), request_id=r.request_id, technician="tech-01",
                              started_at=at) for r in (first, second, first)]
    writes = store.writes
    await on_session_started(started, UnitOfWork(conn=None, now=at), requests=store.repo)  # type: ignore[arg-type]
    assert store.rows[first.request_id].status is RequestStatus.IN_SESSION
    assert store.rows[second.request_id].status is RequestStatus.IN_SESSION
    assert store.writes == writes + 1  # one statement for the whole run
    erased = [PersonalDataErased(request_id=r, reason=ErasureReason.ABANDONED, erased_at=at)
              for r in (second.request_id, uuid.uuid4())]
    await on_personal_data_erased(erased, UnitOfWork(conn=None, now=at), requests=store.repo)  # type: ignore[arg-type]
    assert store.rows[second.request_id].status is RequestStatus.ERASED
    assert store.rows[first.request_id].status is RequestStatus.IN_SESSION


async def test_a_run_with_a_session_for_an_unknown_request_fails_whole(store, vault) -> None:  # type: ignore[no-untyped-def]
    # the consumer then rolls the run back and hands each event alone, parking only that one
    known = await _create(store, vault)
    run = [SessionStarted(session_id=uuid.uuid4(), request_id=r, technician="tech-01", started_at=utcnow())
           for r in (known.request_id, uuid.uuid4())]
    with pytest.raises(PermanentError):
        await on_session_started(run, UnitOfWork(conn=None, now=utcnow()), requests=store.repo)  # type: ignore[arg-type]
