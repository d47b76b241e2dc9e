"""Use cases and consumer handlers against in-memory fakes of the stores and the vault."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest

from fw_contracts.events import (
    CustomerPromoted,
    ErasureReason,
    PersonalDataErased,
    SessionEnded,
    SessionStarted,
    SessionTakenOver,
    SupportRequestWithdrawn,
)
from fw_contracts.vault import VaultError
from fw_platform.vault_client import VaultUnavailable
from fw_session.application.ports import VaultRejected
from fw_session.application.queue_events import QueueEventHandlers
from fw_session.domain.errors import (
    AlreadyPromoted,
    NotYourSession,
    RequestAlreadyStarted,
    RequestErased,
    RequestWithdrawn,
    SessionAlreadyEnded,
    UnknownRequest,
    UnknownSession,
)
from fw_session.domain.requests import RequestStatus


async def test_start_promote_end_emits_three_events_with_exact_duration(world) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    started = await world.service.start(rid, "tech-07")
    world.clock.advance(600)
    await world.service.record_promotion(started.session_id, "  Ja, ich möchte Stammkunde werden.  ", "tech-07")
    world.clock.advance(125)
    ended = await world.service.end(started.session_id, "tech-07")

    s, p, e = world.uow.published
    assert isinstance(s, SessionStarted) and isinstance(p, CustomerPromoted) and isinstance(e, SessionEnded)
    assert s.started_at == world.clock.at.replace(microsecond=0) - timedelta(seconds=725)
    assert e.duration_seconds == 725 == ended.duration_seconds and e.promoted
    said = world.vault.statements[rid]
    assert said.text == "Ja, ich möchte Stammkunde werden." and said.technician == "tech-07"
    assert p.statement_sha256 == hashlib.sha256(said.text.encode()).hexdigest()
    assert p.stated_at == said.stated_at
    assert world.stores.requests.rows[rid].status is RequestStatus.STARTED
    assert await world.service.get(started.session_id, "tech-07") == ended


async def test_wrong_orders_emit_nothing(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownRequest):
        await world.service.start(uuid.uuid4(), "tech-07")
    with pytest.raises(UnknownSession):
        await world.service.end(uuid.uuid4(), "tech-07")
    with pytest.raises(UnknownSession):
        await world.service.record_promotion(uuid.uuid4(), "ja", "tech-07")
    with pytest.raises(UnknownSession):
        await world.service.get(uuid.uuid4(), "tech-07")
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    emitted = len(world.uow.published)
    with pytest.raises(RequestAlreadyStarted):
        await world.service.start(rid, "tech-08")
    await world.service.record_promotion(session.session_id, "ja", "tech-07")
    with pytest.raises(AlreadyPromoted):
        await world.service.record_promotion(session.session_id, "nochmal", "tech-07")
    await world.service.end(session.session_id, "tech-07")
    with pytest.raises(SessionAlreadyEnded):
        await world.service.end(session.session_id, "tech-07")
    with pytest.raises(SessionAlreadyEnded):
        await world.service.record_promotion(session.session_id, "ja", "tech-07")
    assert len(world.uow.published) == emitted + 2
    assert world.vault.statements[rid].text == "ja"


async def test_another_technician_can_neither_read_nor_change_a_session(world) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    emitted = len(world.uow.published)
    with pytest.raises(NotYourSession):
        await world.service.get(session.session_id, "tech-08")
    with pytest.raises(NotYourSession):
        await world.service.record_promotion(session.session_id, "ja", "tech-08")
    with pytest.raises(NotYourSession):
        await world.service.end(session.session_id, "tech-08")
    assert len(world.uow.published) == emitted and rid not in world.vault.statements
    assert (await world.service.get(session.session_id, "tech-07")).status.value == "running"


async def test_takeover_moves_the_session_and_statements_record_the_acting_technician(world) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    world.clock.advance(60)
    taken = await world.service.take_over(session.session_id, "tech-08")
    assert taken.technician == "tech-08"
    event = world.uow.published[-1]
    assert isinstance(event, SessionTakenOver)
    assert (event.from_technician, event.to_technician, event.taken_over_by) == ("tech-07", "tech-08", "tech-08")
    with pytest.raises(NotYourSession):
        await world.service.end(session.session_id, "tech-07")
    await world.service.record_promotion(session.session_id, "Ja, gerne.", "tech-08")
    promoted = world.uow.published[-1]
    assert isinstance(promoted, CustomerPromoted) and promoted.technician == "tech-08"
    assert world.vault.statements[rid].technician == "tech-08"
    ended = await world.service.end(session.session_id, "tech-08")
    assert ended.technician == "tech-08" and world.uow.published[-1].technician == "tech-08"
    assert [s.session_id for s in await world.service.of_technician("tech-08", ended.status, 10)] == [session.session_id]
    assert await world.service.of_technician("tech-07", ended.status, 10) == []


async def test_a_withdrawal_that_won_at_the_vault_refuses_the_start(world) -> None:  # type: ignore[no-untyped-def]
    # the queue has not seen the withdrawal yet; the vault has its claim
    rid = await world.waiting_request()
    world.vault.claims[rid] = "withdrawn"
    with pytest.raises(RequestWithdrawn):
        await world.service.start(rid, "tech-07")
    assert world.uow.published == [] and world.stores.requests.rows[rid].status is RequestStatus.WAITING
    assert world.stores.sessions.events == {}
    # without the vault no start is decided
    other = await world.waiting_request()
    world.vault.available = False
    with pytest.raises(VaultUnavailable):
        await world.service.start(other, "tech-07")
    assert world.uow.published == [] and other not in world.vault.claims


async def test_promotion_without_vault_emits_nothing(world) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    world.vault.available = False
    with pytest.raises(VaultUnavailable):
        await world.service.record_promotion(session.session_id, "ja", "tech-07")
    world.vault.refuse_statement, world.vault.available = VaultError.ERASED, True
    with pytest.raises(VaultRejected):
        await world.service.record_promotion(session.session_id, "ja", "tech-07")
    assert [type(e) for e in world.uow.published] == [SessionStarted]
    assert not (await world.service.get(session.session_id, "tech-07")).promoted


async def test_queue_oldest_first_with_vault_data_and_waiting_time(world) -> None:  # type: ignore[no-untyped-def]
    t0 = world.clock.at
    newer = await world.waiting_request(at=t0 + timedelta(seconds=30), company="Neu AG")
    older = await world.waiting_request(at=t0, company="Alt GmbH")
    gone = await world.waiting_request(at=t0 + timedelta(seconds=60))
    del world.vault.data[gone]  # the vault reports it erased/unknown: left out
    world.clock.advance(100)
    items = await world.service.queue()
    assert [i.entry.request_id for i in items] == [older, newer]
    assert [i.data.company for i in items] == ["Alt GmbH", "Neu AG"]
    assert [i.waiting_seconds for i in items] == [100, 70]


async def test_queue_without_vault_is_unavailable(world) -> None:  # type: ignore[no-untyped-def]
    await world.waiting_request()
    world.vault.available = False
    with pytest.raises(VaultUnavailable):
        await world.service.queue()


async def test_redelivered_creation_keeps_one_entry(world) -> None:  # type: ignore[no-untyped-def]
    event = world.created()
    assert await world.deliver(event) == []
    await world.deliver(event)
    assert list(world.stores.requests.rows) == [event.request_id]
    assert world.stores.requests.rows[event.request_id].status is RequestStatus.WAITING


async def test_withdrawal_before_creation_and_erasure_block_start(world) -> None:  # type: ignore[no-untyped-def]
    withdrawn = world.created()
    await world.deliver(SupportRequestWithdrawn(request_id=withdrawn.request_id))
    await world.deliver(withdrawn)
    with pytest.raises(RequestWithdrawn):
        await world.service.start(withdrawn.request_id, "tech-07")

    rid = await world.waiting_request()
    await world.deliver(PersonalDataErased(request_id=rid, reason=ErasureReason.ABANDONED,
                                           erased_at=world.clock.at))
    assert await world.service.queue() == []
    with pytest.raises(RequestErased):
        await world.service.start(rid, "tech-07")
    assert world.uow.published == []


async def test_an_end_that_keeps_meeting_concurrent_changes_gives_up_after_three_tries(world) -> None:  # type: ignore[no-untyped-def]
    """``end`` takes no row lock: a concurrent change is decided again, but not for ever."""
    from fw_session.application.ports import ConcurrentChange
    from fw_session.application.service import CONCURRENT_ATTEMPTS

    rid = await world.waiting_request()
    started = await world.service.start(rid, "tech-07")
    appends: list[int] = []
    real_append = world.stores.sessions.append

    async def always_stale(before, events):  # type: ignore[no-untyped-def]
        appends.append(1)
        raise ConcurrentChange

    world.stores.sessions.append = always_stale
    with pytest.raises(ConcurrentChange):
        await world.service.end(started.session_id, "tech-07")
    assert len(appends) == CONCURRENT_ATTEMPTS == 3
    world.stores.sessions.append = real_append
    published = len(world.uow.published)  # the refused tries published nothing
    ended = await world.service.end(started.session_id, "tech-07")
    assert ended.status.value == "ended" and len(world.uow.published) == published + 1


async def test_a_run_of_queue_events_is_decided_in_stream_order_with_one_write(world) -> None:  # type: ignore[no-untyped-def]
    # the consumers hand over consecutive events together: erasure before creation (a
    # tombstone), a redelivered creation, and a plain creation, in one run
    a, b = uuid.uuid4(), uuid.uuid4()
    erased_a = PersonalDataErased(request_id=a, reason=ErasureReason.ABANDONED, erased_at=world.clock())
    run = [erased_a, world.created(a), world.created(b), world.created(b)]
    await world.handlers.apply_run(run, world.new_uow())
    rows = world.stores.requests.rows
    assert rows[a].erased_at is not None and not rows[a].in_queue  # the erasure stays final
    assert rows[b].in_queue
    assert world.stores.requests.batch_writes == 1
    # the same events one by one end in the same entries
    one_by_one = type(world.stores)()
    for event in run:
        await QueueEventHandlers(lambda _: one_by_one).apply_run([event], world.new_uow())
    assert one_by_one.requests.rows == rows
