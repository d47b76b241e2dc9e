"""More technician pages: the confirmation before ending a session, and the lead's view of every
running session with its customer."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.render import render
from fw_web.entrypoints.technician import Technician, _elapsed, own_session


def build_router() -> APIRouter:
    """Routes under ``/technik`` added for the working day."""
    router = APIRouter(prefix="/technik")

    @router.get("/sitzungen/{session_id}/beenden", summary="Confirm ending a session")
    async def confirm_end(request: Request, user: Technician, session_id: uuid.UUID) -> Response:
        session = await own_session(request, user, session_id, back="/technik")
        if isinstance(session, Response):
            return session
        contact = await backends(request).session_contact(session_id, user.username)
        caller = contact.data if contact.ok and isinstance(contact.data, dict) else {"contact": "unavailable"}
        return render(request, "technician/confirm_end.html", s=session, caller=caller,
                      elapsed=_elapsed(session))

    @router.get("/alle", summary="Every running session (lead view)")
    async def all_running(request: Request, user: Technician) -> Response:
        reply = await backends(request).running_sessions()
        items: list[dict[str, Any]] | None = None
        if reply.ok and isinstance(reply.data, dict) and isinstance(reply.data.get("items"), list):
            items = [{**i, "elapsed": _elapsed(i)} for i in reply.data["items"] if isinstance(i, dict)]
        return render(request, "technician/all_running.html", items=items,
                      problem=None if items is not None else (reply.message_de or UNREACHABLE))

    return router
