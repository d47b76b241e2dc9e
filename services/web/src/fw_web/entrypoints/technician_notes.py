"""The technician's "work done" note of a session: written on the session page, stored by billing
with the invoice data (never in an event, a log or a header), printed on the invoice line."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from fw_contracts.text import UncleanText, clean_text
from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.technician import Technician, own_session, session_page
from fw_web.entrypoints.web_session import require_csrf, web_session

log = logging.getLogger(__name__)

#: As billing's limit (``fw_billing.application.work_notes.MAX_NOTE_CHARS``).
MAX_NOTE_CHARS = 500


def check_note(raw: str) -> str | None:
    """The German reason a note is refused, or None (billing checks the same again)."""
    if not raw.strip():
        return None
    try:
        text = clean_text(raw, multiline=True)
    except UncleanText as exc:
        return f"Die Notiz wurde nicht gespeichert. {exc.message_de}"
    if len(text) > MAX_NOTE_CHARS:
        return (f"Die Notiz wurde nicht gespeichert: sie ist {len(text)} Zeichen lang, erlaubt sind "
                f"höchstens {MAX_NOTE_CHARS}.")
    return None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/technik")

    @router.post("/sitzungen/{session_id}/notiz", dependencies=[Depends(require_csrf)],
                 summary="Write the work-done note of the own session (until its invoice is issued)")
    async def write_note(request: Request, user: Technician, session_id: uuid.UUID,
                         note: Annotated[str, Form(max_length=4 * MAX_NOTE_CHARS)] = "") -> Response:
        # Only the session's own technician: asked of the session service, as for the contact.
        own = await own_session(request, user, session_id, back="/technik")
        if isinstance(own, Response):
            return own
        api = backends(request)
        problem = check_note(note)
        if problem is None:
            reply = await api.write_work_note(session_id, note, user.username)
            if reply.ok:
                log.info("work note written", extra={"session_id": str(session_id)})
                web_session(request).flash("Die Notiz ist gespeichert; sie steht auf der Rechnung dieser Sitzung."
                                           if note.strip() else "Die Notiz ist entfernt.", "success")
                return RedirectResponse(f"/technik/sitzungen/{session_id}#notiz", status_code=303)
            problem = reply.message_de or UNREACHABLE
        return await session_page(request, user, session_id, note_draft=note, note_error=problem)

    return router
