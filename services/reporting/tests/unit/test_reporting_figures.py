"""The pure figures: quantiles, minutes, averages, revenue after cancellations, delays."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fw_reporting.domain.figures import (
    MonthSums,
    average,
    delay_summary,
    erasure_delays,
    minutes,
    percentile,
    revenue,
)

D = Decimal


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([D(5)], D("0.5"), D(5)),
    ([D(1), D(2)], D("0.5"), D("1.5")),
    ([D(1), D(2), D(3), D(4)], D("0.95"), D("3.85")),  # rank 2.85
    ([D(0), D(10)], D("0.95"), D("9.5")),
    ([D(1), D(2), D(3)], D(1), D(3)),
    ([D(1), D(2), D(3)], D(0), D(1)),
])
def test_percentile_interpolates_linearly_between_ranks(values: list[Decimal], q: Decimal,
                                                        expected: Decimal) -> None:
    assert percentile(values, q) == expected


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], D("0.5"))


def test_minutes_and_averages_round_half_up_to_cents() -> None:
    assert minutes(30) == D("0.50")
    assert minutes(61) == D("1.02")  # 1.01666...
    assert minutes(1) == D("0.02")  # 0.01666...
    assert average(10, 4) == D("2.50")
    assert average(1, 3) == D("0.33")
    assert average(0, 0) is None


def test_a_cancellation_is_subtracted_in_its_own_month_also_without_invoices() -> None:
    issued = [MonthSums("2026-01", 2, D("300.00"), D("57.00"), D("357.00"))]
    cancelled = [MonthSums("2026-02", 1, D("100.00"), D("19.00"), D("119.00"))]
    assert revenue(issued, cancelled) == [
        ("2026-01", 2, 0, D("300.00"), D("57.00"), D("357.00"), D("0.00")),
        ("2026-02", 0, 1, D("-100.00"), D("-19.00"), D("-119.00"), D("119.00")),
    ]


def test_delays_count_unmeasured_erasures_but_do_not_measure_them() -> None:
    s = delay_summary([None, D("2"), D("1")])
    assert (s.erasures, s.measured, s.median, s.p95, s.maximum) == (3, 2, D("1.500"), D("1.950"), D("2.000"))
    assert delay_summary([None]).median is None


def test_erasure_delays_per_reason_then_all() -> None:
    rows = erasure_delays([("withdrawn", D("4")), ("invoice_issued", D("1")), ("abandoned", None)])
    assert [r[0] for r in rows] == ["abandoned", "invoice_issued", "withdrawn", "all"]
    assert rows[-1] == ("all", 3, 2, D("2.500"), D("3.850"), D("4.000"))
