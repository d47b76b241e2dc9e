"""More office pages: Storno, cancellation documents, failed deliveries, the accounting export."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from fw_web.domain.correction_form import billing_field_errors, read_correction
from fw_web.entrypoints.office import CANCEL_REASONS, InvoiceNumber, OfficeUser, invoice_page
from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.render import render
from fw_web.entrypoints.web_session import require_csrf, web_session

log = logging.getLogger(__name__)


def _items(data: Any) -> list[dict[str, Any]]:
    found = data.get("items", []) if isinstance(data, dict) else data if isinstance(data, list) else []
    return [d for d in found if isinstance(d, dict)]


def build_router() -> APIRouter:
    """Routes under ``/buero`` that change or export documents."""
    router = APIRouter(prefix="/buero")

    @router.post("/rechnungen/{number}/stornieren", dependencies=[Depends(require_csrf)],
                 summary="Cancel an invoice (Storno)")
    async def cancel(request: Request, user: OfficeUser, number: InvoiceNumber,
                     reason_code: Annotated[str, Form(max_length=32)] = "",
                     confirmed: Annotated[str, Form(max_length=8)] = "") -> Response:
        session = web_session(request)
        if reason_code not in CANCEL_REASONS or confirmed != "on":
            session.flash("Bitte wählen Sie einen Grund und bestätigen Sie den Storno.", "error")
            return RedirectResponse(f"/buero/rechnungen/{number}", status_code=303)
        reply = await backends(request).cancel_invoice(number, reason_code, user.username)
        if reply.status == 201 and isinstance(reply.data, dict):
            storno = str(reply.data["cancellation_number"])
            log.info("invoice cancelled", extra={"invoice_number": number})
            session.flash(f"Die Rechnung {number} ist storniert (Stornorechnung {storno}).", "success")
            return RedirectResponse(f"/buero/stornos/{storno}", status_code=303)
        session.flash(reply.message_de or UNREACHABLE, "error")
        return RedirectResponse(f"/buero/rechnungen/{number}", status_code=303)

    @router.post("/rechnungen/{number}/korrigieren", dependencies=[Depends(require_csrf)],
                 summary="Issue the corrected invoice of a cancelled invoice (Rechnungskorrektur)")
    async def correct(request: Request, user: OfficeUser, number: InvoiceNumber) -> Response:
        api = backends(request)
        current = await api.invoice(number)
        if not current.ok or not isinstance(current.data, dict):
            web_session(request).flash("Diese Rechnungsnummer ist nicht bekannt." if current.status == 404
                                       else UNREACHABLE, "error")
            return RedirectResponse("/buero", status_code=303)
        values, body, errors = read_correction(await request.form())
        if not errors:
            reply = await api.correct_invoice(number, body, user.username)
            if reply.status == 201 and isinstance(reply.data, dict):
                corrected = str(reply.data["invoice_number"])
                log.info("invoice corrected", extra={"invoice_number": corrected})
                web_session(request).flash(
                    f"Die korrigierte Rechnung {corrected} ersetzt die Rechnung {number}.", "success")
                return RedirectResponse(f"/buero/rechnungen/{corrected}", status_code=303)
            data = reply.data if isinstance(reply.data, dict) else {}
            errors = billing_field_errors(data.get("errors") or []) if reply.status == 422 else {}
            if not errors:
                errors = {"form": reply.message_de or UNREACHABLE}
            status = reply.status if reply.status in (404, 409, 422) else 503
        else:
            status = 422
        return invoice_page(request, current.data, correction={"values": values, "errors": errors},
                            status_code=status)

    @router.get("/stornos/{number}", summary="One cancellation (Storno)")
    async def cancellation(request: Request, user: OfficeUser, number: InvoiceNumber) -> Response:
        reply = await backends(request).cancellation(number)
        if reply.status == 404:
            return render(request, "message.html", status_code=404, title="Stornorechnung",
                          message="Diese Stornonummer ist nicht bekannt.", back="/buero")
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Stornorechnung", message=UNREACHABLE)
        return render(request, "office/cancellation.html", c=reply.data, reasons=CANCEL_REASONS)

    @router.get("/zustellungen", summary="Invoice e-mails that could not be delivered")
    async def deliveries(request: Request, user: OfficeUser) -> Response:
        api = backends(request)
        reply = await api.failed_deliveries()
        items: list[dict[str, Any]] | None = None
        if reply.ok:
            items = _items(reply.data)
            # still being retried, but with a problem the office should know of (server away)
            pending = await api.pending_deliveries()
            items += [d for d in _items(pending.data) if d.get("problem_de")] if pending.ok else []
        return render(request, "office/deliveries.html", items=items, available=reply.ok,
                      unreachable=reply.unreachable)

    @router.post("/zustellungen/{delivery_id}/zugestellt", dependencies=[Depends(require_csrf)],
                 summary="Record that a document was handed over by hand")
    async def mark_delivered(request: Request, user: OfficeUser,
                             delivery_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
        reply = await backends(request).mark_delivered(delivery_id)
        session = web_session(request)
        if reply.ok:
            session.flash("Als zugestellt vermerkt. Die für den Versand gespeicherte E-Mail-Adresse wird "
                          "jetzt gelöscht.", "success")
        else:
            session.flash(reply.message_de or UNREACHABLE, "error")
        return RedirectResponse("/buero/zustellungen", status_code=303)

    @router.post("/zustellungen/{delivery_id}/wiederholen", dependencies=[Depends(require_csrf)],
                 summary="Send a failed delivery again")
    async def retry(request: Request, user: OfficeUser,
                    delivery_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
        reply = await backends(request).retry_delivery(delivery_id)
        session = web_session(request)
        if reply.ok:
            session.flash("Die Zustellung wird erneut versucht.", "success")
        else:
            session.flash(reply.message_de or UNREACHABLE, "error")
        return RedirectResponse("/buero/zustellungen", status_code=303)

    @router.get("/export/rechnungen.csv", summary="Invoices and cancellations of a period, for accounting")
    async def export_invoices(request: Request, user: OfficeUser, von: Annotated[date, Query()],
                              bis: Annotated[date, Query()]) -> Response:
        if bis < von:
            return render(request, "message.html", status_code=422, title="Export",
                          message="Das Ende des Zeitraums liegt vor dem Anfang.", back="/buero")
        reply = await backends(request).export("invoices", {"from": von.isoformat(), "to": bis.isoformat()})
        if not reply.ok:
            message = UNREACHABLE if reply.unreachable or reply.status >= 500 else \
                "Der Abrechnungsdienst bietet diesen Export (noch) nicht an."
            return render(request, "message.html", status_code=503 if reply.unreachable else 404,
                          title="Export", message=message, back="/buero")
        filename = f"rechnungen_{von:%Y%m%d}_{bis:%Y%m%d}.csv"
        return Response(reply.content, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    return router
