"""The office page of parked messages: events a service could not handle, from every service.

Only where and why (service, consumer, stream position, reason code, time), never the content:
the services' ``/api/parked-messages`` do not hand it out.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fw_web.entrypoints.office import OfficeUser
from fw_web.entrypoints.public import backends
from fw_web.entrypoints.render import render

#: The platform's reason codes, in German.
REASONS = {"undecodable": "Nicht lesbar (kein gültiges Ereignis)",
           "rejected": "Abgewiesen (kann nie verarbeitet werden)",
           "failing": "Verarbeitung wiederholt fehlgeschlagen",
           "unclassified": "Ohne Einordnung (vor der Einführung der Codes geparkt)"}


def build_router() -> APIRouter:
    """``/buero/geparkt``."""
    router = APIRouter(prefix="/buero")

    @router.get("/geparkt", summary="Parked messages of all services")
    async def parked(request: Request, user: OfficeUser) -> Response:
        replies = await backends(request).parked_messages()
        items: list[dict[str, Any]] = []
        unreachable: list[str] = []
        for service, reply in replies.items():
            if reply.ok and isinstance(reply.data, dict):
                items += [{**item, "service": service} for item in reply.data.get("items", [])
                          if isinstance(item, dict)]
            else:
                unreachable.append(service)
        items.sort(key=lambda i: str(i.get("parked_at", "")), reverse=True)
        return render(request, "office/parked.html", items=items, unreachable=unreachable, reasons=REASONS)

    return router
