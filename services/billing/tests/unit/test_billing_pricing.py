"""Pricing at every boundary: free threshold, interval edges, minimum, rounding, surcharges,
and the 250 EUR limit between a Kleinbetragsrechnung and a full invoice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fw_billing.domain.invoicing import Billable, NotBilled, assess, invoice_kind
from fw_billing.domain.pricing import price
from fw_billing.domain.tariff import Surcharge, Tariff
from fw_contracts.events import InvoiceKind

BERLIN = ZoneInfo("Europe/Berlin")
#: Tuesday 10 March 2026, 13:00 in Berlin: no surcharge.
WEEKDAY_NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EVENING = Surcharge.model_validate({"kind": "evening", "from": "18:00", "until": "24:00",
                                    "percent": 25, "description": "Abendzuschlag"})
WEEKEND = Surcharge.model_validate({"kind": "weekend", "percent": 50, "description": "Wochenendzuschlag"})


def tariff(**changes: Any) -> Tariff:
    base: dict[str, Any] = {"version": "t", "base_fee": Decimal("0.00"), "interval_seconds": 900,
                            "rate_per_interval": Decimal("24.00"), "min_billed_seconds": 900,
                            "free_threshold_seconds": 120, "vat_rate": Decimal("0.19")}
    return Tariff.model_validate({**base, **changes})


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# raw seconds -> (started intervals, billed seconds, net, vat, gross)
@pytest.mark.parametrize(("raw", "expected"), [
    (120, (1, 900, "24.00", "4.56", "28.56")),       # exactly the free threshold: billed
    (121, (1, 900, "24.00", "4.56", "28.56")),
    (899, (1, 900, "24.00", "4.56", "28.56")),       # minimum = one interval
    (900, (1, 900, "24.00", "4.56", "28.56")),
    (901, (2, 1800, "48.00", "9.12", "57.12")),      # one second into the next interval
    (1799, (2, 1800, "48.00", "9.12", "57.12")),
    (1800, (2, 1800, "48.00", "9.12", "57.12")),
    (1801, (3, 2700, "72.00", "13.68", "85.68")),
    (3 * 3600 + 1, (13, 11700, "312.00", "59.28", "371.28")),
])
def test_interval_edges(raw: int, expected: tuple[int, int, str, str, str]) -> None:
    p = price(raw, WEEKDAY_NOON, tariff())
    intervals, billed, net, vat, gross = expected
    assert not p.free
    assert (p.intervals, p.billed_seconds) == (intervals, billed)
    assert (p.net_total, p.vat_total, p.gross_total) == (Decimal(net), Decimal(vat), Decimal(gross))
    assert p.raw_seconds == raw
    assert len(p.lines) == 1
    line = p.lines[0]
    assert (line.quantity, line.unit, line.unit_price, line.net) == (
        Decimal(intervals), "C62", Decimal("24.00"), Decimal(net))


@pytest.mark.parametrize("raw", [0, 1, 60, 119])
def test_below_free_threshold_is_free(raw: int) -> None:
    p = price(raw, WEEKDAY_NOON, tariff())
    assert p.free and p.lines == () and p.billed_seconds == 0
    assert p.gross_total == Decimal("0.00")
    assert isinstance(assess(raw, WEEKDAY_NOON, tariff()), NotBilled)


def test_zero_free_threshold_bills_even_zero_seconds() -> None:
    p = price(0, WEEKDAY_NOON, tariff(free_threshold_seconds=0))
    assert not p.free and p.billed_seconds == 900 and p.net_total == Decimal("24.00")


@pytest.mark.parametrize(("raw", "billed"), [
    (120, 1800), (1799, 1800), (1800, 1800), (1801, 2700),  # minimum 30 min, then 15-min steps
])
def test_minimum_billed_duration(raw: int, billed: int) -> None:
    assert price(raw, WEEKDAY_NOON, tariff(min_billed_seconds=1800)).billed_seconds == billed


def test_minimum_that_is_not_a_whole_interval_rounds_up_to_one() -> None:
    p = price(300, WEEKDAY_NOON, tariff(min_billed_seconds=600))
    assert (p.intervals, p.billed_seconds) == (1, 900)


def test_no_minimum() -> None:
    p = price(120, WEEKDAY_NOON, tariff(min_billed_seconds=0, interval_seconds=60,
                                         rate_per_interval=Decimal("1.00")))
    assert (p.intervals, p.billed_seconds, p.net_total) == (2, 120, Decimal("2.00"))


def test_base_fee_is_its_own_line() -> None:
    p = price(900, WEEKDAY_NOON, tariff(base_fee=Decimal("10.00")))
    assert [line.net for line in p.lines] == [Decimal("10.00"), Decimal("24.00")]
    assert p.lines[0].description.startswith("Grundgebühr")
    assert (p.net_total, p.vat_total, p.gross_total) == (Decimal("34.00"), Decimal("6.46"), Decimal("40.46"))


def test_vat_is_rounded_half_up_on_the_net_total() -> None:
    # 1.50 * 0.19 = 0.285: half-up 0.29 (banker's rounding would give 0.28)
    p = price(900, WEEKDAY_NOON, tariff(rate_per_interval=Decimal("1.50")))
    assert (p.net_total, p.vat_total, p.gross_total) == (Decimal("1.50"), Decimal("0.29"), Decimal("1.79"))


def test_vat_on_total_not_per_line() -> None:
    # per line: 0.285 -> 0.29 and 0.095 -> 0.10 = 0.39; on the total 2.00 * 0.19 = 0.38
    p = price(900, WEEKDAY_NOON, tariff(base_fee=Decimal("0.50"), rate_per_interval=Decimal("1.50")))
    assert (p.net_total, p.vat_total) == (Decimal("2.00"), Decimal("0.38"))


def test_surcharge_line_is_rounded_half_up() -> None:
    # 0.10 * 25 % = 0.025 -> 0.03
    p = price(900, berlin(2026, 3, 10, 19, 0), tariff(rate_per_interval=Decimal("0.10"), surcharges=(EVENING,)))
    assert [line.net for line in p.lines] == [Decimal("0.10"), Decimal("0.03")]


@pytest.mark.parametrize(("start", "surcharge"), [
    (berlin(2026, 3, 10, 17, 59, 59), None),        # Tuesday, one second before the evening
    (berlin(2026, 3, 10, 18, 0, 0), "evening"),
    (berlin(2026, 3, 10, 23, 59, 59), "evening"),
    (berlin(2026, 3, 11, 0, 0, 0), None),           # Wednesday midnight: evening is over
    (berlin(2026, 3, 13, 23, 0, 0), "evening"),     # Friday evening
    (berlin(2026, 3, 14, 0, 0, 0), "weekend"),      # Saturday
    (berlin(2026, 3, 14, 19, 0, 0), "weekend"),     # Saturday evening: the higher one, not both
    (berlin(2026, 3, 15, 23, 59, 59), "weekend"),   # Sunday
    (berlin(2026, 3, 16, 0, 0, 0), None),           # Monday (still Sunday 23:00 in UTC)
    (berlin(2026, 7, 7, 17, 59, 0), None),          # summer time: 15:59 UTC
    (berlin(2026, 7, 7, 18, 0, 0), "evening"),      # summer time: 16:00 UTC
])
def test_surcharges_follow_local_berlin_time(start: datetime, surcharge: str | None) -> None:
    t = tariff(surcharges=(EVENING, WEEKEND))
    p = price(900, start.astimezone(UTC), t)
    expected = {None: ["24.00"], "evening": ["24.00", "6.00"], "weekend": ["24.00", "12.00"]}[surcharge]
    assert [str(line.net) for line in p.lines] == expected
    if surcharge:
        assert p.lines[1].description.startswith({"evening": "Abend", "weekend": "Wochenend"}[surcharge])
        assert p.net_total == sum((Decimal(x) for x in expected), Decimal(0))


def test_surcharge_applies_to_the_time_part_only() -> None:
    p = price(1800, berlin(2026, 3, 14, 10, 0), tariff(base_fee=Decimal("10.00"), surcharges=(WEEKEND,)))
    assert [line.net for line in p.lines] == [Decimal("10.00"), Decimal("48.00"), Decimal("24.00")]
    assert "50 %" in p.lines[2].description


@pytest.mark.parametrize(("minute", "applies"), [
    ((19, 59), False), ((20, 0), True), ((23, 59), True), ((0, 0), True), ((5, 59), True), ((6, 0), False),
])
def test_evening_window_may_wrap_past_midnight(minute: tuple[int, int], applies: bool) -> None:
    night = Surcharge.model_validate({"kind": "evening", "from": "20:00", "until": "06:00",
                                      "percent": 12.5, "description": "Nachtzuschlag"})
    p = price(900, berlin(2026, 3, 10, *minute), tariff(surcharges=(night,)))
    assert (len(p.lines) == 2) is applies
    if applies:
        assert p.lines[1].net == Decimal("3.00") and "12,5 %" in p.lines[1].description


# ------------------------------------------------------------------ the 250 EUR limit
def test_gross_exactly_250_is_a_kleinbetragsrechnung() -> None:
    decision = assess(900, WEEKDAY_NOON, tariff(rate_per_interval=Decimal("210.08")))
    assert isinstance(decision, Billable)
    assert decision.pricing.gross_total == Decimal("250.00")
    assert decision.kind is InvoiceKind.SMALL and not decision.needs_recipient


def test_gross_250_01_is_a_full_invoice() -> None:
    decision = assess(900, WEEKDAY_NOON, tariff(rate_per_interval=Decimal("210.09")))
    assert isinstance(decision, Billable)
    assert decision.pricing.gross_total == Decimal("250.01")
    assert decision.kind is InvoiceKind.FULL and decision.needs_recipient


@pytest.mark.parametrize(("gross", "kind"), [
    ("0.00", InvoiceKind.SMALL), ("249.99", InvoiceKind.SMALL), ("250.00", InvoiceKind.SMALL),
    ("250.01", InvoiceKind.FULL), ("10000.00", InvoiceKind.FULL),
])
def test_invoice_kind(gross: str, kind: InvoiceKind) -> None:
    assert invoice_kind(Decimal(gross)) is kind


def test_shipped_tariff_crosses_250_after_eight_intervals() -> None:
    t = tariff()  # same figures as tariffs/2026-01.toml
    assert assess(8 * 900, WEEKDAY_NOON, t).pricing.gross_total == Decimal("228.48")
    nine = assess(8 * 900 + 1, WEEKDAY_NOON, t)
    assert isinstance(nine, Billable) and nine.kind is InvoiceKind.FULL


# ------------------------------------------------------------------ guards and replay
def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="started_at must be timezone-aware"):
        price(900, datetime(2026, 3, 10, 12, 0), tariff())  # noqa: DTZ001 - naive on purpose


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="raw_seconds must not be negative"):
        price(-1, WEEKDAY_NOON, tariff())


def test_replay_gives_identical_result() -> None:
    t = tariff(base_fee=Decimal("3.33"), surcharges=(EVENING, WEEKEND))
    start = berlin(2026, 3, 14, 20, 0)
    first = price(4321, start, t)
    again = price(4321, start + timedelta(0), Tariff.model_validate(t.model_dump()))
    assert first == again
