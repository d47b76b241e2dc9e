"""What becomes of an ended session, which kind of invoice it gets, and how numbers look."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fw_billing.domain.pricing import Pricing, price
from fw_billing.domain.tariff import DEFAULT_TIMEZONE, Tariff
from fw_billing.domain.tax import apply_tax_case, kind_for
from fw_contracts.billing_case import BillingStatus
from fw_contracts.events import InvoiceKind, NotBilledReason, TaxCase

#: §33 UStDV: up to and including this gross amount an invoice is a Kleinbetragsrechnung.
SMALL_INVOICE_LIMIT = Decimal("250.00")
#: The pattern ``InvoiceIssued.invoice_number`` accepts.
NUMBER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
DEFAULT_NUMBER_FORMAT = "FW-{year}-{seq:06d}"
#: Cancellations (Storno) have their own series (UStAE 14.5 Abs. 11 allows several ranges):
#: each series stays gapless on its own, and a number says what it is.
DEFAULT_CANCELLATION_FORMAT = "FW-S-{year}-{seq:06d}"


#: Billing's view of an ended session (the fold's status, stated with the contracts).
SessionStatus = BillingStatus


def invoice_kind(gross_total: Decimal, tax_case: TaxCase = TaxCase.DOMESTIC) -> InvoiceKind:
    """Kleinbetragsrechnung up to 250.00 EUR gross inclusive, a full §14 invoice above; always
    full where the tax case names the recipient (reverse charge, business abroad)."""
    return kind_for(gross_total, tax_case, SMALL_INVOICE_LIMIT)


@dataclass(frozen=True)
class NotBilled:
    reason: NotBilledReason
    pricing: Pricing


@dataclass(frozen=True)
class Billable:
    kind: InvoiceKind
    pricing: Pricing
    tax_case: TaxCase = TaxCase.DOMESTIC

    @property
    def needs_recipient(self) -> bool:
        """A full invoice names the recipient (§14 Abs. 4 Nr. 1 UStG); a small one does not."""
        return self.kind is InvoiceKind.FULL


def assess(raw_seconds: int, started_at: datetime, tariff: Tariff,
           tax_case: TaxCase = TaxCase.DOMESTIC) -> NotBilled | Billable:
    """Decide from the duration (and the tax case) whether and how a session is billed."""
    pricing = price(raw_seconds, started_at, tariff)
    if pricing.free:
        return NotBilled(reason=NotBilledReason.FREE_THRESHOLD, pricing=pricing)
    pricing = apply_tax_case(pricing, tax_case)
    return Billable(kind=invoice_kind(pricing.gross_total, tax_case), pricing=pricing, tax_case=tax_case)


def invoice_year(issued_at: datetime, timezone: str = DEFAULT_TIMEZONE) -> int:
    """The calendar year of the number range: the office's local year of the issue time."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return issued_at.astimezone(ZoneInfo(timezone)).year


def format_invoice_number(template: str, year: int, seq: int) -> str:
    """Render ``template`` (placeholders ``{year}`` and ``{seq}``); refuse an invalid result."""
    if seq < 1:
        raise ValueError("sequence numbers start at 1")
    number = template.format(year=year, seq=seq)
    if not NUMBER_PATTERN.match(number):
        raise ValueError("the invoice number format yields an invalid number")
    return number


def check_number_format(template: str) -> str:
    """Validate a number format: both placeholders, and a valid number for sample values.

    ``{year}`` is required because the sequence restarts every year: without it a number
    would repeat.
    """
    if "{year" not in template or "{seq" not in template:
        raise ValueError("the invoice number format needs {year} and {seq}")
    try:
        for year, seq in ((2026, 1), (2099, 999_999)):
            format_invoice_number(template, year, seq)
    except (KeyError, IndexError, ValueError):
        raise ValueError("the invoice number format yields an invalid number") from None
    return template


def number_regex(template: str) -> re.Pattern[str]:
    """A pattern matching every number ``template`` can render (``{year}``: 4 digits)."""
    parts: list[str] = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field == "year":
            parts.append(r"[0-9]{4}")
        elif field == "seq":
            parts.append(r"[0-9]+")
        elif field is not None:
            raise ValueError("unknown placeholder in number format")
    return re.compile("^" + "".join(parts) + "$")


def check_series_distinct(invoice_template: str, cancellation_template: str) -> None:
    """Refuse two number formats whose numbers could coincide (a number is used once)."""
    invoices, cancellations = number_regex(invoice_template), number_regex(cancellation_template)
    for year in (2026, 2099):
        for seq in (1, 9, 10, 99, 100_000, 999_999, 1_000_000):
            if (cancellations.match(format_invoice_number(invoice_template, year, seq))
                    or invoices.match(format_invoice_number(cancellation_template, year, seq))):
                raise ValueError("invoice and cancellation number formats overlap")


def format_customer_number(seq: int) -> str:
    """``K00001``: at least five digits, more when the range outgrows them."""
    if seq < 1:
        raise ValueError("customer numbers start at 1")
    return f"K{seq:05d}"
