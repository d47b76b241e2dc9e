"""HTTP routes of billing: lookups of invoices, sessions and customer accounts, and the erasure
of a customer account (GDPR Art. 17)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from fw_billing.adapters.views import BillingViews, CustomerView, InvoiceView, SessionBillingView
from fw_billing.application.customers import AccountNotFound, AlreadyErased
from fw_contracts.events import AccountErasureReason, CustomerAccountErased
from fw_platform.http import problem

InvoiceNumber = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
CustomerNumber = Annotated[str, Path(pattern=r"^K[0-9]{5,10}$")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown (JSON: code, message_de, message_en)"}}
_ERASURE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    409: {"description": "Already erased: nothing changed (JSON: code, message_de, message_en, "
                         "erased_at, reason)"},
    422: {"description": "Invalid reason or staff id (JSON: code, message_de, message_en, errors)"},
}
_JSON_TIME = TypeAdapter(datetime)  # the same text as a response model's datetime
#: Erases a customer account: (customer number, reason, staff id) -> the event it emitted.
EraseCustomer = Callable[[str, AccountErasureReason, str], Awaitable[CustomerAccountErased]]


class InvoiceList(BaseModel):
    items: list[InvoiceView]


class CustomerList(BaseModel):
    items: list[CustomerView]
    total: int
    limit: int
    offset: int


class ErasureRequest(BaseModel):
    """Who asked and why; deliberately no free text (it could hold personal data)."""

    model_config = ConfigDict(extra="forbid")

    reason: AccountErasureReason
    #: The staff id of the person who has the account erased (e.g. the office user's name).
    requested_by: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,31}$")]


class ErasureResult(BaseModel):
    customer_number: str
    status: str = "closed"
    reason: AccountErasureReason
    erased_at: datetime


def _not_found(code: str, de: str, en: str) -> JSONResponse:
    return problem(404, code, de, en)


def router(views: BillingViews, erase: EraseCustomer | None = None) -> APIRouter:
    """The ``/api`` routes, reading through ``views``; ``erase`` adds the erasure route."""
    api = APIRouter(prefix="/api", tags=["billing"])

    @api.get("/invoices/{number}", response_model=InvoiceView, responses=_NOT_FOUND,
             summary="One invoice (with the recipient if it is a full invoice)")
    async def get_invoice(number: InvoiceNumber) -> InvoiceView | JSONResponse:
        invoice = await views.invoice(number)
        if invoice is None:
            return _not_found("invoice_not_found", "Diese Rechnungsnummer ist nicht bekannt.",
                              "There is no invoice with this number.")
        return invoice

    @api.get("/invoices", response_model=InvoiceList, summary="The invoices of a session: the original, and corrected ones after a Storno")
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

    if erase is not None:
        _erasure_route(api, erase)
    return api


def _erasure_route(api: APIRouter, erase: EraseCustomer) -> None:
    @api.post("/customers/{customer_number}/erasure", response_model=ErasureResult,
              responses=_ERASURE_ERRORS,
              summary="Close a customer account and erase its personal data (GDPR Art. 17)",
              description="Deletes company, contact, phone, e-mail, address and the promotion "
                          "statement of the account; the customer number stays (it is on issued "
                          "invoices, which are kept for 8 years with their recipient copy, §14b UStG) "
                          "and is never reused. Emits CustomerAccountErased. A second call changes "
                          "nothing and answers 409 already_erased with the first erasure's time and reason.")
    async def erase_customer(customer_number: CustomerNumber, body: ErasureRequest) -> ErasureResult | JSONResponse:
        try:
            event = await erase(customer_number, body.reason, body.requested_by)
        except AlreadyErased as exc:
            return problem(409, exc.code,
                           "Die personenbezogenen Daten dieses Kundenkontos wurden bereits gelöscht; "
                           "es wurde nichts geändert.",
                           "This customer account's personal data were already erased; nothing was changed.",
                           erased_at=_JSON_TIME.dump_python(exc.closed_at, mode="json"), reason=exc.reason)
        except AccountNotFound:
            return _not_found("customer_not_found", "Diese Kundennummer ist nicht bekannt.",
                              "There is no customer with this number.")
        return ErasureResult(customer_number=event.customer_number, reason=event.reason,
                             erased_at=event.erased_at)
