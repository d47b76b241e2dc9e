"""Properties of pricing that must hold for every tariff, duration and start time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fw_billing.domain.invoicing import SMALL_INVOICE_LIMIT, Billable, assess
from fw_billing.domain.pricing import price
from fw_billing.domain.tariff import Surcharge, Tariff
from fw_contracts.events import InvoiceKind

CENT = Decimal("0.01")


def money(max_value: int) -> st.SearchStrategy[Decimal]:
    return st.integers(min_value=0, max_value=max_value * 100).map(lambda c: Decimal(c) / 100)


surcharges = st.lists(
    st.one_of(
        st.builds(lambda p, h1, h2: Surcharge.model_validate({
            "kind": "evening", "from": f"{h1:02d}:00", "until": f"{h2:02d}:30",
            "percent": p, "description": "Abendzuschlag"}),
            money(200).filter(lambda p: p > 0), st.integers(0, 23), st.integers(0, 23)),
        st.builds(lambda p: Surcharge.model_validate({
            "kind": "weekend", "percent": p, "description": "Wochenendzuschlag"}),
            money(200).filter(lambda p: p > 0)),
    ),
    max_size=2,
).map(tuple)

tariffs = st.builds(
    lambda base, interval, rate, minimum, free, vat, extra: Tariff(
        version="prop", base_fee=base, interval_seconds=interval, rate_per_interval=rate,
        min_billed_seconds=minimum, free_threshold_seconds=free, vat_rate=vat, surcharges=extra),
    money(100),
    st.integers(min_value=1, max_value=7200),
    money(500),
    st.integers(min_value=0, max_value=4 * 3600),
    st.integers(min_value=0, max_value=600),
    st.one_of(st.sampled_from([Decimal(0), Decimal("0.07"), Decimal("0.19")]),
              st.integers(0, 3000).map(lambda x: Decimal(x) / 10000)),
    surcharges,
)
# hypothesis takes naive bounds and attaches the zone itself
starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31),  # noqa: DTZ001
                      timezones=st.just(UTC))
durations = st.integers(min_value=0, max_value=48 * 3600)


def two_decimals(amount: Decimal) -> bool:
    return amount.as_tuple().exponent == -2


@settings(max_examples=400, deadline=None)
@given(raw=durations, start=starts, tariff=tariffs)
def test_billed_duration_covers_the_raw_duration(raw: int, start: datetime, tariff: Tariff) -> None:
    p = price(raw, start, tariff)
    assert p.free is (raw < tariff.free_threshold_seconds)
    if p.free:
        assert p.billed_seconds == 0 and p.lines == ()
        return
    assert p.billed_seconds >= raw
    assert p.billed_seconds >= tariff.min_billed_seconds
    assert p.billed_seconds % tariff.interval_seconds == 0
    if raw >= tariff.min_billed_seconds:
        assert p.billed_seconds - raw < tariff.interval_seconds


@settings(max_examples=400, deadline=None)
@given(raw=durations, start=starts, tariff=tariffs)
def test_amounts_add_up_and_have_two_decimals(raw: int, start: datetime, tariff: Tariff) -> None:
    p = price(raw, start, tariff)
    assert p.net_total + p.vat_total == p.gross_total
    for amount in (p.net_total, p.vat_total, p.gross_total, *(line.net for line in p.lines)):
        assert two_decimals(amount), amount
        assert amount >= 0
    assert sum((line.net for line in p.lines), Decimal("0.00")) == p.net_total
    assert p.vat_total == (p.net_total * tariff.vat_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    for line in p.lines:
        assert line.net == (line.quantity * line.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


@settings(max_examples=200, deadline=None)
@given(raw=durations, start=starts, tariff=tariffs)
def test_replay_is_identical(raw: int, start: datetime, tariff: Tariff) -> None:
    assert price(raw, start, tariff) == price(raw, start, Tariff.model_validate(tariff.model_dump()))


@settings(max_examples=200, deadline=None)
@given(raw=durations, extra=st.integers(1, 3 * 3600), start=starts, tariff=tariffs)
def test_a_longer_session_never_costs_less(raw: int, extra: int, start: datetime, tariff: Tariff) -> None:
    assert price(raw + extra, start, tariff).gross_total >= price(raw, start, tariff).gross_total


@settings(max_examples=200, deadline=None)
@given(raw=durations, start=starts, tariff=tariffs)
def test_kind_follows_the_250_eur_limit(raw: int, start: datetime, tariff: Tariff) -> None:
    decision = assess(raw, start, tariff)
    if isinstance(decision, Billable):
        small = decision.pricing.gross_total <= SMALL_INVOICE_LIMIT
        assert (decision.kind is InvoiceKind.SMALL) is small


@settings(max_examples=100, deadline=None)
@given(start=starts, offset=st.integers(-14, 14))
def test_surcharge_depends_on_the_instant_not_the_zone_it_is_written_in(start: datetime, offset: int) -> None:
    tariff = Tariff(version="z", interval_seconds=900, rate_per_interval=Decimal("10.00"),
                    surcharges=(Surcharge.model_validate({"kind": "evening", "from": "18:00",
                                                          "percent": 25, "description": "Abend"}),))
    shifted = start.astimezone(timezone(timedelta(hours=offset)))
    assert price(900, start, tariff) == price(900, shifted, tariff)
