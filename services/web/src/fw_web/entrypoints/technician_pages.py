"""More technician pages: the confirmation before ending a session, and the lead's view of every
running session with its customer."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.render import render
from fw_web.entrypoints.technician import NOT_YOURS, Technician, _elapsed


def build_router() -> APIRouter:
    """Routes under ``/technik`` added for the working day."""
    router = APIRouter(prefix="/technik")

    @router.get("/sitzungen/{session_id}/beenden", summary="Confirm ending a session")
    async def confirm_end(request: Request, user: Technician, session_id: uuid.UUID) -> Response:
        api = backends(request)
        reply = await api.session(session_id, user.username)
        if reply.status == 403:
            return render(request, "technician/not_yours.html", status_code=403, message=NOT_YOURS,
                          session_id=session_id)
        if reply.status == 404:
            return render(request, "message.html", status_code=404, title="Sitzung",
                          message="Diese Sitzung ist nicht bekannt.", back="/technik")
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Sitzung", message=UNREACHABLE,
                          back="/technik")
        contact = await api.session_contact(session_id, user.username)
        caller = contact.data if contact.ok and isinstance(contact.data, dict) else {"contact": "unavailable"}
        return render(request, "technician/confirm_end.html", s=reply.data, caller=caller,
                      elapsed=_elapsed(reply.data))

    @router.get("/alle", summary="Every running session (lead view)")
    async def all_running(request: Request, user: Technician) -> Response:
        reply = await backends(request).running_sessions()
        items: list[dict[str, Any]] | None = None
        if reply.ok and isinstance(reply.data, dict) and isinstance(reply.data.get("items"), list):
            items = [{**i, "elapsed": _elapsed(i)} for i in reply.data["items"] if isinstance(i, dict)]
        return render(request, "technician/all_running.html", items=items,
                      problem=None if items is not None else (reply.message_de or UNREACHABLE))

    return router
