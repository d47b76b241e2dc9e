"""The request's life cycle: decide and evolve, and the terms catalog."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fw_contracts import utcnow
from fw_contracts.events import CustomerType, ErasureReason, PersonalDataErased, SessionStarted
from fw_intake.adapters.terms_files import load_terms
from fw_intake.domain.request import (
    RequestStatus,
    SupportRequest,
    WithdrawRefused,
    decide_create,
    decide_withdraw,
    evolve,
    replay,
)
from fw_intake.domain.terms import TermsCatalog, TermsDocument

TERMS = TermsDocument.from_bytes("2026-01", b"Bedingungen")


def _created(customer_type: CustomerType = CustomerType.BUSINESS, waiver: bool = False) -> SupportRequest:
    event = decide_create(request_id=uuid.uuid4(), ticket="ABCD-EFG", customer_type=customer_type,
                          terms=TERMS, withdrawal_waiver=waiver, has_billing_address=True,
                          has_email=False, now=utcnow())
    state = evolve(None, event)
    assert state is not None
    return state


def _started(request_id: uuid.UUID) -> SessionStarted:
    return SessionStarted(session_id=uuid.uuid4(), request_id=request_id, technician="tech-01",
                          started_at=utcnow())


def _erased(request_id: uuid.UUID) -> PersonalDataErased:
    return PersonalDataErased(request_id=request_id, reason=ErasureReason.INVOICE_ISSUED, erased_at=utcnow())


def test_created_event_carries_consent_proof() -> None:
    now = utcnow()
    rid = uuid.uuid4()
    event = decide_create(request_id=rid, ticket="ABCD-EFG", customer_type=CustomerType.CONSUMER,
                          terms=TERMS, withdrawal_waiver=True, has_billing_address=False,
                          has_email=True, now=now)
    assert event.terms.terms_version == "2026-01"
    assert event.terms.terms_sha256 == TERMS.sha256
    assert event.terms.accepted_at == now and event.terms.withdrawal_waiver is True
    assert (event.has_billing_address, event.has_email) == (False, True)
    assert event.correlation_id == rid
    state = evolve(None, event)
    assert state is not None and state.status is RequestStatus.OPEN and state.withdrawal_waiver


def test_business_waiver_is_not_recorded() -> None:
    assert _created(CustomerType.BUSINESS, waiver=True).withdrawal_waiver is False


def test_withdraw_open_request() -> None:
    state = _created()
    event = decide_withdraw(state, utcnow())
    new = evolve(state, event)
    assert new is not None and new.status is RequestStatus.WITHDRAWN
    with pytest.raises(WithdrawRefused) as info:
        decide_withdraw(new, utcnow())
    assert info.value.code == "already_withdrawn"


def test_no_withdrawal_after_session_started_or_erasure() -> None:
    state = _created()
    in_session = evolve(state, _started(state.request_id))
    assert in_session is not None and in_session.status is RequestStatus.IN_SESSION
    with pytest.raises(WithdrawRefused) as info:
        decide_withdraw(in_session, utcnow())
    assert info.value.code == "session_started"
    erased = evolve(in_session, _erased(state.request_id))
    assert erased is not None and erased.status is RequestStatus.ERASED
    with pytest.raises(WithdrawRefused) as info:
        decide_withdraw(erased, utcnow())
    assert info.value.code == "request_closed"


def test_evolve_is_order_tolerant_and_idempotent() -> None:
    state = _created()
    erased = evolve(state, _erased(state.request_id))
    assert evolve(erased, _started(state.request_id)) == erased  # erasure is final
    assert evolve(erased, _erased(state.request_id)) == erased
    withdrawn = evolve(state, decide_withdraw(state, utcnow()))
    assert evolve(withdrawn, _started(state.request_id)) == withdrawn
    assert evolve(None, _started(state.request_id)) is None


def test_terms_catalog() -> None:
    a = TermsDocument.from_bytes("2025-06", b"alt")
    b = TermsDocument.from_bytes("2026-01", b"neu")
    assert TermsCatalog([a, b]).current == b
    assert TermsCatalog([a, b], current="2025-06").current == a
    assert TermsCatalog([a, b]).get("1999-01") is None
    with pytest.raises(ValueError, match="is not shipped"):
        TermsCatalog([a], current="2026-01")
    with pytest.raises(ValueError, match="bad terms version"):
        TermsDocument.from_bytes("../etc", b"x")


def test_shipped_terms_are_loadable_and_mention_the_waiver() -> None:
    catalog = load_terms()
    doc = catalog.current
    assert doc.version == "2026-01" and len(doc.sha256) == 64
    assert "§ 356 Abs. 4 BGB" in doc.text


def test_evolve_keeps_created_at() -> None:
    state = _created()
    later = _erased(state.request_id).model_copy(update={"occurred_at": utcnow() + timedelta(hours=1)})
    new = evolve(state, later)
    assert new is not None and new.created_at == state.created_at and new.updated_at > state.updated_at


@given(st.permutations(range(4)))
def test_status_does_not_depend_on_the_order_of_later_events(order: list[int]) -> None:
    """Each consumer runs at its own pace: any order of the follow-up events ends the same."""
    created = decide_create(request_id=uuid.uuid4(), ticket="ABCD-EFG", customer_type=CustomerType.BUSINESS,
                            terms=TERMS, withdrawal_waiver=False, has_billing_address=False,
                            has_email=False, now=utcnow())
    state = evolve(None, created)
    assert state is not None
    later = [decide_withdraw(state, utcnow()), _started(state.request_id), _erased(state.request_id),
             _started(state.request_id)]
    events = [created] + [later[i] for i in order]
    rebuilt = replay(events)[state.request_id]
    assert rebuilt.status is RequestStatus.ERASED and rebuilt.updated_at == later[2].occurred_at
    without_erasure = replay(e for e in events if not isinstance(e, PersonalDataErased))
    assert without_erasure[state.request_id].status is RequestStatus.WITHDRAWN


def test_replay_skips_foreign_and_orphan_events() -> None:
    state = _created()
    assert replay([_started(uuid.uuid4())]) == {}
    assert replay([]) == {}
    assert state.status is RequestStatus.OPEN


#: Hashes of released terms. Accepted texts are proven by these hashes in the stream forever:
#: a released file must never change (add a new version instead).
RELEASED_TERMS = {"2026-01": "102d8a177ee66ed3c695c261d92b5e30c7d59143cb1e53e0292e1495ec891332"}


def test_released_terms_never_change() -> None:
    catalog = load_terms()
    for version, sha in RELEASED_TERMS.items():
        doc = catalog.get(version)
        assert doc is not None and doc.sha256 == sha, f"terms {version} changed after release"
