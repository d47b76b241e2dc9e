"""The reference pricing of one session by one published tariff (:class:`TariffContent`).

This is the rule an invoice must follow, stated once next to the contract so that anyone with
the stream can re-price an invoice (``fernwartung audit verify`` does) without billing's code.
Billing prices with its own domain code; ``services/billing/tests/unit/test_billing_pricing_reference.py``
proves on generated cases that both agree, line by line.

Rules: below ``free_threshold_seconds`` nothing is billed; otherwise the minimum applies first,
then every started interval counts in full; an optional base fee line; the time line; at most one
surcharge (the highest applicable percentage, by the local start time in the tariff's time zone)
as a percentage of the time line. Every line is rounded once, half-up, to cents; VAT is computed
on the net total and rounded half-up; gross = net + VAT.

Tax case (LEGAL.md L17): the tariff prices the service the same for everyone; an invoice whose
tax case is zero-rated (``reverse_charge``, ``not_taxable``) carries no German VAT (rate 0, VAT
0.00, gross = net), lines and net unchanged. ``small_business`` (§ 19 UStG) is the office whose
tariff has the rate 0, so the tariff's own rate already gives no VAT. A corrected invoice
(LEGAL.md L18) naming ``priced_seconds`` is priced by that corrected duration instead of
``raw_seconds`` (:func:`price_invoice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from fw_contracts.events import InvoiceIssued, InvoiceLine, TaxCase
from fw_contracts.reference import TariffContent, TariffSurcharge, surcharge_applies

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_cents(amount: Decimal) -> Decimal:
    """Half-up to cents (kaufmännisch gerundet)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ReferencePricing:
    """The priced session. ``free``: below the free threshold, nothing is billed."""

    tariff_version: str
    raw_seconds: int
    billed_seconds: int
    free: bool
    lines: tuple[InvoiceLine, ...]
    net_total: Decimal
    vat_rate: Decimal
    vat_total: Decimal
    gross_total: Decimal


def _interval_label(seconds: int) -> str:
    return f"{seconds // 60} Min." if seconds % 60 == 0 else f"{seconds} Sek."


def _percent_label(percent: Decimal) -> str:
    # German decimal comma, no trailing zeros: 25 -> "25", 12.50 -> "12,5"
    return format(percent.normalize(), "f").replace(".", ",")


def surcharge_for(tariff: TariffContent, started_at: datetime) -> TariffSurcharge | None:
    """The highest applicable surcharge for a session started at ``started_at`` (aware)."""
    local = started_at.astimezone(ZoneInfo(tariff.timezone))
    matching = [s for s in tariff.surcharges if surcharge_applies(s, local)]
    return max(matching, key=lambda s: s.percent, default=None)


def price(raw_seconds: int, started_at: datetime, tariff: TariffContent,
          tax_case: TaxCase = TaxCase.DOMESTIC) -> ReferencePricing:
    """Price a session of ``raw_seconds`` that started at ``started_at`` (aware) by ``tariff``,
    under ``tax_case`` (a zero-rated case removes the VAT; a free session stays as it is)."""
    if raw_seconds < 0:
        raise ValueError("raw_seconds must not be negative")
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    if raw_seconds < tariff.free_threshold_seconds:
        return ReferencePricing(tariff.version, raw_seconds, 0, True, (), ZERO, tariff.vat_rate, ZERO, ZERO)
    billable = max(raw_seconds, tariff.min_billed_seconds)
    intervals = -(-billable // tariff.interval_seconds)
    lines: list[InvoiceLine] = []
    if tariff.base_fee > 0:
        lines.append(InvoiceLine(description="Grundgebühr Fernwartung", quantity=Decimal(1), unit="C62",
                                 unit_price=tariff.base_fee, net=round_cents(tariff.base_fee)))
    time_net = round_cents(tariff.rate_per_interval * intervals)
    lines.append(InvoiceLine(
        description=f"Fernwartung je angefangene {_interval_label(tariff.interval_seconds)}",
        quantity=Decimal(intervals), unit="C62", unit_price=tariff.rate_per_interval, net=time_net))
    surcharge = surcharge_for(tariff, started_at)
    if surcharge is not None:
        amount = round_cents(time_net * surcharge.percent / 100)
        lines.append(InvoiceLine(
            description=f"{surcharge.description} {_percent_label(surcharge.percent)} % auf den Zeitanteil",
            quantity=Decimal(1), unit="C62", unit_price=amount, net=amount))
    net = sum((line.net for line in lines), ZERO)
    if tax_case.zero_rated:
        return ReferencePricing(tariff.version, raw_seconds, intervals * tariff.interval_seconds, False,
                                tuple(lines), net, Decimal(0), ZERO, net)
    vat = round_cents(net * tariff.vat_rate)
    return ReferencePricing(tariff.version, raw_seconds, intervals * tariff.interval_seconds, False,
                            tuple(lines), net, tariff.vat_rate, vat, net + vat)


def priced_seconds(invoice: InvoiceIssued) -> int:
    """The duration an invoice is priced by: a correction's ``priced_seconds``, else ``raw_seconds``."""
    return invoice.priced_seconds if invoice.priced_seconds is not None else invoice.raw_seconds


def price_invoice(invoice: InvoiceIssued, started_at: datetime, tariff: TariffContent) -> ReferencePricing:
    """What ``invoice`` must say: its priced duration at the session's start, under its tax case."""
    return price(priced_seconds(invoice), started_at, tariff, invoice.tax_case)
