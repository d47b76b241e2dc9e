"""More office pages: the print view of an invoice."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fw_web.entrypoints.office import InvoiceNumber, OfficeUser
from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.render import render


def build_router() -> APIRouter:
    """Routes under ``/buero`` added for the working day (print view)."""
    router = APIRouter(prefix="/buero")

    @router.get("/druck/rechnungen/{number}", summary="Print view of one invoice")
    async def invoice_print(request: Request, user: OfficeUser, number: InvoiceNumber) -> Response:
        reply = await backends(request).invoice(number)
        if reply.status == 404:
            return render(request, "message.html", status_code=404, title="Rechnung",
                          message="Diese Rechnungsnummer ist nicht bekannt.", back="/buero")
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Rechnung", message=UNREACHABLE,
                          back="/buero")
        inv = reply.data
        note = None
        if inv.get("session_id"):
            # the technician's work note as printed on the invoice line (staff only, never logged)
            found = await backends(request).work_note(uuid.UUID(str(inv["session_id"])))
            if found.ok and isinstance(found.data, dict):
                note = found.data.get("note")
        return render(request, "office/invoice_print.html", inv=inv, work_note=note)

    return router
