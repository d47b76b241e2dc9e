"""HTTP route of the office's invoice list: ``GET /api/invoice-list`` (paged, newest first)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fw_billing.adapters.invoice_list import (
    InvoiceFilter,
    InvoiceListView,
    InvoiceStatus,
    InvoiceSummary,
    KindFilter,
)
from fw_platform.http import problem

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid filter (JSON: code, message_de, message_en, errors)"}}


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    total: int
    limit: int
    offset: int


def router(view: InvoiceListView) -> APIRouter:
    """``/api/invoice-list`` reading through ``view``."""
    api = APIRouter(prefix="/api", tags=["billing"])

    @api.get("/invoice-list", response_model=InvoicePage, responses=_ERRORS,
             summary="Invoices, newest first, paged and filtered (no recipient data)",
             description="Filters: issue period `from`/`to` (calendar days in Europe/Berlin, both "
                         "inclusive), `status` (issued; cancelled = Storno, no corrected invoice "
                         "yet; corrected = Storno and corrected invoice), `kind` (small — `kleinbetrag` is accepted too —, full, "
                         "e_invoice = full with XML), `customer_number`, `ticket`; `q` searches an "
                         "invoice or Storno number (or its end, e.g. 000123), a ticket code or a "
                         "customer number. Items carry ids, numbers, amounts and status only; `corrects` "
                         "on a corrected invoice names the invoice it replaces, `corrected_by` the "
                         "reverse.")
    async def invoice_list(
        from_: Annotated[date | None, Query(alias="from")] = None,
        to: Annotated[date | None, Query()] = None,
        status: Annotated[InvoiceStatus | None, Query()] = None,
        kind: Annotated[KindFilter | None, Query()] = None,
        customer_number: Annotated[str | None, Query(pattern=r"^K[0-9]{5,10}$")] = None,
        ticket: Annotated[str | None, Query(pattern=r"^[0-9A-Z]{4}-[0-9A-Z]{3}$")] = None,
        q: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z][0-9A-Za-z-]{0,31}$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> InvoicePage | JSONResponse:
        if from_ and to and to < from_:
            de, en = "Das Ende des Zeitraums liegt vor dem Anfang.", "The end of the period is before its start."
            return problem(422, "invalid_input", de, en, errors=[
                {"field": "to", "code": "invalid_period", "message_de": de, "message_en": en}])
        flt = InvoiceFilter(issued_from=from_, issued_to=to, status=status, kind=kind,
                            customer_number=customer_number, ticket=ticket,
                            search=q.upper() if q else None)
        items, total = await view.page(flt, limit, offset)
        return InvoicePage(items=items, total=total, limit=limit, offset=offset)

    return api
