"""The report figures, computed from aggregates of the facts (pure, exact: ``Decimal`` only).

A report is a table: named columns and rows of plain values (``int``, ``Decimal``, ``str`` or
``None``), so the JSON and the CSV of a report are the same data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

Value = int | Decimal | str | None
CENT = Decimal("0.01")
MILLI = Decimal("0.001")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]

    def records(self) -> list[dict[str, Value]]:
        """The rows as ``{column: value}`` mappings."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class MonthSums:
    """Count and money sums of one month (``YYYY-MM`` in the office's time zone)."""

    month: str
    count: int
    net: Decimal
    vat: Decimal
    gross: Decimal


def minutes(seconds: int) -> Decimal:
    """Seconds as minutes with two decimals (half up)."""
    return (Decimal(seconds) / 60).quantize(CENT, rounding=ROUND_HALF_UP)


def average(total: int | Decimal, count: int) -> Decimal | None:
    """``total / count`` with two decimals; None when there is nothing to average."""
    if count == 0:
        return None
    return (Decimal(total) / count).quantize(CENT, rounding=ROUND_HALF_UP)


def percentile(sorted_values: Sequence[Decimal], q: Decimal) -> Decimal:
    """The ``q`` quantile (0..1) with linear interpolation between closest ranks.

    The same definition as PostgreSQL's ``percentile_cont`` and numpy's default: position
    ``(n - 1) * q``, interpolated between its two neighbours.
    """
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q
    low = int(pos)  # floor: pos is never negative
    high = min(low + 1, len(sorted_values) - 1)
    frac = pos - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac


def revenue(issued: Iterable[MonthSums], cancelled: Iterable[MonthSums]) -> list[tuple[Value, ...]]:
    """Per month: invoices, cancellations, net/VAT/gross after cancellations, gross cancelled.

    A cancellation (Storno) is booked in the month it was issued, not in the original
    invoice's month (§17 UStG: the correction belongs to the period in which it happens).
    ``cancelled`` sums are absolute amounts.
    """
    by_month: dict[str, tuple[MonthSums | None, MonthSums | None]] = {}
    for month_issued in issued:
        by_month[month_issued.month] = (month_issued, None)
    for month_cancelled in cancelled:
        by_month[month_cancelled.month] = (by_month.get(month_cancelled.month, (None, None))[0], month_cancelled)
    rows: list[tuple[Value, ...]] = []
    for month in sorted(by_month):
        i, c = by_month[month]
        rows.append((
            month, i.count if i else 0, c.count if c else 0,
            (i.net if i else ZERO) - (c.net if c else ZERO),
            (i.vat if i else ZERO) - (c.vat if c else ZERO),
            (i.gross if i else ZERO) - (c.gross if c else ZERO),
            c.gross if c else ZERO,
        ))
    return rows


@dataclass(frozen=True)
class DelaySummary:
    erasures: int
    measured: int
    median: Decimal | None
    p95: Decimal | None
    maximum: Decimal | None


def delay_summary(delays: Iterable[Decimal | None]) -> DelaySummary:
    """Median, 95th percentile and maximum of the known delays (seconds, 3 decimals).

    ``None`` is an erasure whose trigger is unknown (e.g. an abandoned request: its deadline
    is not an event); it is counted but not measured.
    """
    all_delays = list(delays)
    known = sorted(d for d in all_delays if d is not None)
    if not known:
        return DelaySummary(len(all_delays), 0, None, None, None)
    return DelaySummary(
        erasures=len(all_delays), measured=len(known),
        median=percentile(known, Decimal("0.5")).quantize(MILLI, rounding=ROUND_HALF_UP),
        p95=percentile(known, Decimal("0.95")).quantize(MILLI, rounding=ROUND_HALF_UP),
        maximum=known[-1].quantize(MILLI, rounding=ROUND_HALF_UP))


def erasure_delays(rows: Iterable[tuple[str, Decimal | None]]) -> list[tuple[Value, ...]]:
    """Per erasure reason and for all together: how long erasure took after its trigger."""
    by_reason: dict[str, list[Decimal | None]] = {}
    everything: list[Decimal | None] = []
    for reason, delay in rows:
        by_reason.setdefault(reason, []).append(delay)
        everything.append(delay)
    out: list[tuple[Value, ...]] = []
    for reason in [*sorted(by_reason), "all"]:
        s = delay_summary(by_reason[reason] if reason != "all" else everything)
        out.append((reason, s.erasures, s.measured, s.median, s.p95, s.maximum))
    return out
