"""HTTP routes of working with customer accounts: search, and change of e-mail or address.

The search words come in a POST body (they may be a name): never in a URL, never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from fw_billing.adapters.views import BillingViews, CustomerView
from fw_billing.application.account_changes import (
    UNCHANGED,
    AccountChange,
    AccountClosed,
    AccountUnknown,
    NothingChanged,
)
from fw_contracts.address import PostalAddress
from fw_contracts.events import CustomerAccountChanged
from fw_platform.http import problem

CustomerNumber = Annotated[str, Path(pattern=r"^K[0-9]{5,10}$")]
#: Changes an account: (customer number, change, staff id) -> the event it emitted.
ChangeAccount = Callable[[str, AccountChange, str], Awaitable[CustomerAccountChanged]]
#: The search reads at most this many accounts (regular customers: a few thousand at most).
SEARCH_MAX = 100_000
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown customer number"},
    409: {"description": "The account is closed (erased): nothing can be changed"},
    422: {"description": "Invalid input, or nothing would change (JSON: code, message_de, message_en)"},
}


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Part of the customer number, company, contact, e-mail, phone, street or city.
    q: Annotated[str, Field(min_length=1, max_length=100)]
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0, le=10**6)] = 0


class SearchResult(BaseModel):
    items: list[CustomerView]
    total: int
    limit: int
    offset: int


class ChangeRequest(BaseModel):
    """Only the fields sent are changed; ``null`` removes the e-mail or the address."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    address: PostalAddress | None = None
    #: The staff id of who changes the account (the office user's name).
    changed_by: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,31}$")]


def router(views: BillingViews, change: ChangeAccount) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["billing"])

    @api.post("/customers/search", response_model=SearchResult, summary="Search customer accounts",
              description="Case-insensitive part of the customer number, company, contact, e-mail, phone, "
                          "street, postal code or city (closed accounts: the number only). The words "
                          "come in the body, never in the URL.")
    async def search(body: SearchRequest) -> SearchResult:
        needle = " ".join(body.q.split()).casefold()
        items, total = await views.search_customers(needle, body.limit, body.offset, at_most=SEARCH_MAX)
        return SearchResult(items=items, total=total, limit=body.limit, offset=body.offset)

    @api.patch("/customers/{customer_number}", response_model=CustomerView, responses=_ERRORS,
               summary="Change an open account's e-mail or address",
               description="Emits CustomerAccountChanged with the changed categories and the staff id, "
                           "never the values. Issued invoices keep the recipient they were issued to.")
    async def change_account(customer_number: CustomerNumber, body: ChangeRequest) -> CustomerView | JSONResponse:
        sent = body.model_fields_set
        requested = AccountChange(
            email=(str(body.email) if body.email else None) if "email" in sent else UNCHANGED,
            address=(body.address.model_dump(mode="json") if body.address else None) if "address" in sent
            else UNCHANGED)
        try:
            await change(customer_number, requested, body.changed_by)
        except AccountUnknown:
            return problem(404, "customer_not_found", "Diese Kundennummer ist nicht bekannt.",
                           "There is no customer with this number.")
        except AccountClosed:
            return problem(409, "account_closed", "Dieses Kundenkonto ist geschlossen; seine Daten wurden "
                           "gelöscht und können nicht geändert werden.",
                           "This customer account is closed; its data were erased and cannot be changed.")
        except NothingChanged:
            return problem(422, "invalid_input", "Es wurde nichts geändert: die Angaben sind dieselben.",
                           "Nothing changed: the values are the same.",
                           errors=[{"field": "email", "code": "nothing_changed",
                                    "message_de": "Es wurde nichts geändert.", "message_en": "Nothing changed."}])
        found = await views.customer(customer_number)
        assert found is not None
        return found

    return api


