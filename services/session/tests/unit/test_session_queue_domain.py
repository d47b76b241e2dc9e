"""The queue entry: out-of-order and repeated events, and when a request may be started."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fw_contracts.events import (
    ErasureReason,
    PersonalDataErased,
    SessionStarted,
    SupportRequestCreated,
    SupportRequestWithdrawn,
    TermsAcceptance,
)
from fw_session.domain.errors import RequestAlreadyStarted, RequestErased, RequestWithdrawn, UnknownRequest
from fw_session.domain.requests import QueueEntry, RequestStatus, ensure_startable, evolve_request, waiting_seconds

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
RID = uuid.UUID(int=7)

CREATED = SupportRequestCreated(
    request_id=RID, ticket="K7MQ-3XA", occurred_at=T0,
    terms=TermsAcceptance(terms_version="1", terms_sha256="c" * 64, accepted_at=T0))
WITHDRAWN = SupportRequestWithdrawn(request_id=RID)
ERASED = PersonalDataErased(request_id=RID, reason=ErasureReason.ABANDONED, erased_at=T0 + timedelta(hours=1))
STARTED = SessionStarted(session_id=uuid.uuid4(), request_id=RID, technician="tech-01", started_at=T0)


def apply(*events: object) -> QueueEntry:
    return reduce(evolve_request, events, QueueEntry.placeholder(RID))  # type: ignore[arg-type]


def test_created_request_waits_and_is_startable() -> None:
    entry = apply(CREATED)
    assert entry.status is RequestStatus.WAITING and entry.in_queue
    assert (entry.ticket, entry.created_at, entry.correlation_id) == ("K7MQ-3XA", T0, CREATED.correlation_id)
    assert ensure_startable(entry) == entry


def test_redelivered_creation_changes_nothing() -> None:
    assert apply(CREATED, CREATED) == apply(CREATED)


def test_withdrawal_before_creation_is_kept_as_tombstone() -> None:
    tomb = apply(WITHDRAWN)
    assert tomb.status is RequestStatus.WITHDRAWN and not tomb.in_queue
    entry = apply(WITHDRAWN, CREATED)
    assert entry.status is RequestStatus.WITHDRAWN and entry.ticket == "K7MQ-3XA" and not entry.in_queue
    with pytest.raises(RequestWithdrawn):
        ensure_startable(entry)


def test_erasure_takes_a_waiting_request_out_of_the_queue() -> None:
    for entry in (apply(CREATED, ERASED), apply(ERASED, CREATED)):
        assert entry.status is RequestStatus.WAITING and entry.erased_at == ERASED.erased_at
        assert not entry.in_queue
        with pytest.raises(RequestErased):
            ensure_startable(entry)


def test_started_request_cannot_start_again_nor_be_withdrawn() -> None:
    entry = apply(CREATED, STARTED, WITHDRAWN)
    assert entry.status is RequestStatus.STARTED and not entry.in_queue
    with pytest.raises(RequestAlreadyStarted):
        ensure_startable(entry)


def test_unknown_request() -> None:
    with pytest.raises(UnknownRequest):
        ensure_startable(None)
    with pytest.raises(UnknownRequest):
        ensure_startable(QueueEntry.placeholder(RID))
    with pytest.raises(UnknownRequest):  # only an erasure seen: nothing a technician could start
        ensure_startable(apply(ERASED))


def test_waiting_seconds() -> None:
    assert waiting_seconds(apply(CREATED), T0 + timedelta(seconds=42.9)) == 42
    assert waiting_seconds(apply(CREATED), T0 - timedelta(seconds=5)) == 0
    assert waiting_seconds(apply(WITHDRAWN), T0) == 0


def test_unrelated_event_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not concern the queue"):
        evolve_request(QueueEntry.placeholder(RID), object())  # type: ignore[arg-type]


@given(st.permutations([CREATED, WITHDRAWN, ERASED]), st.integers(min_value=1, max_value=3))
def test_order_and_repetition_of_intake_and_retention_events_do_not_matter(
        order: list[object], subset: int) -> None:
    for chosen in itertools.combinations(order, subset):
        expected = apply(*sorted(chosen, key=[CREATED, WITHDRAWN, ERASED].index))  # type: ignore[arg-type]
        assert apply(*chosen) == expected
        assert apply(*chosen, *chosen) == expected
