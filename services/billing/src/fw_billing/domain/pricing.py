"""Pricing of one session by one tariff: a pure function, so a replay re-prices identically.

Rounding rules: every invoice line is rounded once, half-up, to cents; VAT is computed on the
net total (not per line) and rounded half-up; gross = net + VAT exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from fw_billing.domain.tariff import Surcharge, Tariff
from fw_contracts.events import InvoiceLine

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_cents(amount: Decimal) -> Decimal:
    """Half-up to cents (kaufmännisch gerundet)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Pricing:
    """The priced session. ``free`` means below the free threshold: nothing is billed."""

    tariff_version: str
    raw_seconds: int
    billed_seconds: int
    intervals: int
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


def _line(description: str, quantity: int, unit_price: Decimal) -> InvoiceLine:
    return InvoiceLine(description=description, quantity=Decimal(quantity), unit="C62",
                       unit_price=unit_price, net=round_cents(unit_price * quantity))


def _surcharge_line(surcharge: Surcharge, time_net: Decimal) -> InvoiceLine:
    amount = round_cents(time_net * surcharge.percent / 100)
    return InvoiceLine(
        description=f"{surcharge.description} {_percent_label(surcharge.percent)} % auf den Zeitanteil",
        quantity=Decimal(1), unit="C62", unit_price=amount, net=amount)


def billed_duration(raw_seconds: int, tariff: Tariff) -> tuple[int, int]:
    """``(started intervals, billed seconds)`` for a billable session.

    The minimum applies first, then every started interval counts in full.
    """
    billable = max(raw_seconds, tariff.min_billed_seconds)
    intervals = -(-billable // tariff.interval_seconds)  # ceiling division on ints
    return intervals, intervals * tariff.interval_seconds


def price(raw_seconds: int, started_at: datetime, tariff: Tariff) -> Pricing:
    """Price a session of ``raw_seconds`` that started at ``started_at`` (aware) by ``tariff``."""
    if raw_seconds < 0:
        raise ValueError("raw_seconds must not be negative")
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    if raw_seconds < tariff.free_threshold_seconds:
        return Pricing(tariff_version=tariff.version, raw_seconds=raw_seconds, billed_seconds=0,
                       intervals=0, free=True, lines=(), net_total=ZERO, vat_rate=tariff.vat_rate,
                       vat_total=ZERO, gross_total=ZERO)
    intervals, billed = billed_duration(raw_seconds, tariff)
    lines: list[InvoiceLine] = []
    if tariff.base_fee > 0:
        lines.append(_line("Grundgebühr Fernwartung", 1, tariff.base_fee))
    time_line = _line(f"Fernwartung je angefangene {_interval_label(tariff.interval_seconds)}",
                      intervals, tariff.rate_per_interval)
    lines.append(time_line)
    surcharge = tariff.surcharge_for(started_at)
    if surcharge is not None:
        lines.append(_surcharge_line(surcharge, time_line.net))
    net = sum((line.net for line in lines), ZERO)
    vat = round_cents(net * tariff.vat_rate)
    return Pricing(tariff_version=tariff.version, raw_seconds=raw_seconds, billed_seconds=billed,
                   intervals=intervals, free=False, lines=tuple(lines), net_total=net,
                   vat_rate=tariff.vat_rate, vat_total=vat, gross_total=net + vat)
