"""The issuer (Rechnungsaussteller) printed on every invoice: from configuration, validated here.

§14 Abs. 4 Nr. 1–2 UStG: full name and address of the supplier, and its Steuernummer or
USt-IdNr.; §33 UStDV (Kleinbetragsrechnung): name and address.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator, model_validator

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
_VAT_ID = re.compile(r"^[A-Z]{2}[0-9A-Z+*.]{2,12}$")
_TAX_NUMBER = re.compile(r"^[0-9][0-9 /]{6,18}[0-9]$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def iban_valid(iban: str) -> bool:
    """ISO 13616 check digits (mod 97 == 1)."""
    if not _IBAN.match(iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


class Issuer(BaseModel):
    """The company that issues the invoices. ``example`` marks the shipped dev defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Line
    street: Line
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=10)]
    city: Line
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "DE"
    tax_number: str | None = None
    vat_id: str | None = None
    #: Handelsregister entry, e.g. "HRB 12345, Amtsgericht Berlin-Charlottenburg" (optional).
    trade_register: str | None = None
    iban: str
    bic: str | None = None
    bank: str | None = None
    email: str
    phone: str | None = None
    #: The person or desk named as the seller contact of e-invoices (BG-6, BT-41); default: the
    #: issuer's name.
    contact_name: str | None = None
    #: Seller identifier (BT-29), e.g. a GLN; printed in e-invoices of an issuer without VAT id.
    #: Without one, such an issuer's tax number identifies it (EN 16931 BR-CO-26).
    seller_id: str | None = None
    #: Printed when the invoice carries no VAT (rate 0), e.g. the §19 UStG note.
    vat_exemption_note: str = "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet."
    #: Payment term in days after the issue date.
    payment_days: int = 14
    #: True while the shipped example data are in use: every document then says so.
    example: bool = False

    @field_validator("tax_number", "vat_id", "trade_register", "bic", "bank", "phone", "contact_name",
                     "seller_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, value: str | None) -> str | None:
        if value is not None and not _VAT_ID.match(value.replace(" ", "")):
            raise ValueError("issuer VAT id has an invalid format (e.g. DE123456789)")
        return value.replace(" ", "") if value else value

    @field_validator("tax_number")
    @classmethod
    def _tax_number(cls, value: str | None) -> str | None:
        if value is not None and not _TAX_NUMBER.match(value):
            raise ValueError("issuer tax number has an invalid format (e.g. 12/345/67890)")
        return value

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        compact = value.replace(" ", "").upper()
        if not iban_valid(compact):
            raise ValueError("issuer IBAN is invalid (check digits)")
        return compact

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        if value is not None and not _BIC.match(value):
            raise ValueError("issuer BIC has an invalid format")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("issuer e-mail has an invalid format")
        return value

    @model_validator(mode="after")
    def _tax_identity(self) -> Issuer:
        # §14 Abs. 4 Nr. 2 UStG: a full invoice names the Steuernummer or the USt-IdNr.
        if self.tax_number is None and self.vat_id is None:
            raise ValueError("the issuer needs a tax number or a VAT id (§14 Abs. 4 Nr. 2 UStG)")
        if not 0 <= self.payment_days <= 365:
            raise ValueError("payment_days must be between 0 and 365")
        return self

    @property
    def seller_identifier(self) -> str | None:
        """BT-29 for an issuer without VAT id: the configured id, else the tax number."""
        return self.seller_id or self.tax_number

    @property
    def can_issue_e_invoices(self) -> bool:
        """EN 16931 BR-CO-26: the seller needs a VAT id, a legal registration id or (BT-29) a
        seller identifier; the tax number serves as the latter, so every valid issuer can."""
        return (self.vat_id is not None or self.trade_register is not None
                or self.seller_identifier is not None)

    @property
    def contact_label(self) -> str:
        """BT-41: the configured contact, else the issuer's name."""
        return self.contact_name or self.name

    @property
    def address_line(self) -> str:
        return f"{self.street}, {self.postal_code} {self.city}"


#: The shipped development defaults: every value says "Beispiel" or is a documented test value
#: (the IBAN is the well-known example IBAN DE02 1203 0000 0000 2020 51).
EXAMPLE_ISSUER = Issuer(
    name="Beispiel Fernwartung GmbH (Beispiel)",
    street="Beispielstraße 1",
    postal_code="10115",
    city="Berlin",
    country="DE",
    tax_number="12/345/67890",
    vat_id="DE123456789",
    trade_register="HRB 00000 (Beispiel), Amtsgericht Berlin-Charlottenburg",
    iban="DE02120300000000202051",
    bic="BYLADEM1001",
    bank="Beispielbank",
    email="rechnung@beispiel.example",
    phone="+49 30 000000 (Beispiel)",
    example=True,
)
