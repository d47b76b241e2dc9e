"""Office pages for customer accounts: search (words sent by POST, never in a URL) and the change
of e-mail or address."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from fw_web.domain.account_form import LABELS, current_values, read_changes
from fw_web.entrypoints.office import CustomerNumber, OfficeUser
from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.render import render
from fw_web.entrypoints.web_session import require_csrf, web_session

log = logging.getLogger(__name__)
_UNKNOWN = "Diese Kundennummer ist nicht bekannt."
_CLOSED = "Dieses Kundenkonto ist geschlossen; seine Daten wurden gelöscht und können nicht geändert werden."


def build_router() -> APIRouter:
    router = APIRouter(prefix="/buero/kunden")

    @router.post("/suche", dependencies=[Depends(require_csrf)], summary="Search customer accounts")
    async def search(request: Request, user: OfficeUser) -> Response:
        form = await request.form()
        raw = form.get("suche")
        words = " ".join(raw.split())[:100] if isinstance(raw, str) else ""
        if not words:
            return render(request, "office/customer_search.html", status_code=422, words="", items=None, total=0,
                          problem="Bitte geben Sie ein, wonach gesucht werden soll.")
        reply = await backends(request).search_customers(words)
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "office/customer_search.html", status_code=503, words=words, items=None,
                          total=0, problem=reply.message_de or UNREACHABLE)
        return render(request, "office/customer_search.html", words=words, problem=None,
                      items=reply.data.get("items", []), total=int(reply.data.get("total", 0)))

    async def _account(request: Request, number: str) -> dict[str, Any] | Response:
        reply = await backends(request).customer(number)
        if reply.status == 404:
            return render(request, "message.html", status_code=404, title="Kundenkonto", message=_UNKNOWN,
                          back="/buero/kunden")
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Kundenkonto", message=UNREACHABLE,
                          back=f"/buero/kunden/{number}")
        if reply.data.get("status") == "closed":
            return render(request, "message.html", status_code=409, title="Kundenkonto", message=_CLOSED,
                          back=f"/buero/kunden/{number}")
        return reply.data

    @router.get("/{number}/bearbeiten", summary="Form: change a customer account's e-mail or address")
    async def edit(request: Request, user: OfficeUser, number: CustomerNumber) -> Response:
        account = await _account(request, number)
        if isinstance(account, Response):
            return account
        return render(request, "office/customer_edit.html", c=account, values=current_values(account),
                      errors={}, labels=LABELS)

    @router.post("/{number}/bearbeiten", dependencies=[Depends(require_csrf)],
                 summary="Change a customer account's e-mail or address")
    async def save(request: Request, user: OfficeUser, number: CustomerNumber) -> Response:
        account = await _account(request, number)
        if isinstance(account, Response):
            return account
        values, changes, errors = read_changes(await request.form(), account)
        session = web_session(request)
        if errors:
            return render(request, "office/customer_edit.html", status_code=422, c=account, values=values,
                          errors=errors, labels=LABELS)
        if not changes:
            session.flash("Es wurde nichts geändert: die Angaben sind dieselben.", "info")
            return RedirectResponse(f"/buero/kunden/{number}", status_code=303)
        reply = await backends(request).change_customer(number, changes, user.username)
        if reply.ok:
            log.info("customer account changed", extra={"customer_number": number})
            session.flash("Die Änderungen am Kundenkonto sind gespeichert.", "success")
            return RedirectResponse(f"/buero/kunden/{number}", status_code=303)
        if reply.status == 422:
            return render(request, "office/customer_edit.html", status_code=422, c=account, values=values,
                          errors={"form": reply.message_de or "Bitte prüfen Sie die Angaben."}, labels=LABELS)
        session.flash(reply.message_de or UNREACHABLE, "error")
        return RedirectResponse(f"/buero/kunden/{number}", status_code=303)

    return router
