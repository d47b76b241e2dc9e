"""Request/reply contract of the personal-data vault (owned by retention).

These messages DO carry personal data. They travel only over core NATS request/reply on
``vault.v1.*`` subjects, which the event stream does not capture, and are never logged.

Requests are checked in full; stored entries and replies are decoded with
``context=fw_contracts.address.STORED`` (an address stored under older rules stays readable).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, StringConstraints

from fw_contracts.address import PostalAddress
from fw_contracts.tax_ids import check_leitweg_id, check_vat_id

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: USt-IdNr. of an EU business customer, normalised (``ATU12345678``); format per member state.
VatId = Annotated[str, StringConstraints(max_length=20), AfterValidator(check_vat_id)]
#: Buyer reference of a public customer (XRechnung BT-10), check digits verified.
LeitwegId = Annotated[str, StringConstraints(max_length=46), AfterValidator(check_leitweg_id)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: The vault's name for the one address value object (``fw_contracts.address``).
Address = PostalAddress


class PersonalData(_Frozen):
    """What the customer typed at intake (normalised)."""

    company: Text
    contact_name: Text
    phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,15}$")]  # E.164
    email: EmailStr | None = None
    address: PostalAddress | None = None
    #: The customer's USt-IdNr. (reverse charge for an EU business outside Germany).
    vat_id: VatId | None = None
    #: Leitweg-ID of a public buyer: the invoice becomes an XRechnung.
    buyer_reference: LeitwegId | None = None


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
    #: The caller may not do this (e.g. read for a purpose that is not its own).
    FORBIDDEN = "forbidden"
    INTERNAL = "internal"
    #: The request's outcome was already decided the other way (``ClaimRequest``).
    CLAIMED = "claimed"


class PutRequest(_Frozen):
    request_id: uuid.UUID
    data: PersonalData


#: Why a caller reads a request's data (purpose limitation). Each caller is bound to its own
#: purposes by the vault: session to ``queue``, billing to ``billing`` and ``customer_account``.
Purpose = Literal["queue", "billing", "customer_account", "data_subject_access", "delivery"]


class GetRequest(_Frozen):
    request_id: uuid.UUID
    #: Why (purpose limitation); who asks is the subject's last token. Both are in the access log.
    purpose: Purpose


class StatementRequest(_Frozen):
    request_id: uuid.UUID
    statement: PromotionStatement


class AddressRequest(_Frozen):
    """Add or replace the billing address of a stored request (``vault.v1.address``).

    Sent by session when billing is blocked for want of an address; refused with ``erased`` once
    the request was erased and with ``not_found`` when the vault never stored the request.
    """

    request_id: uuid.UUID
    address: PostalAddress


#: The two ways a waiting request can end before anyone works on it: a technician starts the
#: session (claimed by session) or the customer withdraws (claimed by intake).
ClaimOutcome = Literal["session_started", "withdrawn"]


class ClaimRequest(_Frozen):
    """Decide the request's outcome, once (``vault.v1.claim.<caller>``).

    The first claim wins and is kept; the same claim again is ``ok`` (a retry), the other one is
    refused with ``claimed``. So a start and a withdrawal sent at the same moment cannot both
    succeed: the vault's per-request lock serialises them.
    """

    request_id: uuid.UUID
    outcome: ClaimOutcome


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
