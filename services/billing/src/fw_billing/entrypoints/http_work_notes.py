"""HTTP routes for the technician's "work done" note of a session (printed on its invoice line).

web calls them for the session's own technician (it asks the session service first, as for the
caller's contact) and for the office's print view. The note travels only in bodies, never in a
path, query, header or log; errors name codes, never the note.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fw_billing.application.work_notes import MAX_NOTE_CHARS, NoteInvalid, NoteRefused, NoteState, WorkNote
from fw_contracts.events import TechnicianId
from fw_platform.http import problem

#: (session id, raw note, technician id) -> the state the note was written in.
WriteNote = Callable[[uuid.UUID, str, str], Awaitable[NoteState]]
ReadNote = Callable[[uuid.UUID], Awaitable[WorkNote | None]]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No note (JSON: code, message_de, message_en)"},
    409: {"description": "Frozen (invoice issued) or not billed: nothing changed (JSON: code, message_de, message_en)"},
    422: {"description": "Text refused: too long or unclean (JSON: code, message_de, message_en)"},
}


class WorkNoteIn(BaseModel):
    """The note as typed (cleaned and limited to 500 characters by billing); empty removes it."""

    model_config = ConfigDict(extra="forbid")

    # generous raw bound; the real limit is checked after cleaning, with a German/English message
    note: Annotated[str, Field(max_length=4 * MAX_NOTE_CHARS)]
    #: The technician writing it (checked by web against the session service: own sessions only).
    written_by: TechnicianId


class WorkNoteOut(BaseModel):
    session_id: uuid.UUID
    note: str
    written_by: str
    written_at: datetime
    #: open (writable) or frozen (on the issued invoice).
    state: NoteState


def router(write: WriteNote, read: ReadNote) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["billing"])

    @api.put("/sessions/{session_id}/work-note", response_model=WorkNoteOut | None, responses=_ERRORS,
             summary="Write the technician's work note of a session (until its invoice is issued)")
    async def put_note(session_id: uuid.UUID, body: WorkNoteIn) -> WorkNoteOut | JSONResponse:
        try:
            await write(session_id, body.note, body.written_by)
        except NoteInvalid as exc:
            return problem(422, exc.code, exc.message_de, exc.message_en, max_chars=MAX_NOTE_CHARS)
        except NoteRefused as exc:
            return problem(409, exc.code, exc.message_de, exc.message_en)
        note = await read(session_id)
        if note is None:  # an empty text removed it
            return JSONResponse(status_code=200, content={"session_id": str(session_id), "note": None})
        return _out(note)

    @api.get("/sessions/{session_id}/work-note", response_model=WorkNoteOut, responses=_ERRORS,
             summary="The technician's work note of a session (personal data: staff only)")
    async def get_note(session_id: uuid.UUID) -> WorkNoteOut | JSONResponse:
        note = await read(session_id)
        if note is None:
            return problem(404, "work_note_not_found", "Zu dieser Sitzung gibt es keine Notiz.",
                           "There is no note for this session.")
        return _out(note)

    return api


def _out(note: WorkNote) -> WorkNoteOut:
    return WorkNoteOut(session_id=note.session_id, note=note.text, written_by=note.written_by,
                       written_at=note.written_at, state=note.state)
