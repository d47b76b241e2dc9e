"""The technician's "work done" note of a session, printed on the session's invoice line.

Written by the session's own technician (web checks ownership with the session service before it
calls) while the session runs and until billing issues its invoice; frozen from then on: the
issued invoice is never changed (GoBD), and the archived copy carries the note for the legal
period. A session closed as not billed loses its note with it (migration 023's trigger). A note
of a session that never reaches billing (never ended: the technician's tool crashed, the end was
never sent) is deleted by billing's housekeeping once it is older than
``FW_BILLING_WORK_NOTE_ORPHAN_DAYS`` (:func:`purge_orphaned_notes`), instead of staying until its
archive year's key is destroyed.

The note is free text, hence personal data: it is cleaned at the edge, stored encrypted, and
never put into an event, a log line, a header or a metric.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from fw_contracts.text import UncleanText, clean_text

#: Characters a note may have: it is printed inside the invoice's line table.
MAX_NOTE_CHARS = 500


class NoteState(StrEnum):
    """Whether a session's note may still change."""

    OPEN = "open"            # running, ended, or waiting for billing (blocked): writable
    FROZEN = "frozen"        # the invoice is issued: the note is part of it
    NOT_BILLED = "not_billed"  # no invoice will come: the note was erased


class NoteRefused(Exception):
    """The note was not stored; ``code`` and the texts never contain the note."""

    code = "work_note_refused"
    message_de = "Die Notiz wurde nicht gespeichert."
    message_en = "The note was not stored."


class NoteFrozen(NoteRefused):
    code = "work_note_frozen"
    message_de = ("Die Rechnung dieser Sitzung ist bereits ausgestellt; die Notiz steht darauf und kann "
                  "nicht mehr geändert werden.")
    message_en = "The invoice of this session has been issued; the note is on it and can no longer be changed."


class NoteSessionNotBilled(NoteRefused):
    code = "work_note_not_billed"
    message_de = ("Diese Sitzung wird nicht abgerechnet; eine Notiz für die Rechnung wird nicht "
                  "gespeichert.")
    message_en = "This session is not billed; no note for an invoice is stored."


class NoteInvalid(NoteRefused):
    """The text itself is refused (too long, unclean)."""

    def __init__(self, code: str, message_de: str, message_en: str) -> None:
        super().__init__(code)
        self.code = code
        self.message_de = message_de
        self.message_en = message_en


@dataclass(frozen=True)
class WorkNote:
    session_id: uuid.UUID
    text: str
    written_by: str
    written_at: datetime
    state: NoteState


class WorkNoteStore(Protocol):
    """Billing's notes, inside the caller's transaction."""

    async def lock(self, session_id: uuid.UUID) -> None:
        """Serialise writers and the issuing of the session's invoice (released at commit)."""

    async def state(self, session_id: uuid.UUID) -> NoteState: ...

    async def read(self, session_id: uuid.UUID) -> WorkNote | None: ...

    async def write(self, session_id: uuid.UUID, text: str, written_by: str, at: datetime) -> None: ...

    async def delete(self, session_id: uuid.UUID) -> None: ...

    async def purge_orphaned(self, written_before: datetime) -> int:
        """Delete the notes written before ``written_before`` of sessions billing never saw end
        (no billing case, no invoice); the number deleted."""
        ...


def clean_note(raw: str) -> str:
    """The note as stored: clean text (line breaks allowed), at most :data:`MAX_NOTE_CHARS`;
    an empty text means "no note". Raises :class:`NoteInvalid`."""
    if not raw.strip():
        return ""
    try:
        text = clean_text(raw, multiline=True)
    except UncleanText as exc:
        raise NoteInvalid(exc.code, exc.message_de, exc.message_en) from None
    if len(text) > MAX_NOTE_CHARS:
        raise NoteInvalid("work_note_too_long",
                          f"Die Notiz ist zu lang (höchstens {MAX_NOTE_CHARS} Zeichen).",
                          f"The note is too long (at most {MAX_NOTE_CHARS} characters).")
    return text


async def write_work_note(store: WorkNoteStore, session_id: uuid.UUID, raw: str, written_by: str,
                          now: datetime) -> NoteState:
    """Store (or, with an empty text, remove) the session's note; raises :class:`NoteRefused`
    and then changes nothing."""
    text = clean_note(raw)
    await store.lock(session_id)  # an invoice being issued right now is waited for
    state = await store.state(session_id)
    if state is NoteState.FROZEN:
        raise NoteFrozen(NoteFrozen.code)
    if state is NoteState.NOT_BILLED:
        raise NoteSessionNotBilled(NoteSessionNotBilled.code)
    if text:
        await store.write(session_id, text, written_by, now)
    else:
        await store.delete(session_id)
    return state


async def purge_orphaned_notes(store: WorkNoteStore, now: datetime, keep: timedelta) -> int:
    """Delete the notes of sessions that never reached billing, written more than ``keep`` ago.

    A remote-maintenance session lasts hours; a note that is ``keep`` old without its session
    having ended belongs to a session that will not end (its data serve billing only, and the
    request's personal data are erased as abandoned meanwhile). Should that session end after
    all, its invoice is issued without the note. A note written again meanwhile is newer and
    stays (the ``DELETE`` checks ``written_at`` on the row as committed).
    """
    return await store.purge_orphaned(now - keep)
