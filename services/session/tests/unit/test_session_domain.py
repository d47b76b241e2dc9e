"""The Session aggregate: every transition, every wrong order, and replay = the same fold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fw_contracts.events import CustomerPromoted, SessionEnded, SessionStarted
from fw_session.domain.errors import AlreadyPromoted, SessionAlreadyEnded, SessionAlreadyStarted, UnknownSession
from fw_session.domain.session import (
    Command,
    EndSession,
    RecordPromotion,
    Session,
    SessionStatus,
    StartSession,
    decide,
    evolve,
    replay,
)
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2025, 3, 3, 9, 0, 0, 900_000, tzinfo=UTC)
SHA = "b" * 64


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
    [event] = decide(RecordPromotion(statement_sha256=SHA, at=T0 + timedelta(seconds=61.5)), state)
    assert isinstance(event, CustomerPromoted)
    assert event.statement_sha256 == SHA
    assert event.stated_at == datetime(2025, 3, 3, 9, 1, 2, tzinfo=UTC)
    assert state is not None and event.causation_id == state.last_event_id
    assert event.correlation_id == state.correlation_id
    promoted = evolve(state, event)
    assert promoted is not None and promoted.promoted and promoted.version == 2


def test_promotion_before_start_is_unknown_session() -> None:
    with pytest.raises(UnknownSession):
        decide(RecordPromotion(statement_sha256=SHA, at=T0), None)


def test_promotion_twice_is_refused() -> None:
    state, _ = run(start(), RecordPromotion(statement_sha256=SHA, at=T0))
    with pytest.raises(AlreadyPromoted):
        decide(RecordPromotion(statement_sha256=SHA, at=T0), state)


def test_promotion_after_end_is_refused() -> None:
    state, _ = run(start(), EndSession(at=T0 + timedelta(minutes=5)))
    with pytest.raises(SessionAlreadyEnded):
        decide(RecordPromotion(statement_sha256=SHA, at=T0), state)


def test_end_has_exact_whole_second_duration() -> None:
    # started 09:00:00.9 -> 09:00:00; ended 09:25:17.99 -> 09:25:17: 25*60+17 seconds.
    state, _ = run(start())
    [event] = decide(EndSession(at=T0 + timedelta(minutes=25, seconds=17, microseconds=90_000)), state)
    assert isinstance(event, SessionEnded)
    assert event.started_at == datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)
    assert event.ended_at == datetime(2025, 3, 3, 9, 25, 17, tzinfo=UTC)
    assert event.duration_seconds == 1517 == (event.ended_at - event.started_at).total_seconds()
    assert event.promoted is False
    ended = evolve(state, event)
    assert ended is not None and ended.status is SessionStatus.ENDED and ended.duration_seconds == 1517


def test_end_carries_promotion() -> None:
    state, history = run(start(), RecordPromotion(statement_sha256=SHA, at=T0), EndSession(at=T0))
    assert isinstance(history[-1], SessionEnded) and history[-1].promoted
    assert state is not None and state.promoted


def test_end_before_start_is_unknown_session() -> None:
    with pytest.raises(UnknownSession):
        decide(EndSession(at=T0), None)


def test_end_twice_is_refused() -> None:
    state, _ = run(start(), EndSession(at=T0))
    with pytest.raises(SessionAlreadyEnded):
        decide(EndSession(at=T0), state)


def test_clock_stepping_back_never_gives_negative_duration() -> None:
    state, _ = run(start())
    [event] = decide(EndSession(at=T0 - timedelta(seconds=30)), state)
    assert isinstance(event, SessionEnded)
    assert event.duration_seconds == 0 and event.ended_at == event.started_at


def test_evolve_refuses_an_event_without_a_started_session() -> None:
    _, history = run(start(), EndSession(at=T0))
    with pytest.raises(ValueError):
        evolve(None, history[-1])  # type: ignore[arg-type]


def test_replay_equals_the_step_by_step_state_and_chains_causation() -> None:
    state, history = run(start(), RecordPromotion(statement_sha256=SHA, at=T0), EndSession(at=T0))
    assert replay(history) == state  # type: ignore[arg-type]
    assert state is not None and state.version == 3
    for before, after in zip(history, history[1:], strict=False):
        assert after.causation_id == before.event_id  # type: ignore[attr-defined]
        assert after.correlation_id == before.correlation_id  # type: ignore[attr-defined]


def test_session_events_have_no_field_that_could_hold_content() -> None:
    """Screen, keystrokes, files, the statement's words: no such field exists."""
    base = {"event_type", "schema_version", "event_id", "occurred_at", "correlation_id", "causation_id",
            "session_id", "request_id", "technician"}
    assert set(SessionStarted.model_fields) == base | {"started_at"}
    assert set(CustomerPromoted.model_fields) == base | {"statement_sha256", "stated_at"}
    assert set(SessionEnded.model_fields) == base | {"started_at", "ended_at", "duration_seconds", "promoted"}


# ---------------------------------------------------------------- properties
commands = st.lists(st.sampled_from(["start", "promote", "end"]), max_size=8)
gaps = st.lists(st.floats(min_value=0, max_value=10_000), min_size=8, max_size=8)


@given(commands, gaps)
def test_any_command_sequence_keeps_the_invariants(names: list[str], gap_list: list[float]) -> None:
    state: Session | None = None
    history: list[object] = []
    at = T0
    for name, gap in zip(names, gap_list, strict=False):
        at += timedelta(seconds=gap)
        options: dict[str, Command] = {"start": start(at=at), "end": EndSession(at=at),
                                       "promote": RecordPromotion(statement_sha256=SHA, at=at)}
        cmd = options[name]
        try:
            events = decide(cmd, state)
        except (UnknownSession, SessionAlreadyStarted, SessionAlreadyEnded, AlreadyPromoted):
            continue
        history.extend(events)
        state = replay(events, state)
    types = [type(e).__name__ for e in history]
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

    import fw_session.domain as domain

    forbidden = {"asyncpg", "nats", "faststream", "fastapi", "os", "fw_platform", "httpx"}
    for path in Path(domain.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & forbidden, (path.name, names)
