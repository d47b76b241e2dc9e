"""The pure rules: put, statement, erasure, deadline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fw_contracts.events import ErasureReason
from fw_retention.domain.rules import (
    Write,
    abandoned_before,
    deadline,
    decide_erasure,
    decide_put,
    decide_statement,
    is_abandoned,
)

from retention_testkit import personal_data, statement

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_put_stores_once_and_accepts_identical_retry() -> None:
    data = personal_data()
    assert decide_put(erased=False, existing=None, new=data) is Write.STORE
    assert decide_put(erased=False, existing=data, new=personal_data()) is Write.UNCHANGED
    assert decide_put(erased=False, existing=data, new=personal_data(phone="+4930999999")) is Write.CONFLICT


def test_put_after_erasure_is_refused_even_with_nothing_stored() -> None:
    assert decide_put(erased=True, existing=None, new=personal_data()) is Write.ERASED


def test_statement_rules() -> None:
    st = statement()
    assert decide_statement(erased=True, has_entry=False, existing=None, new=st) is Write.ERASED
    assert decide_statement(erased=False, has_entry=False, existing=None, new=st) is Write.NOT_FOUND
    assert decide_statement(erased=False, has_entry=True, existing=None, new=st) is Write.STORE
    assert decide_statement(erased=False, has_entry=True, existing=st, new=statement()) is Write.UNCHANGED
    assert decide_statement(erased=False, has_entry=True, existing=st, new=statement("anders")) is Write.CONFLICT


def test_erasure_happens_once() -> None:
    rid, trigger = uuid.uuid4(), uuid.uuid4()
    first = decide_erasure(request_id=rid, already_erased=False, had_data=True,
                           reason=ErasureReason.INVOICE_ISSUED, trigger_event_id=trigger, now=T0)
    assert first is not None
    assert (first.request_id, first.reason, first.trigger_event_id, first.erased_at, first.had_data) == (
        rid, ErasureReason.INVOICE_ISSUED, trigger, T0, True)
    assert decide_erasure(request_id=rid, already_erased=True, had_data=False,
                          reason=ErasureReason.NOT_BILLED, trigger_event_id=None, now=T0) is None


def test_erasure_of_a_never_stored_request_still_marks_it() -> None:
    e = decide_erasure(request_id=uuid.uuid4(), already_erased=False, had_data=False,
                       reason=ErasureReason.WITHDRAWN, trigger_event_id=None, now=T0)
    assert e is not None and e.had_data is False


def test_deadline() -> None:
    after = timedelta(days=14)
    assert deadline(T0, after) == T0 + after
    assert not is_abandoned(T0, T0 + after - timedelta(seconds=1), after)
    assert is_abandoned(T0, T0 + after, after)
    assert abandoned_before(T0 + after, after) == T0
