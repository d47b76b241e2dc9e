"""The ``Session`` aggregate as pure functions: ``decide(command, state)`` / ``evolve(state, event)``.

The events are the public contracts (``SessionStarted``, ``CustomerPromoted``, ``SessionEnded``,
``SessionTakenOver``):
the session service owns them, and a rebuild from the stream must fold them with this same
``evolve``. None of them has a field that could hold screen, keystroke or file content, and the
promotion statement's wording is represented only by its SHA-256.

A session belongs to its technician: every command names the acting technician, and only the
session's current technician may act on it (:class:`NotYourSession` otherwise). The one way to
act on another technician's session is to take it over first (``SessionTakenOver``), which makes
it the new technician's. Events record the acting technician.

Times are kept to the whole second so that ``duration_seconds`` is exactly ``ended_at -
started_at`` and billing can recompute it from the two instants.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import reduce
from typing import TypeAlias

from fw_contracts.base import Event
from fw_contracts.events import CustomerPromoted, SessionEnded, SessionStarted, SessionTakenOver
from fw_session.domain.errors import (
    AlreadyPromoted,
    AlreadyYourSession,
    NotYourSession,
    SessionAlreadyEnded,
    SessionAlreadyStarted,
    UnknownSession,
)

SessionEvent: TypeAlias = SessionStarted | CustomerPromoted | SessionEnded | SessionTakenOver


def to_second(at: datetime) -> datetime:
    """``at`` without its fraction of a second (aware datetimes stay aware)."""
    return at.replace(microsecond=0)


# ------------------------------------------------------------------ commands
@dataclass(frozen=True)
class StartSession:
    """Begin a session for a waiting request (the request's own checks are in ``requests``)."""

    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: str
    at: datetime
    #: The request's correlation id and creating event, so the whole case can be traced.
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RecordPromotion:
    """The customer said they want to become a regular customer; the wording is in the vault."""

    statement_sha256: str
    at: datetime
    #: The acting technician (signed in); must be the session's technician.
    technician: str


@dataclass(frozen=True)
class EndSession:
    at: datetime
    #: The acting technician; must be the session's technician.
    technician: str


@dataclass(frozen=True)
class TakeOverSession:
    """``technician`` (who acts) hands the running session to ``to_technician`` (often themself)."""

    technician: str
    to_technician: str
    at: datetime


Command: TypeAlias = StartSession | RecordPromotion | EndSession | TakeOverSession


# ------------------------------------------------------------------ state
class SessionStatus(StrEnum):
    RUNNING = "running"
    ENDED = "ended"


@dataclass(frozen=True)
class Session:
    """A session's state, rebuilt by folding its events with :func:`evolve`."""

    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: str
    started_at: datetime
    correlation_id: uuid.UUID
    #: Id of the last event, the causation of the next one.
    last_event_id: uuid.UUID
    #: Number of events folded so far (optimistic concurrency on append).
    version: int
    promoted: bool = False
    statement_sha256: str | None = None
    stated_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None

    @property
    def status(self) -> SessionStatus:
        return SessionStatus.ENDED if self.ended_at is not None else SessionStatus.RUNNING


@dataclass(frozen=True)
class SessionSummary:
    """One line of a technician's list of sessions: ids, the ticket and times, no personal data."""

    session_id: uuid.UUID
    request_id: uuid.UUID
    #: The request's ticket (a pseudonymous code the customer reads out), if the queue knows it.
    ticket: str | None
    technician: str
    started_at: datetime
    ended_at: datetime | None = None
    duration_seconds: int | None = None

    @property
    def status(self) -> SessionStatus:
        return SessionStatus.ENDED if self.ended_at is not None else SessionStatus.RUNNING


# ------------------------------------------------------------------ decide
def decide(command: Command, state: Session | None) -> list[SessionEvent]:
    """The events a command produces in ``state``; raises a :class:`DomainError` if refused."""
    match command:
        case StartSession():
            if state is not None:
                raise SessionAlreadyStarted
            at = to_second(command.at)
            started = SessionStarted(
                session_id=command.session_id, request_id=command.request_id,
                technician=command.technician, started_at=at, occurred_at=at,
                correlation_id=command.correlation_id or uuid.uuid4(),
                causation_id=command.causation_id)
            return [started]
        case RecordPromotion():
            running = _running(ensure_owner(state, command.technician))
            if running.promoted:
                raise AlreadyPromoted
            at = max(to_second(command.at), running.started_at)
            return [CustomerPromoted(
                session_id=running.session_id, request_id=running.request_id,
                technician=command.technician, statement_sha256=command.statement_sha256,
                stated_at=at, occurred_at=at,
                correlation_id=running.correlation_id, causation_id=running.last_event_id)]
        case EndSession():
            running = _running(ensure_owner(state, command.technician))
            # A clock stepping back must not produce a negative duration.
            ended_at = max(to_second(command.at), running.started_at)
            return [SessionEnded(
                session_id=running.session_id, request_id=running.request_id,
                technician=command.technician, started_at=running.started_at, ended_at=ended_at,
                duration_seconds=int((ended_at - running.started_at).total_seconds()),
                promoted=running.promoted, occurred_at=ended_at,
                correlation_id=running.correlation_id, causation_id=running.last_event_id)]
        case TakeOverSession():
            running = _running(state)
            if command.to_technician == running.technician:
                raise AlreadyYourSession
            at = max(to_second(command.at), running.started_at)
            return [SessionTakenOver(
                session_id=running.session_id, request_id=running.request_id,
                from_technician=running.technician, to_technician=command.to_technician,
                taken_over_by=command.technician, taken_over_at=at, occurred_at=at,
                correlation_id=running.correlation_id, causation_id=running.last_event_id)]
    raise TypeError(f"unknown command {type(command).__name__}")


def ensure_owner(state: Session | None, technician: str) -> Session:
    """The session if ``technician`` may act on it (read or change); raises why not."""
    if state is None:
        raise UnknownSession
    if state.technician != technician:
        raise NotYourSession
    return state


def _running(state: Session | None) -> Session:
    if state is None:
        raise UnknownSession
    if state.status is SessionStatus.ENDED:
        raise SessionAlreadyEnded
    return state


# ------------------------------------------------------------------ evolve
def evolve(state: Session | None, event: Event) -> Session | None:
    """Apply one event. Trusts its input: events are facts that ``decide`` already checked."""
    match event:
        case SessionStarted():
            return Session(
                session_id=event.session_id, request_id=event.request_id,
                technician=event.technician, started_at=event.started_at,
                correlation_id=event.correlation_id, last_event_id=event.event_id, version=1)
        case CustomerPromoted() if state is not None:
            return replace(state, promoted=True, statement_sha256=event.statement_sha256,
                           stated_at=event.stated_at, last_event_id=event.event_id,
                           version=state.version + 1)
        case SessionTakenOver() if state is not None:
            return replace(state, technician=event.to_technician, last_event_id=event.event_id,
                           version=state.version + 1)
        case SessionEnded() if state is not None:
            return replace(state, ended_at=event.ended_at, duration_seconds=event.duration_seconds,
                           promoted=event.promoted or state.promoted, last_event_id=event.event_id,
                           version=state.version + 1)
    raise ValueError(f"{type(event).__name__} cannot be applied to this session state")


def replay(events: Iterable[Event], state: Session | None = None) -> Session | None:
    """Fold events into a state: the same code for commands, rebuilds and projections."""
    return reduce(evolve, events, state)
