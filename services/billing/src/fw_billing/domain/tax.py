"""Which VAT rule an invoice follows (LEGAL.md L17): pure rules, decided per invoice.

The tariff prices the service the same for everyone; the tax case decides the VAT:

| recipient | case | VAT | EN 16931 category |
| --- | --- | --- | --- |
| in Germany (business or consumer), or no address known | ``domestic`` | tariff rate | S |
| abroad, consumer or a business without VAT id | ``foreign_consumer`` (§3a Abs. 1 UStG) | tariff rate | S |
| EU business (not DE) with a valid VAT id of its country | ``reverse_charge`` (§3a Abs. 2, §13b UStG) | 0 | AE |
| business outside the EU | ``not_taxable`` (§3a Abs. 2 UStG) | 0 | O |
| the office is a §19 small business (tariff rate 0) | ``small_business`` | 0 | E |

A reverse-charge or not-taxable invoice is always a full invoice naming the recipient (§33 S. 3
UStDV forbids a Kleinbetragsrechnung for §13b; for a business abroad the recipient and its seat
are the proof that the service is not taxable here).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from fw_billing.domain.pricing import ZERO, Pricing
from fw_contracts.events import CustomerType, InvoiceKind, TaxCase
from fw_contracts.tax_ids import EU_COUNTRIES, VAT_ID_INVALID, vat_country, vat_id_valid

#: §14a Abs. 5 UStG: the words the reverse-charge invoice must carry.
REVERSE_CHARGE_NOTE = "Steuerschuldnerschaft des Leistungsempfängers"
#: Printed (and the XML's exemption reason) for a business outside the EU.
NOT_TAXABLE_NOTE = "Nicht im Inland steuerbare Leistung (§ 3a Abs. 2 UStG)"


class InvalidVatId(ValueError):
    """The recipient's VAT id is malformed or belongs to another country than the address."""

    def __init__(self) -> None:
        super().__init__(" / ".join(VAT_ID_INVALID))


def decide_tax_case(*, customer_type: CustomerType | None, country: str | None, vat_id: str | None,
                    tariff_vat_rate: Decimal) -> TaxCase:
    """The tax case of an invoice. ``country`` is the billing address's (``None``: unknown,
    treated as Germany); ``vat_id`` the customer's USt-IdNr. (normalised), if given.

    A VAT id whose format is wrong, or whose country is not the address's, raises
    :class:`InvalidVatId`: reverse charge on a wrong id would leave the office owing the VAT.
    """
    if vat_id is not None and not vat_id_valid(vat_id):
        raise InvalidVatId
    if tariff_vat_rate == 0:
        # §19 UStG: the office charges no VAT to anyone (its tariff says so).
        return TaxCase.SMALL_BUSINESS
    home = country or "DE"
    business = customer_type is not CustomerType.CONSUMER  # unknown counts as business (intake's default)
    if home == "DE":
        return TaxCase.DOMESTIC
    if home in EU_COUNTRIES:
        if business and vat_id is not None:
            if vat_country(vat_id) != home:
                raise InvalidVatId
            return TaxCase.REVERSE_CHARGE
        return TaxCase.FOREIGN_CONSUMER
    return TaxCase.NOT_TAXABLE if business else TaxCase.FOREIGN_CONSUMER


@dataclass(frozen=True)
class TaxTreatment:
    """How a tax case shows on the document."""

    case: TaxCase
    #: EN 16931 VAT category code (BT-118/BT-151).
    category: str
    #: Printed below the totals and written as the exemption reason (BT-120); ``None`` for S.
    note: str | None
    #: VATEX code (BT-121), where the category requires a reason.
    exemption_code: str | None
    #: The recipient's VAT id must be printed (§14a Abs. 1 UStG) and is the XML's BT-48.
    shows_buyer_vat_id: bool


def treatment(case: TaxCase, small_business_note: str) -> TaxTreatment:
    """The document side of ``case``; ``small_business_note`` is the issuer's §19 sentence."""
    if case is TaxCase.REVERSE_CHARGE:
        return TaxTreatment(case, "AE", REVERSE_CHARGE_NOTE, "VATEX-EU-AE", True)
    if case is TaxCase.NOT_TAXABLE:
        return TaxTreatment(case, "O", NOT_TAXABLE_NOTE, "VATEX-EU-O", False)
    if case is TaxCase.SMALL_BUSINESS:
        return TaxTreatment(case, "E", small_business_note, None, False)
    return TaxTreatment(case, "S", None, None, False)


def apply_tax_case(pricing: Pricing, case: TaxCase) -> Pricing:
    """``pricing`` with the VAT the tax case demands (the lines and net never change)."""
    if not case.zero_rated or pricing.free:
        return pricing
    return replace(pricing, vat_rate=Decimal(0), vat_total=ZERO, gross_total=pricing.net_total)


def allows_small_invoice(case: TaxCase) -> bool:
    """§33 S. 3 UStDV: no Kleinbetragsrechnung under reverse charge; a business abroad is named too."""
    return not case.zero_rated


def kind_for(gross_total: Decimal, case: TaxCase, small_limit: Decimal) -> InvoiceKind:
    """Kleinbetrag up to ``small_limit`` gross, where the tax case allows it; else a full invoice."""
    if allows_small_invoice(case) and gross_total <= small_limit:
        return InvoiceKind.SMALL
    return InvoiceKind.FULL
