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
    SupportRequestWithdrawn,
)
from fw_contracts.vault import VaultError
from fw_platform.vault_client import VaultUnavailable
from fw_session.application.ports import VaultRejected
from fw_session.domain.errors import (
    AlreadyPromoted,
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
    await world.service.record_promotion(started.session_id, "  Ja, ich möchte Stammkunde werden.  ")
    world.clock.advance(125)
    ended = await world.service.end(started.session_id)

    s, p, e = world.uow.published
    assert isinstance(s, SessionStarted) and isinstance(p, CustomerPromoted) and isinstance(e, SessionEnded)
    assert s.started_at == world.clock.at.replace(microsecond=0) - timedelta(seconds=725)
    assert e.duration_seconds == 725 == ended.duration_seconds and e.promoted
    said = world.vault.statements[rid]
    assert said.text == "Ja, ich möchte Stammkunde werden." and said.technician == "tech-07"
    assert p.statement_sha256 == hashlib.sha256(said.text.encode()).hexdigest()
    assert p.stated_at == said.stated_at
    assert world.stores.requests.rows[rid].status is RequestStatus.STARTED
    assert await world.service.get(started.session_id) == ended


async def test_wrong_orders_emit_nothing(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownRequest):
        await world.service.start(uuid.uuid4(), "tech-07")
    with pytest.raises(UnknownSession):
        await world.service.end(uuid.uuid4())
    with pytest.raises(UnknownSession):
        await world.service.record_promotion(uuid.uuid4(), "ja")
    with pytest.raises(UnknownSession):
        await world.service.get(uuid.uuid4())
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    emitted = len(world.uow.published)
    with pytest.raises(RequestAlreadyStarted):
        await world.service.start(rid, "tech-08")
    await world.service.record_promotion(session.session_id, "ja")
    with pytest.raises(AlreadyPromoted):
        await world.service.record_promotion(session.session_id, "nochmal")
    await world.service.end(session.session_id)
    with pytest.raises(SessionAlreadyEnded):
        await world.service.end(session.session_id)
    with pytest.raises(SessionAlreadyEnded):
        await world.service.record_promotion(session.session_id, "ja")
    assert len(world.uow.published) == emitted + 2
    assert world.vault.statements[rid].text == "ja"


async def test_promotion_without_vault_emits_nothing(world) -> None:  # type: ignore[no-untyped-def]
    rid = await world.waiting_request()
    session = await world.service.start(rid, "tech-07")
    world.vault.available = False
    with pytest.raises(VaultUnavailable):
        await world.service.record_promotion(session.session_id, "ja")
    world.vault.refuse_statement, world.vault.available = VaultError.ERASED, True
    with pytest.raises(VaultRejected):
        await world.service.record_promotion(session.session_id, "ja")
    assert [type(e) for e in world.uow.published] == [SessionStarted]
    assert not (await world.service.get(session.session_id)).promoted


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
