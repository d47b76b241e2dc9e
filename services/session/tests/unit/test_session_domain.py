"""The Session aggregate: every transition, every wrong order, ownership and takeover, and replay =
the same fold."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fw_contracts.events import CustomerPromoted, SessionEnded, SessionStarted, SessionTakenOver
from fw_session.domain.errors import (
    AlreadyPromoted,
    AlreadyYourSession,
    NotYourSession,
    SessionAlreadyEnded,
    SessionAlreadyStarted,
    UnknownSession,
)
from fw_session.domain.session import (
    Command,
    EndSession,
    RecordPromotion,
    Session,
    SessionStatus,
    StartSession,
    TakeOverSession,
    decide,
    ensure_owner,
    evolve,
    replay,
)

T0 = datetime(2025, 3, 3, 9, 0, 0, 900_000, tzinfo=UTC)
SHA = "b" * 64
TECH = "tech-07"
OTHER = "tech-08"


def start(at: datetime = T0, **kw: object) -> StartSession:
    return StartSession(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-07", at=at, **kw)  # type: ignore[arg-type]


def run(*commands: Command) -> tuple[Session | None, list[object]]:
    """Decide and evolve a sequence of commands; returns the final state and all events."""
    state: Session | None = None
    history: list[object] = []
    for c in commands:
        events = decide(c, state)
        history.extend(events)
        state = replay(events, state)
    return state, history


def test_start_emits_session_started_truncated_to_the_second() -> None:
    corr, cause = uuid.uuid4(), uuid.uuid4()
    cmd = start(correlation_id=corr, causation_id=cause)
    [event] = decide(cmd, None)
    assert isinstance(event, SessionStarted)
    assert event.started_at == datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)
    assert (event.session_id, event.request_id, event.technician) == (cmd.session_id, cmd.request_id, "tech-07")
    assert (event.correlation_id, event.causation_id) == (corr, cause)
    state = evolve(None, event)
    assert state is not None and state.status is SessionStatus.RUNNING and state.version == 1
    assert not state.promoted


def test_start_twice_is_refused() -> None:
    state, _ = run(start())
    with pytest.raises(SessionAlreadyStarted):
        decide(start(), state)


def test_promotion_records_hash_and_time() -> None:
    state, _ = run(start())
    [event] = decide(RecordPromotion(statement_sha256=SHA, technician=TECH, at=T0 + timedelta(seconds=61.5)), state)
    assert isinstance(event, CustomerPromoted)
    assert event.statement_sha256 == SHA
    assert event.stated_at == datetime(2025, 3, 3, 9, 1, 2, tzinfo=UTC)
    assert state is not None and event.causation_id == state.last_event_id
    assert event.correlation_id == state.correlation_id
    promoted = evolve(state, event)
    assert promoted is not None and promoted.promoted and promoted.version == 2


def test_promotion_before_start_is_unknown_session() -> None:
    with pytest.raises(UnknownSession):
        decide(RecordPromotion(statement_sha256=SHA, technician=TECH, at=T0), None)


def test_promotion_twice_is_refused() -> None:
    state, _ = run(start(), RecordPromotion(statement_sha256=SHA, technician=TECH, at=T0))
    with pytest.raises(AlreadyPromoted):
        decide(RecordPromotion(statement_sha256=SHA, technician=TECH, at=T0), state)


def test_promotion_after_end_is_refused() -> None:
    state, _ = run(start(), EndSession(technician=TECH, at=T0 + timedelta(minutes=5)))
    with pytest.raises(SessionAlreadyEnded):
        decide(RecordPromotion(statement_sha256=SHA, technician=TECH, at=T0), state)


def test_end_has_exact_whole_second_duration() -> None:
    # started 09:00:00.9 -> 09:00:00; ended 09:25:17.99 -> 09:25:17: 25*60+17 seconds.
    state, _ = run(start())
    [event] = decide(EndSession(technician=TECH, at=T0 + timedelta(minutes=25, seconds=17, microseconds=90_000)), state)
    assert isinstance(event, SessionEnded)
    assert event.started_at == datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)
    assert event.ended_at == datetime(2025, 3, 3, 9, 25, 17, tzinfo=UTC)
    assert event.duration_seconds == 1517 == (event.ended_at - event.started_at).total_seconds()
    assert event.promoted is False
    ended = evolve(state, event)
    assert ended is not None and ended.status is SessionStatus.ENDED and ended.duration_seconds == 1517


def test_end_carries_promotion() -> None:
    state, history = run(start(), RecordPromotion(statement_sha256=SHA, technician=TECH, at=T0), EndSession(technician=TECH, at=T0))
    assert isinstance(history[-1], SessionEnded) and history[-1].promoted
    assert state is not None and state.promoted


def test_end_before_start_is_unknown_session() -> None:
    with pytest.raises(UnknownSession):
        decide(EndSession(technician=TECH, at=T0), None)


def test_end_twice_is_refused() -> None:
    state, _ = run(start(), EndSession(technician=TECH, at=T0))
    with pytest.raises(SessionAlreadyEnded):
        decide(EndSession(technician=TECH, at=T0), state)


def test_clock_stepping_back_never_gives_negative_duration() -> None:
    state, _ = run(start())
    [event] = decide(EndSession(technician=TECH, at=T0 - timedelta(seconds=30)), state)
    assert isinstance(event, SessionEnded)
    assert event.duration_seconds == 0 and event.ended_at == event.started_at


def test_evolve_refuses_an_event_without_a_started_session() -> None:
    _, history = run(start(), EndSession(technician=TECH, at=T0))
    with pytest.raises(ValueError, match="cannot be applied to this session state"):
        evolve(None, history[-1])  # type: ignore[arg-type]


def test_replay_equals_the_step_by_step_state_and_chains_causation() -> None:
    state, history = run(start(), RecordPromotion(statement_sha256=SHA, technician=TECH, at=T0), EndSession(technician=TECH, at=T0))
    assert replay(history) == state  # type: ignore[arg-type]
    assert state is not None and state.version == 3
    for before, after in itertools.pairwise(history):
        assert after.causation_id == before.event_id  # type: ignore[attr-defined]
        assert after.correlation_id == before.correlation_id  # type: ignore[attr-defined]


def test_session_events_have_no_field_that_could_hold_content() -> None:
    """Screen, keystrokes, files, the statement's words: no such field exists."""
    base = {"event_type", "schema_version", "event_id", "occurred_at", "correlation_id", "causation_id",
            "session_id", "request_id", "technician"}
    assert set(SessionStarted.model_fields) == base | {"started_at"}
    assert set(CustomerPromoted.model_fields) == base | {"statement_sha256", "stated_at"}
    assert set(SessionEnded.model_fields) == base | {"started_at", "ended_at", "duration_seconds", "promoted"}


# ---------------------------------------------------------------- ownership and takeover
def test_given_a_running_session_when_another_technician_promotes_ends_or_reads_then_refused() -> None:
    state, _ = run(start())
    with pytest.raises(NotYourSession):
        decide(RecordPromotion(statement_sha256=SHA, technician=OTHER, at=T0), state)
    with pytest.raises(NotYourSession):
        decide(EndSession(technician=OTHER, at=T0), state)
    with pytest.raises(NotYourSession):
        ensure_owner(state, OTHER)
    assert ensure_owner(state, TECH) == state


def test_given_an_ended_session_when_another_technician_acts_then_forbidden_not_conflict() -> None:
    # who may not act learns nothing about the session's state
    state, _ = run(start(), EndSession(technician=TECH, at=T0))
    with pytest.raises(NotYourSession):
        decide(EndSession(technician=OTHER, at=T0), state)


def test_given_a_running_session_when_taken_over_then_it_belongs_to_the_new_technician() -> None:
    state, _ = run(start())
    assert state is not None
    [event] = decide(TakeOverSession(technician=OTHER, to_technician=OTHER, at=T0 + timedelta(seconds=90.4)), state)
    assert isinstance(event, SessionTakenOver)
    assert (event.from_technician, event.to_technician, event.taken_over_by) == (TECH, OTHER, OTHER)
    assert event.taken_over_at == event.occurred_at == datetime(2025, 3, 3, 9, 1, 31, tzinfo=UTC)
    assert (event.session_id, event.request_id) == (state.session_id, state.request_id)
    assert event.causation_id == state.last_event_id and event.correlation_id == state.correlation_id
    after = evolve(state, event)
    assert after is not None and after.technician == OTHER and after.version == 2
    assert after.started_at == state.started_at and after.status is SessionStatus.RUNNING
    # the former technician is now refused like anybody else; the new one acts
    with pytest.raises(NotYourSession):
        decide(EndSession(technician=TECH, at=T0), after)
    [promoted] = decide(RecordPromotion(statement_sha256=SHA, technician=OTHER, at=T0), after)
    assert isinstance(promoted, CustomerPromoted) and promoted.technician == OTHER
    [ended] = decide(EndSession(technician=OTHER, at=T0 + timedelta(minutes=3)), after)
    assert isinstance(ended, SessionEnded) and ended.technician == OTHER
    assert ended.started_at == state.started_at  # the duration counts from the original start


def test_given_a_session_when_a_lead_hands_it_on_then_the_event_names_who_acted() -> None:
    state, _ = run(start())
    [event] = decide(TakeOverSession(technician="lead-1", to_technician=OTHER, at=T0), state)
    assert isinstance(event, SessionTakenOver)
    assert (event.from_technician, event.to_technician, event.taken_over_by) == (TECH, OTHER, "lead-1")


def test_takeover_of_an_own_an_ended_or_an_unknown_session_is_refused() -> None:
    state, _ = run(start())
    with pytest.raises(AlreadyYourSession):
        decide(TakeOverSession(technician=TECH, to_technician=TECH, at=T0), state)
    ended, _ = run(start(), EndSession(technician=TECH, at=T0))
    with pytest.raises(SessionAlreadyEnded):
        decide(TakeOverSession(technician=OTHER, to_technician=OTHER, at=T0), ended)
    with pytest.raises(UnknownSession):
        decide(TakeOverSession(technician=OTHER, to_technician=OTHER, at=T0), None)


def test_session_taken_over_has_ids_and_times_only() -> None:
    assert set(SessionTakenOver.model_fields) == {
        "event_type", "schema_version", "event_id", "occurred_at", "correlation_id", "causation_id",
        "session_id", "request_id", "from_technician", "to_technician", "taken_over_by", "taken_over_at"}


# ---------------------------------------------------------------- properties
commands = st.lists(st.sampled_from(["start", "promote", "end", "takeover"]), max_size=8)
gaps = st.lists(st.floats(min_value=0, max_value=10_000), min_size=8, max_size=8)
actors = st.lists(st.sampled_from([TECH, OTHER]), min_size=8, max_size=8)


@given(commands, gaps, actors)
def test_any_command_sequence_keeps_the_invariants(names: list[str], gap_list: list[float],
                                                   who: list[str]) -> None:
    state: Session | None = None
    history: list[object] = []
    at = T0
    for name, gap, actor in zip(names, gap_list, who, strict=False):
        at += timedelta(seconds=gap)
        options: dict[str, Command] = {"start": start(at=at), "end": EndSession(technician=actor, at=at),
                                       "promote": RecordPromotion(statement_sha256=SHA, technician=actor, at=at),
                                       "takeover": TakeOverSession(technician=actor, to_technician=actor, at=at)}
        cmd = options[name]
        owner = state.technician if state else None
        try:
            events = decide(cmd, state)
        except (UnknownSession, SessionAlreadyStarted, SessionAlreadyEnded, AlreadyPromoted,
                NotYourSession, AlreadyYourSession):
            continue
        # whoever acted on an existing session owned it (or took it over)
        if owner is not None and not isinstance(cmd, TakeOverSession):
            assert cmd.technician == owner  # type: ignore[union-attr]
            assert all(e.technician == owner for e in events)  # type: ignore[attr-defined]
        history.extend(events)
        state = replay(events, state)
    types = [type(e).__name__ for e in history]
    if state is not None:
        takeovers = [e for e in history if isinstance(e, SessionTakenOver)]
        assert state.technician == (takeovers[-1].to_technician if takeovers else TECH)
    assert types.count("SessionStarted") <= 1 and types.count("CustomerPromoted") <= 1
    assert types.count("SessionEnded") <= 1
    if history:
        assert types[0] == "SessionStarted"
    if "SessionEnded" in types:
        assert types[-1] == "SessionEnded"
        end = history[-1]
        assert isinstance(end, SessionEnded)
        assert end.duration_seconds == int((end.ended_at - end.started_at).total_seconds()) >= 0
        assert end.promoted == ("CustomerPromoted" in types)
    assert replay(history) == state  # type: ignore[arg-type]


def test_domain_imports_no_infrastructure() -> None:
    """The domain stays pure: no database, broker, web framework or environment access."""
    import ast
    from pathlib import Path

    from fw_session import domain

    forbidden = {"asyncpg", "nats", "faststream", "fastapi", "os", "fw_platform", "httpx"}
    for path in Path(domain.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & forbidden, (path.name, names)
