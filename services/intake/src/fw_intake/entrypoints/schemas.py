"""The HTTP request and response bodies, and the plain-language texts of intake's own error codes.

Error messages never contain the input: every custom error is a ``PydanticCustomError`` with a
fixed text, and ``fw_platform.http.install`` turns errors into ``{field, code, message_*}`` only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fw_contracts.address import ADDRESS_MESSAGES, PostalAddress
from fw_contracts.events import CustomerType
from fw_contracts.tax_ids import LEITWEG_ID_CHECK, LEITWEG_ID_INVALID, VAT_ID_CHECK, VAT_ID_INVALID
from fw_contracts.text import TEXT_MESSAGES, CleanLine, clean_validator
from fw_intake.domain.phone import InvalidPhone, normalise_phone
from fw_intake.domain.request import RequestStatus

MAX_TEXT = 200
#: Free text the customer types: NFC, no control or format characters, something visible.
Text = CleanLine
_EMAIL = TypeAdapter(EmailStr)

#: (German, English) per custom error code, passed to ``fw_platform.http.install``.
MESSAGES: dict[str, tuple[str, str]] = {
    "phone_invalid": (
        "Bitte geben Sie eine gültige Telefonnummer an, z. B. 0170 1234567 oder +49 30 123456.",
        "Please enter a valid phone number, e.g. 0170 1234567 or +49 30 123456."),
    "email_invalid": (
        "Bitte geben Sie eine gültige E-Mail-Adresse an oder lassen Sie das Feld leer.",
        "Please enter a valid e-mail address or leave the field out."),
    "terms_not_accepted": (
        "Bitte bestätigen Sie die Nutzungsbedingungen.",
        "Please accept the terms of use."),
    "terms_version_unknown": (
        "Diese Fassung der Nutzungsbedingungen ist uns nicht bekannt. Bitte laden Sie die Seite neu.",
        "This version of the terms of use is unknown. Please reload the page."),
    "withdrawal_waiver_required": (
        ("Als Verbraucherin oder Verbraucher bestätigen Sie bitte, dass wir sofort beginnen sollen "
         "und dass Ihr Widerrufsrecht mit vollständiger Erbringung der Leistung erlischt "
         "(§ 356 Abs. 4 BGB)."),
        ("As a consumer, please confirm that we should start right away and that your right of "
         "withdrawal lapses once the service has been fully performed (§ 356 (4) BGB).")),
    "vat_id_invalid": VAT_ID_INVALID,
    "buyer_reference_invalid": LEITWEG_ID_INVALID,
    "address_required": (
        "Mit einer USt-IdNr. oder Leitweg-ID geben Sie bitte auch die Rechnungsadresse an.",
        "With a VAT id or a Leitweg-ID, please also give the billing address."),
    **ADDRESS_MESSAGES,
    **TEXT_MESSAGES,
}


def _error(code: str) -> PydanticCustomError:
    # The template is fixed text: pydantic would otherwise be free to mention the input.
    return PydanticCustomError(code, MESSAGES[code][1])


class SupportRequestIn(BaseModel):
    """What the customer fills in. ``customer_type`` precedes ``withdrawal_waiver`` on purpose."""

    model_config = ConfigDict(extra="forbid")

    company: Text
    contact_name: Text
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
                     clean_validator(max_length=MAX_TEXT)]
    customer_type: CustomerType = CustomerType.BUSINESS
    terms_accepted: StrictBool
    terms_version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    withdrawal_waiver: StrictBool = Field(default=False, validate_default=True)
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
                     clean_validator(max_length=MAX_TEXT)] | None = None
    #: Billing address (optional; needed only for invoices above the small-amount limit).
    address: PostalAddress | None = None
    #: The customer's USt-IdNr. (an EU business abroad is then invoiced by reverse charge).
    vat_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
                      VAT_ID_CHECK] | None = None
    #: Leitweg-ID of a public buyer: the invoice becomes an XRechnung.
    buyer_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
                               LEITWEG_ID_CHECK] | None = None

    @model_validator(mode="after")
    def _address_with_tax_ids(self) -> SupportRequestIn:
        # Both only matter on a full invoice, which names the address; and billing reads the
        # vault for the tax case only when an address was given.
        if (self.vat_id or self.buyer_reference) and self.address is None:
            raise _error("address_required")
        return self

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        try:
            return normalise_phone(value, "DE")
        except InvalidPhone:
            raise _error("phone_invalid") from None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return _EMAIL.validate_python(value)
        except ValidationError:
            raise _error("email_invalid") from None

    @field_validator("terms_accepted")
    @classmethod
    def _terms_accepted(cls, value: bool) -> bool:
        if value is not True:
            raise _error("terms_not_accepted")
        return value

    @field_validator("withdrawal_waiver")
    @classmethod
    def _waiver(cls, value: bool, info: ValidationInfo) -> bool:
        # §356 Abs. 4 BGB: a consumer's withdrawal right lapses on full performance only with
        # this express declaration, so we do not start without it.
        if info.data.get("customer_type") is CustomerType.CONSUMER and value is not True:
            raise _error("withdrawal_waiver_required")
        return value


class CreatedOut(BaseModel):
    request_id: uuid.UUID
    ticket: str
    status_url: str
    #: Given once: lets the customer fetch the invoice later (web's "/rechnung"); only its hash
    #: is kept. Never log it.
    download_code: str


class StatusOut(BaseModel):
    request_id: uuid.UUID
    ticket: str
    status: RequestStatus
    created_at: datetime


class TermsOut(BaseModel):
    version: str
    sha256: str
    text: str


class ProblemOut(BaseModel):
    code: str
    message_de: str
    message_en: str
