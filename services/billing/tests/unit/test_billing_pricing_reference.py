"""Billing's pricing and the contracts' reference pricing agree on every generated case.

The auditor re-prices invoices with :func:`fw_contracts.pricing.price` and the tariff content the
stream holds (``TariffPublished``); billing prices with its own domain code. Both must give the
same lines and totals for every tariff, duration, start time and tax case (reverse charge and
not taxable: no VAT; § 19: the tariff's rate 0), also for a corrected invoice priced by its
``priced_seconds``, and billing's tariff must turn into the published content (and hash) without
loss.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from fw_billing.adapters.tariff_files import shipped_tariffs
from fw_billing.application.reference import tariff_content, tariff_hash
from fw_billing.domain.invoicing import Billable, NotBilled, assess
from fw_billing.domain.pricing import price
from fw_billing.domain.tariff import Surcharge, Tariff
from fw_billing.domain.tax import apply_tax_case
from fw_contracts import pricing as reference
from fw_contracts.events import InvoiceIssued, InvoiceKind, TaxCase
from fw_contracts.reference import TariffPublished, tariff_sha256


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
# hypothesis takes naive bounds and attaches the zone itself
starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31),  # noqa: DTZ001
                      timezones=st.just(UTC))
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


tax_cases = st.sampled_from(list(TaxCase))


@settings(max_examples=600, deadline=None)
@given(raw=durations, start=starts, tariff=tariffs, case=tax_cases)
def test_billing_and_the_reference_price_every_tax_case_alike(raw: int, start: datetime, tariff: Tariff,
                                                              case: TaxCase) -> None:
    """What billing invoices (``assess`` under the tax case) is what the reference says."""
    mine = apply_tax_case(price(raw, start, tariff), case)
    theirs = reference.price(raw, start, tariff_content(tariff), case)
    assert (theirs.free, theirs.billed_seconds, theirs.lines) == (mine.free, mine.billed_seconds, mine.lines)
    assert (theirs.net_total, theirs.vat_rate, theirs.vat_total, theirs.gross_total) == (
        mine.net_total, mine.vat_rate, mine.vat_total, mine.gross_total)
    if case.zero_rated and not theirs.free:
        assert theirs.vat_total == 0 and theirs.gross_total == theirs.net_total
    decision = assess(raw, start, tariff, case)
    if isinstance(decision, NotBilled):
        assert theirs.free
    else:
        assert isinstance(decision, Billable) and decision.pricing == mine


@settings(max_examples=300, deadline=None)
@given(raw=durations, corrected=durations, start=starts, tariff=tariffs, case=tax_cases)
def test_a_corrected_invoice_is_priced_alike_by_its_corrected_duration(
        raw: int, corrected: int, start: datetime, tariff: Tariff, case: TaxCase) -> None:
    """A correction (``priced_seconds``) is priced by billing from the corrected duration; the
    reference prices the invoice event the same way."""
    decision = assess(corrected, start, tariff, case)
    if not isinstance(decision, Billable):
        return  # billing refuses a correction below the free threshold (nothing to invoice)
    p = decision.pricing
    invoice = InvoiceIssued(
        invoice_number="RE-2026-000002", session_id=uuid4(), request_id=uuid4(), kind=InvoiceKind.FULL,
        issued_at=start, service_date=start, tariff_version=tariff.version, raw_seconds=raw,
        billed_seconds=p.billed_seconds, lines=p.lines, net_total=p.net_total, vat_rate=p.vat_rate,
        vat_total=p.vat_total, gross_total=p.gross_total, tax_case=case, corrects="RE-2026-000001",
        correction_reason="wrong_duration", priced_seconds=corrected)
    theirs = reference.price_invoice(invoice, start, tariff_content(tariff))
    assert (theirs.billed_seconds, theirs.lines, theirs.net_total, theirs.vat_rate, theirs.vat_total,
            theirs.gross_total) == (invoice.billed_seconds, invoice.lines, invoice.net_total, invoice.vat_rate,
                                    invoice.vat_total, invoice.gross_total)


def test_reverse_charge_and_small_business_carry_no_vat() -> None:
    (shipped,) = [t for t in shipped_tariffs() if t.version == "2026-01"]
    start = datetime(2026, 3, 3, 9, tzinfo=UTC)
    domestic = reference.price(1800, start, tariff_content(shipped))
    assert domestic.vat_total > 0
    for case in (TaxCase.REVERSE_CHARGE, TaxCase.NOT_TAXABLE):
        p = reference.price(1800, start, tariff_content(shipped), case)
        assert (p.vat_rate, p.vat_total, p.gross_total, p.lines) == (0, 0, domestic.net_total, domestic.lines)
    s19 = shipped.model_copy(update={"vat_rate": Decimal(0)})
    p = reference.price(1800, start, tariff_content(s19), TaxCase.SMALL_BUSINESS)
    assert (p.vat_total, p.gross_total) == (0, domestic.net_total)


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
