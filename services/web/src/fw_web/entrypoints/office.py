"""The office pages: invoices (with PDF/XML) and customer accounts (with CSV export and erasure)."""

from __future__ import annotations

import csv
import io
import logging
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from fw_contracts.text import defuse
from fw_web.domain.correction_form import CORRECTION_REASONS
from fw_web.domain.correction_form import LABELS as CORRECTION_LABELS
from fw_web.domain.formatting import BERLIN
from fw_web.domain.invoice_filters import KINDS, STATUSES, InvoiceQuery, month
from fw_web.domain.users import Role, User
from fw_web.entrypoints.public import UNREACHABLE, backends
from fw_web.entrypoints.render import render
from fw_web.entrypoints.technician import billing_state
from fw_web.entrypoints.web_session import require_csrf, require_role, web_session

log = logging.getLogger(__name__)

OfficeUser = Annotated[User, Depends(require_role(Role.OFFICE))]
InvoiceNumber = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
CustomerNumber = Annotated[str, Path(pattern=r"^K[0-9]{5,10}$")]
_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
PAGE = 50
#: The CSV export reads at most this many accounts (billing pages by 500).
EXPORT_MAX = 100_000
CSV_COLUMNS = ("customer_number", "company", "contact_name", "phone", "email", "street", "postal_code",
               "city", "country", "created_at", "technician")
CSV_HEADER = ("Kundennummer", "Firma", "Ansprechperson", "Telefon", "E-Mail", "Straße", "PLZ", "Ort", "Land",
              "Angelegt am", "Technik")
_FILES = {"pdf": ("application/pdf", "PDF"), "xml": ("application/xml", "XML (E-Rechnung)")}
#: billing's reason codes for a Storno, in German.
CANCEL_REASONS = {"wrong_amount": "Falscher Betrag", "wrong_recipient": "Falscher Empfänger",
                  "duplicate": "Doppelt ausgestellt", "goodwill": "Kulanz", "other": "Sonstiger Grund"}
#: billing's reason codes for erasing a customer account, in German.
ERASURE_REASONS = {"customer_request": "Der Kunde verlangt die Löschung (Art. 17 DSGVO)",
                   "relationship_ended": "Die Geschäftsbeziehung ist beendet"}


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection), without
    control or format characters (old data may hold them; ``fw_contracts.text.defuse``)."""
    text = "" if value is None else defuse(str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def customers_csv(items: list[dict[str, Any]]) -> str:
    """The customer accounts as CSV (semicolon, as German spreadsheets expect)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for c in items:
        address = c.get("address") or {}
        row = {**c, **{k: address.get(k) for k in ("street", "postal_code", "city", "country")}}
        writer.writerow([csv_cell(row.get(col)) for col in CSV_COLUMNS])
    return buf.getvalue()


def invoice_page(request: Request, inv: dict[str, Any], correction: dict[str, Any] | None = None,
                 status_code: int = 200) -> Response:
    """The office's page of one invoice; ``correction`` holds the correction form's values and
    errors when it comes back refused."""
    return render(request, "office/invoice.html", status_code=status_code, inv=inv, files=_FILES,
                  reasons=CANCEL_REASONS, correction_reasons=CORRECTION_REASONS, labels=CORRECTION_LABELS,
                  correction=correction)


def build_router() -> APIRouter:
    """The office's routes under ``/buero``."""
    router = APIRouter(prefix="/buero")

    @router.get("", summary="Office: invoices")
    async def overview(request: Request, user: OfficeUser,
                       nummer: Annotated[str, Query(max_length=40)] = "",
                       sitzung: Annotated[str, Query(max_length=40)] = "",
                       von: Annotated[str, Query(max_length=10)] = "", bis: Annotated[str, Query(max_length=10)] = "",
                       status: Annotated[str, Query(max_length=16)] = "", art: Annotated[str, Query(max_length=16)] = "",
                       kunde: Annotated[str, Query(max_length=16)] = "", ticket: Annotated[str, Query(max_length=16)] = "",
                       q: Annotated[str, Query(max_length=40)] = "",
                       seite: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
        api = backends(request)
        problem = None
        number = nummer.strip().upper()
        if number:
            if _NUMBER.fullmatch(number):
                return RedirectResponse(f"/buero/rechnungen/{number}", status_code=303)
            problem = "Eine Rechnungsnummer sieht so aus: FW-2026-000001."
        found: list[dict[str, Any]] | None = None
        session_billing: dict[str, Any] | None = None
        if sitzung.strip():
            try:
                session_id = uuid.UUID(sitzung.strip())
            except ValueError:
                problem = "Das ist keine gültige Sitzungskennung."
            else:
                reply = await api.invoices_for_session(session_id)
                found = reply.data.get("items", []) if reply.ok and isinstance(reply.data, dict) else []
                if reply.ok and not found:
                    # no invoice: say why (blocked, and until when the data are kept; or not billed)
                    session_billing = await billing_state(request, session_id)
        query = InvoiceQuery.parse(von, bis, status, art, kunde, ticket, q)
        invoices: list[dict[str, Any]] | None = None
        total = 0
        listing = None
        if not query.problems:
            listing = await api.invoice_list(query.billing_params(PAGE, (seite - 1) * PAGE))
            if listing.ok and isinstance(listing.data, dict):
                invoices = listing.data.get("items", [])
                total = int(listing.data.get("total", 0))
                if invoices and total == 1 and invoices[0].get("number") == query.q:  # an exact number
                    return RedirectResponse(f"/buero/rechnungen/{query.q}", status_code=303)
        today = datetime.now(BERLIN).date()
        return render(request, "office/invoices.html", invoices=invoices, found=found, problem=problem,
                      session_billing=session_billing, query=query, total=total, page=seite,
                      pages=max(1, -(-total // PAGE)), statuses=STATUSES, kinds=KINDS,
                      this_month=month(today), last_month=month(today, 1),
                      nummer=nummer, sitzung=sitzung, billing_down=bool(listing and listing.unreachable),
                      today=today.isoformat(), month_start=today.replace(day=1).isoformat())

    @router.get("/rechnungen/{number}", summary="One invoice")
    async def invoice(request: Request, user: OfficeUser, number: InvoiceNumber) -> Response:
        api = backends(request)
        reply = await api.invoice(number)
        if reply.status == 404:
            if (await api.cancellation(number)).ok:  # a Storno number was searched for
                return RedirectResponse(f"/buero/stornos/{number}", status_code=303)
            return render(request, "message.html", status_code=404, title="Rechnung",
                          message="Diese Rechnungsnummer ist nicht bekannt.", back="/buero")
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Rechnung", message=UNREACHABLE,
                          back="/buero")
        return invoice_page(request, reply.data)

    @router.get("/rechnungen/{number}/{kind}", summary="Download the archived invoice (pdf or xml)")
    async def invoice_file(request: Request, user: OfficeUser, number: InvoiceNumber,
                           kind: Annotated[str, Path(pattern="^(pdf|xml)$")]) -> Response:
        reply = await backends(request).invoice_file(number, kind)
        media, label = _FILES[kind]
        if reply.ok:
            return Response(reply.content, media_type=reply.headers.get("content-type", media), headers={
                "Content-Disposition": f'attachment; filename="{number}.{kind}"'})
        if reply.unreachable or reply.status >= 500:
            message = UNREACHABLE
        else:  # 404 (no such document, e.g. no XML for a small invoice) or a billing without the route
            message = f"Für die Rechnung {number} liegt keine {label}-Datei vor."
        return render(request, "message.html", status_code=404 if not reply.unreachable else 503,
                      title="Rechnung herunterladen", message=message, back=f"/buero/rechnungen/{number}")

    @router.get("/kunden", summary="Customer accounts")
    async def customers(request: Request, user: OfficeUser, seite: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
        reply = await backends(request).customers(PAGE, (seite - 1) * PAGE)
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Kundenkonten", message=UNREACHABLE)
        total = int(reply.data.get("total", 0))
        return render(request, "office/customers.html", items=reply.data.get("items", []), total=total,
                      page=seite, pages=max(1, -(-total // PAGE)))

    @router.get("/kunden.csv", summary="All customer accounts as CSV")
    async def customers_export(request: Request, user: OfficeUser) -> Response:
        api = backends(request)
        own = await api.export("customers")
        if own.ok:  # billing's accounting export (same columns as its invoices export)
            return Response(own.content, media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="kundenkonten.csv"'})
        items: list[dict[str, Any]] = []
        offset = 0
        while offset < EXPORT_MAX:
            reply = await api.customers(500, offset)
            if not reply.ok or not isinstance(reply.data, dict):
                return render(request, "message.html", status_code=503, title="Export", message=UNREACHABLE)
            page = reply.data.get("items", [])
            items += page
            offset += len(page)
            if not page or offset >= int(reply.data.get("total", 0)):
                break
        body = "\ufeff" + customers_csv(items)  # the BOM makes spreadsheets read UTF-8 umlauts right
        return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="kundenkonten.csv"'})

    @router.get("/kunden/{number}", summary="One customer account")
    async def customer(request: Request, user: OfficeUser, number: CustomerNumber) -> Response:
        reply = await backends(request).customer(number)
        if reply.status == 404:
            return render(request, "message.html", status_code=404, title="Kundenkonto",
                          message="Diese Kundennummer ist nicht bekannt.", back="/buero/kunden")
        if not reply.ok or not isinstance(reply.data, dict):
            return render(request, "message.html", status_code=503, title="Kundenkonto", message=UNREACHABLE)
        invoices = await backends(request).invoice_list({"customer_number": number, "limit": 50})
        account_invoices = invoices.data if invoices.ok and isinstance(invoices.data, dict) else None
        return render(request, "office/customer.html", c=reply.data, reasons=ERASURE_REASONS,
                      account_invoices=account_invoices)

    @router.post("/kunden/{number}/loeschen", dependencies=[Depends(require_csrf)],
                 summary="Erase a customer account's personal data (GDPR Art. 17)")
    async def erase_customer(request: Request, user: OfficeUser, number: CustomerNumber,
                             reason: Annotated[str, Form(max_length=32)] = "",
                             confirmed: Annotated[str, Form(max_length=8)] = "") -> Response:
        session = web_session(request)
        back = RedirectResponse(f"/buero/kunden/{number}", status_code=303)
        if reason not in ERASURE_REASONS or confirmed != "on":
            session.flash("Bitte wählen Sie einen Grund und bestätigen Sie die Löschung.", "error")
            return back
        # who asked: the signed-in office user's name (a staff id, never free text)
        reply = await backends(request).erase_customer(number, reason, user.username)
        if reply.ok:
            log.info("customer account erased", extra={"customer_number": number})
            session.flash(f"Die personenbezogenen Daten des Kundenkontos {number} sind gelöscht. Die "
                          "Kundennummer bleibt auf den ausgestellten Rechnungen erhalten.", "success")
        elif reply.status == 409:
            session.flash(reply.message_de or "Dieses Kundenkonto wurde bereits gelöscht.", "info")
        elif reply.status == 404:
            session.flash("Diese Kundennummer ist nicht bekannt.", "error")
            return RedirectResponse("/buero/kunden", status_code=303)
        else:
            session.flash(reply.message_de or UNREACHABLE, "error")
        return back

    return router
