"""Request/reply contract of the personal-data vault (owned by retention).

These messages DO carry personal data. They travel only over core NATS request/reply on
``vault.v1.*`` subjects, which the event stream does not capture, and are never logged.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Frozen):
    street: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=10)]
    city: Text
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "DE"


class PersonalData(_Frozen):
    """What the customer typed at intake (normalised)."""

    company: Text
    contact_name: Text
    phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,15}$")]  # E.164
    email: EmailStr | None = None
    address: Address | None = None


class PromotionStatement(_Frozen):
    """The customer's statement that they want to become a regular customer, as said."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    technician: str
    stated_at: AwareDatetime


class VaultError(StrEnum):
    ERASED = "erased"
    NOT_FOUND = "not_found"
    EXISTS = "exists"
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    INTERNAL = "internal"


class PutRequest(_Frozen):
    request_id: uuid.UUID
    data: PersonalData


class GetRequest(_Frozen):
    request_id: uuid.UUID
    #: Who asks and why (purpose limitation), recorded in the vault's access log. ``delivery``
    #: (billing's e-mail delivery) is answered with ``VaultReply.delivery_email`` only, also
    #: after the first erasure step kept just that address (LEGAL.md L21).
    purpose: Literal["queue", "billing", "customer_account", "data_subject_access", "delivery"]


class StatementRequest(_Frozen):
    request_id: uuid.UUID
    statement: PromotionStatement


class AddressRequest(_Frozen):
    """Add or replace the billing address of a stored request (``vault.v1.address``).

    Sent by session when billing is blocked for want of an address; refused with ``erased`` once
    the request was erased and with ``not_found`` when the vault never stored the request.
    """

    request_id: uuid.UUID
    address: Address


class VaultEntry(_Frozen):
    request_id: uuid.UUID
    data: PersonalData
    statement: PromotionStatement | None = None
    stored_at: AwareDatetime


class VaultReply(_Frozen):
    ok: bool
    error: VaultError | None = None
    #: Only set on a successful get.
    entry: VaultEntry | None = None
    #: Set when error == erased.
    erased_at: AwareDatetime | None = None
    #: Only on a successful get for purpose ``delivery``: the address the invoice is e-mailed to
    #: (None: the customer gave none).
    delivery_email: EmailStr | None = None
