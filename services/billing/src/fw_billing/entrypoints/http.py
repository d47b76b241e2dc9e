"""HTTP routes of billing: read-only lookups of invoices, sessions and customer accounts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fw_platform.http import problem

from fw_billing.adapters.views import BillingViews, CustomerView, InvoiceView, SessionBillingView

InvoiceNumber = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
CustomerNumber = Annotated[str, Path(pattern=r"^K[0-9]{5,10}$")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown (JSON: code, message_de, message_en)"}}


class InvoiceList(BaseModel):
    items: list[InvoiceView]


class CustomerList(BaseModel):
    items: list[CustomerView]
    total: int
    limit: int
    offset: int


def _not_found(code: str, de: str, en: str) -> JSONResponse:
    return problem(404, code, de, en)


def router(views: BillingViews) -> APIRouter:
    """The ``/api`` routes, reading through ``views``."""
    api = APIRouter(prefix="/api", tags=["billing"])

    @api.get("/invoices/{number}", response_model=InvoiceView, responses=_NOT_FOUND,
             summary="One invoice (with the recipient if it is a full invoice)")
    async def get_invoice(number: InvoiceNumber) -> InvoiceView | JSONResponse:
        invoice = await views.invoice(number)
        if invoice is None:
            return _not_found("invoice_not_found", "Diese Rechnungsnummer ist nicht bekannt.",
                              "There is no invoice with this number.")
        return invoice

    @api.get("/invoices", response_model=InvoiceList, summary="The invoice of a session (0 or 1 items)")
    async def find_invoices(session_id: Annotated[uuid.UUID, Query()]) -> InvoiceList:
        return InvoiceList(items=await views.invoices_for_session(session_id))

    @api.get("/sessions/{session_id}", response_model=SessionBillingView, responses=_NOT_FOUND,
             summary="Billing status of an ended session: not_billed, blocked or invoiced")
    async def get_session(session_id: uuid.UUID) -> SessionBillingView | JSONResponse:
        found = await views.session(session_id)
        if found is None:
            return _not_found("session_not_found", "Zu dieser Sitzung liegt keine Abrechnung vor.",
                              "Billing has no record of this session.")
        return found

    @api.get("/customers/{customer_number}", response_model=CustomerView, responses=_NOT_FOUND,
             summary="One customer account")
    async def get_customer(customer_number: CustomerNumber) -> CustomerView | JSONResponse:
        customer = await views.customer(customer_number)
        if customer is None:
            return _not_found("customer_not_found", "Diese Kundennummer ist nicht bekannt.",
                              "There is no customer with this number.")
        return customer

    @api.get("/customers", response_model=CustomerList, summary="Customer accounts, by number")
    async def list_customers(limit: Annotated[int, Query(ge=1, le=500)] = 100,
                             offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> CustomerList:
        items, total = await views.customers(limit, offset)
        return CustomerList(items=items, total=total, limit=limit, offset=offset)

    return api
