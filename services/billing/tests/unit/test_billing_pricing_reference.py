"""Billing's pricing and the contracts' reference pricing agree on every generated case.

The auditor re-prices invoices with :func:`fw_contracts.pricing.price` and the tariff content the
stream holds (``TariffPublished``); billing prices with its own domain code. Both must give the
same lines and totals for every tariff, duration and start time, and billing's tariff must turn
into the published content (and hash) without loss.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fw_contracts import pricing as reference
from fw_contracts.reference import TariffPublished, tariff_sha256

from fw_billing.adapters.tariff_files import shipped_tariffs
from fw_billing.application.reference import tariff_content, tariff_hash
from fw_billing.domain.pricing import price
from fw_billing.domain.tariff import Surcharge, Tariff


def money(max_value: int) -> st.SearchStrategy[Decimal]:
    return st.integers(min_value=0, max_value=max_value * 100).map(lambda c: Decimal(c) / 100)


clock = st.tuples(st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 59])).map(lambda hm: f"{hm[0]:02d}:{hm[1]:02d}")
surcharges = st.lists(
    st.one_of(
        st.builds(lambda p, start, until: Surcharge.model_validate({
            "kind": "evening", "from": start, "percent": p, "description": "Abendzuschlag",
            **({"until": until} if until else {})}),
            money(200).filter(lambda p: p > 0), clock, st.one_of(st.none(), clock, st.just("24:00"))),
        st.builds(lambda p: Surcharge.model_validate({
            "kind": "weekend", "percent": p, "description": "Wochenendzuschlag"}),
            money(200).filter(lambda p: p > 0)),
    ),
    max_size=3,
).map(tuple)

tariffs = st.builds(
    lambda base, interval, rate, minimum, free, vat, zone, extra: Tariff(
        version="prop-1", base_fee=base, interval_seconds=interval, rate_per_interval=rate,
        min_billed_seconds=minimum, free_threshold_seconds=free, vat_rate=vat, timezone=zone, surcharges=extra),
    money(100),
    st.integers(min_value=1, max_value=7200),
    money(500),
    st.integers(min_value=0, max_value=4 * 3600),
    st.integers(min_value=0, max_value=600),
    st.one_of(st.sampled_from([Decimal(0), Decimal("0.07"), Decimal("0.19")]),
              st.integers(0, 3000).map(lambda x: Decimal(x) / 10000)),
    st.sampled_from(["Europe/Berlin", "UTC", "America/New_York"]),
    surcharges,
)
starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC))
durations = st.integers(min_value=0, max_value=48 * 3600)


@settings(max_examples=600, deadline=None)
@given(raw=durations, start=starts, tariff=tariffs)
def test_billing_and_the_reference_price_every_session_alike(raw: int, start: datetime, tariff: Tariff) -> None:
    mine = price(raw, start, tariff)
    published = tariff_content(tariff)
    theirs = reference.price(raw, start, published)
    assert (theirs.free, theirs.billed_seconds, theirs.lines) == (mine.free, mine.billed_seconds, mine.lines)
    assert (theirs.net_total, theirs.vat_rate, theirs.vat_total, theirs.gross_total) == (
        mine.net_total, mine.vat_rate, mine.vat_total, mine.gross_total)


@settings(max_examples=200, deadline=None)
@given(tariff=tariffs)
def test_the_published_content_survives_the_wire_with_its_hash(tariff: Tariff) -> None:
    event = TariffPublished.of(tariff_content(tariff))
    again = TariffPublished.model_validate_json(event.to_json())
    assert tariff_sha256(again.tariff) == event.tariff_sha256 == tariff_hash(tariff)
    assert again.tariff == tariff_content(tariff)


def test_a_changed_price_changes_the_hash() -> None:
    (shipped,) = [t for t in shipped_tariffs() if t.version == "2026-01"]
    dearer = shipped.model_copy(update={"rate_per_interval": shipped.rate_per_interval + Decimal("0.01")})
    assert tariff_hash(dearer) != tariff_hash(shipped)
    # the same event id for the same content: a re-publication is dropped as a duplicate
    assert TariffPublished.of(tariff_content(shipped)).event_id == TariffPublished.of(tariff_content(shipped)).event_id
