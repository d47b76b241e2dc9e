"""Tax cases (LEGAL.md L17): the pure rules as tables, then the issuing handler applying them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from fw_billing.application.handlers import on_session_ended, on_support_request_created
from fw_billing.domain.invoicing import SMALL_INVOICE_LIMIT, Billable, assess
from fw_billing.domain.tariff import Tariff
from fw_billing.domain.tax import (
    NOT_TAXABLE_NOTE,
    REVERSE_CHARGE_NOTE,
    InvalidVatId,
    apply_tax_case,
    decide_tax_case,
    kind_for,
    treatment,
)
from fw_contracts.events import (
    BillingBlocked,
    BlockReason,
    CustomerType,
    InvoiceIssued,
    InvoiceKind,
    SessionEnded,
    SupportRequestCreated,
    TaxCase,
    TermsAcceptance,
)
from fw_contracts.tax_ids import (
    check_leitweg_id,
    check_vat_id,
    leitweg_check_digits,
    leitweg_id_valid,
    vat_id_valid,
)
from fw_contracts.vault import PersonalData

from .documents_support import contains, pdf_text

B2B, B2C = CustomerType.BUSINESS, CustomerType.CONSUMER
VAT19, VAT0 = Decimal("0.19"), Decimal(0)
STARTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("customer", "country", "vat_id", "rate", "case"), [
    (B2B, "DE", None, VAT19, TaxCase.DOMESTIC),
    (B2B, "DE", "DE811907980", VAT19, TaxCase.DOMESTIC),         # a German VAT id changes nothing
    (B2C, "DE", None, VAT19, TaxCase.DOMESTIC),
    (B2B, None, None, VAT19, TaxCase.DOMESTIC),                  # no address: Germany
    (None, None, None, VAT19, TaxCase.DOMESTIC),                 # request unknown: business in DE
    (B2B, "AT", "ATU12345678", VAT19, TaxCase.REVERSE_CHARGE),
    (None, "FR", "FR40303265045", VAT19, TaxCase.REVERSE_CHARGE),
    (B2B, "GR", "EL123456789", VAT19, TaxCase.REVERSE_CHARGE),   # Greece: EL in the VAT id
    (B2B, "AT", None, VAT19, TaxCase.FOREIGN_CONSUMER),          # EU business without VAT id
    (B2C, "AT", None, VAT19, TaxCase.FOREIGN_CONSUMER),
    (B2C, "AT", "ATU12345678", VAT19, TaxCase.FOREIGN_CONSUMER),  # a consumer never reverse-charges
    (B2B, "CH", None, VAT19, TaxCase.NOT_TAXABLE),
    (B2B, "US", None, VAT19, TaxCase.NOT_TAXABLE),
    (B2C, "CH", None, VAT19, TaxCase.FOREIGN_CONSUMER),
    (B2B, "DE", None, VAT0, TaxCase.SMALL_BUSINESS),             # §19 UStG: the tariff has 0 %
    (B2B, "AT", "ATU12345678", VAT0, TaxCase.SMALL_BUSINESS),
])
def test_tax_case_table(customer: CustomerType | None, country: str | None, vat_id: str | None,
                        rate: Decimal, case: TaxCase) -> None:
    assert decide_tax_case(customer_type=customer, country=country, vat_id=vat_id, tariff_vat_rate=rate) is case


@pytest.mark.parametrize(("country", "vat_id"), [
    ("AT", "ATU1234567"),     # one digit short
    ("AT", "AT12345678"),     # the U is missing
    ("AT", "DE811907980"),    # valid, but not the address's country
    ("GR", "GR123456789"),    # Greece's ids start with EL
    ("US", "US123456789"),    # no EU country
])
def test_a_wrong_vat_id_is_refused_not_reverse_charged(country: str, vat_id: str) -> None:
    with pytest.raises(InvalidVatId, match=r"USt-IdNr.*VAT id") as exc:
        decide_tax_case(customer_type=B2B, country=country, vat_id=vat_id, tariff_vat_rate=VAT19)
    assert vat_id not in str(exc.value)  # the message never repeats the value


@pytest.mark.parametrize("vat_id", [
    "ATU12345678", "BE0123456789", "BG123456789", "BG1234567890", "CY12345678X", "CZ12345678",
    "CZ1234567890", "DE811907980", "DK12345678", "EE123456789", "EL123456789", "ESA1234567B",
    "ES12345678Z", "FI12345678", "FRAB123456789", "FR40303265045", "HR12345678901", "HU12345678",
    "IE1234567T", "IE1234567WA", "IE1A23456B", "IT12345678901", "LT123456789", "LT123456789012",
    "LU12345678", "LV12345678901", "MT12345678", "NL123456789B01", "PL1234567890", "PT123456789",
    "RO12", "RO1234567890", "SE123456789001", "SI12345678", "SK1234567890"])
def test_every_member_states_vat_id_format_is_accepted(vat_id: str) -> None:
    assert vat_id_valid(vat_id)


@pytest.mark.parametrize("vat_id", [
    "", "DE", "DE12345678", "DE1234567890", "ATU123456789", "BE2123456789", "NL123456789C01",
    "SE123456789012", "FRIO123456789", "RO0123", "XX123456789", "GB123456789", "de811907980"])
def test_malformed_vat_ids_are_refused(vat_id: str) -> None:
    assert not vat_id_valid(vat_id)


def test_vat_id_input_is_normalised_and_a_bad_one_gets_a_german_english_error() -> None:
    assert check_vat_id(" atu 1234-5678 ") == "ATU12345678"
    assert check_vat_id("DE 811.907.980") == "DE811907980"
    with pytest.raises(ValueError, match=r"^Die USt-IdNr\. hat kein gültiges Format.* / The VAT id has"):
        check_vat_id("ATU1234")


def test_leitweg_id_check_digits_iso_7064_mod_97_10() -> None:
    assert leitweg_check_digits("04011000", "12345") == "03"
    for valid in ("04011000-12345-03", "04011000-1234512345-06", "991-33333TEST-33", "04011000-03".replace(
            "-03", "-" + leitweg_check_digits("04011000"))):
        assert leitweg_id_valid(valid), valid
    for wrong in ("04011000-12345-04", "04011000-12345", "4-12345-03", "04011000-1234_5-03", ""):
        assert not leitweg_id_valid(wrong), wrong
    assert check_leitweg_id(" 991-33333test-33 ") == "991-33333TEST-33"
    with pytest.raises(ValueError, match=r"Leitweg-ID ist ungültig.* / The Leitweg-ID is invalid"):
        check_leitweg_id("04011000-12345-04")


def test_the_vault_contract_refuses_malformed_ids_without_echoing_them() -> None:
    base = {"company": "Muster GmbH", "contact_name": "Erika", "phone": "+4930123456"}
    assert PersonalData(**base, vat_id="atu12345678").vat_id == "ATU12345678"
    for field, value in (("vat_id", "ATU1"), ("buyer_reference", "04011000-12345-04")):
        with pytest.raises(ValidationError) as exc:
            PersonalData(**base, **{field: value})
        assert value not in str(exc.value.errors(include_input=False))


@pytest.mark.parametrize(("case", "category", "note", "code", "shows_vat_id"), [
    (TaxCase.DOMESTIC, "S", None, None, False),
    (TaxCase.FOREIGN_CONSUMER, "S", None, None, False),
    (TaxCase.REVERSE_CHARGE, "AE", REVERSE_CHARGE_NOTE, "VATEX-EU-AE", True),
    (TaxCase.NOT_TAXABLE, "O", NOT_TAXABLE_NOTE, "VATEX-EU-O", False),
    (TaxCase.SMALL_BUSINESS, "E", "§19-Satz", None, False),
])
def test_treatment_table(case: TaxCase, category: str, note: str | None, code: str | None,
                         shows_vat_id: bool) -> None:
    t = treatment(case, "§19-Satz")
    assert (t.category, t.note, t.exemption_code, t.shows_buyer_vat_id) == (category, note, code, shows_vat_id)
    assert REVERSE_CHARGE_NOTE == "Steuerschuldnerschaft des Leistungsempfängers"


def tariff(rate: Decimal = VAT19) -> Tariff:
    return Tariff(version="2026-01", base_fee=Decimal(0), interval_seconds=900,
                  rate_per_interval=Decimal("24.00"), min_billed_seconds=900, vat_rate=rate)


@pytest.mark.parametrize(("case", "seconds", "kind", "vat", "gross"), [
    (TaxCase.DOMESTIC, 1800, InvoiceKind.SMALL, "9.12", "57.12"),
    (TaxCase.FOREIGN_CONSUMER, 1800, InvoiceKind.SMALL, "9.12", "57.12"),
    (TaxCase.REVERSE_CHARGE, 1800, InvoiceKind.FULL, "0.00", "48.00"),     # §33 S. 3 UStDV
    (TaxCase.NOT_TAXABLE, 1800, InvoiceKind.FULL, "0.00", "48.00"),
    (TaxCase.DOMESTIC, 10 * 900, InvoiceKind.FULL, "45.60", "285.60"),
    (TaxCase.REVERSE_CHARGE, 10 * 900, InvoiceKind.FULL, "0.00", "240.00"),
])
def test_the_tariff_prices_the_tax_case_decides_vat_and_kind(case: TaxCase, seconds: int, kind: InvoiceKind,
                                                            vat: str, gross: str) -> None:
    decision = assess(seconds, STARTED, tariff(), case)
    assert isinstance(decision, Billable)
    domestic = assess(seconds, STARTED, tariff())
    assert isinstance(domestic, Billable)
    assert decision.pricing.lines == domestic.pricing.lines and decision.pricing.net_total == domestic.pricing.net_total
    assert (decision.kind, decision.pricing.vat_total, decision.pricing.gross_total, decision.tax_case) == \
        (kind, Decimal(vat), Decimal(gross), case)
    assert decision.pricing.vat_rate == (Decimal(0) if case.zero_rated else VAT19)


def test_kind_boundary_and_free_sessions_stay_free() -> None:
    assert kind_for(SMALL_INVOICE_LIMIT, TaxCase.DOMESTIC, SMALL_INVOICE_LIMIT) is InvoiceKind.SMALL
    assert kind_for(Decimal("0.01"), TaxCase.REVERSE_CHARGE, SMALL_INVOICE_LIMIT) is InvoiceKind.FULL
    free = assess(30, STARTED, tariff(), TaxCase.REVERSE_CHARGE)
    assert not isinstance(free, Billable)
    assert apply_tax_case(free.pricing, TaxCase.REVERSE_CHARGE) == free.pricing


# ---------------------------------------------------------------- through the issuing handler
def ended(seconds: int) -> SessionEnded:
    return SessionEnded(session_id=uuid.uuid4(), request_id=uuid.uuid4(), technician="tech-07",
                        started_at=STARTED, ended_at=STARTED + timedelta(seconds=seconds),
                        duration_seconds=seconds)


async def issue(world: Any, event: SessionEnded, customer_type: CustomerType = B2B) -> InvoiceIssued:
    await on_support_request_created([SupportRequestCreated(
        request_id=event.request_id, ticket="K7MQ-3XA", customer_type=customer_type,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=STARTED),
        has_billing_address=True, has_email=False)],
        world.uow(), deps=world.deps)
    uow = world.uow()
    await on_session_ended(event, uow, deps=world.deps)
    (issued,) = [e for e in uow.emitted if isinstance(e, InvoiceIssued)]
    return issued


async def test_austrian_business_gets_a_reverse_charge_full_invoice_even_for_a_small_sum(world: Any) -> None:
    event = ended(1800)
    world.vault.store(event.request_id, country="AT", vat_id="ATU12345678")
    issued = await issue(world, event)
    assert (issued.kind, issued.tax_case, issued.vat_rate, issued.vat_total, issued.gross_total) == \
        (InvoiceKind.FULL, TaxCase.REVERSE_CHARGE, Decimal(0), Decimal("0.00"), Decimal("48.00"))
    assert "ATU12345678" not in issued.model_dump_json()  # the VAT id stays in the vault
    rendered = world.repo.archived[issued.invoice_number][2]
    text = pdf_text(rendered.pdf)
    for value in ("Steuerschuldnerschaft des Leistungsempfängers", "USt-IdNr. Empfänger: ATU12345678",
                  "Muster GmbH", "Umsatzsteuer 0 % 0,00 €"):
        assert contains(text, value), value
    assert rendered.xml is not None and b"<ram:CategoryCode>AE</ram:CategoryCode>" in rendered.xml
    assert world.repo.invoices[issued.invoice_number].tax_case is TaxCase.REVERSE_CHARGE
    assert world.repo.invoices[issued.invoice_number].recipient.vat_id == "ATU12345678"


async def test_swiss_business_is_not_taxable_and_austrian_consumer_pays_german_vat(world: Any) -> None:
    swiss, austrian = ended(1800), ended(1800)
    world.vault.store(swiss.request_id, country="CH")
    world.vault.store(austrian.request_id, country="AT")
    a = await issue(world, swiss)
    b = await issue(world, austrian, customer_type=B2C)
    assert (a.kind, a.tax_case, a.vat_total) == (InvoiceKind.FULL, TaxCase.NOT_TAXABLE, Decimal("0.00"))
    assert contains(pdf_text(world.repo.archived[a.invoice_number][2].pdf), "Nicht im Inland steuerbare Leistung")
    assert (b.kind, b.tax_case, b.vat_total) == (InvoiceKind.SMALL, TaxCase.FOREIGN_CONSUMER, Decimal("9.12"))


async def test_a_malformed_vat_id_in_the_vault_issues_nothing_and_uses_no_number(world: Any) -> None:
    event = ended(1800)
    world.vault.store(event.request_id, country="AT")
    entry = world.vault.entries[event.request_id]
    # bypasses the contract's check, as a value written before it would
    world.vault.entries[event.request_id] = entry.model_copy(
        update={"data": entry.data.model_copy(update={"vat_id": "ATU1"})})
    await on_support_request_created([SupportRequestCreated(
        request_id=event.request_id, ticket="K7MQ-3XA", customer_type=B2B,
        terms=TermsAcceptance(terms_version="2026-01", terms_sha256="a" * 64, accepted_at=STARTED),
        has_billing_address=True, has_email=False)], world.uow(), deps=world.deps)
    # a recorded block (issuing_failed), not a parked message; the id is named nowhere
    uow = world.uow()
    await on_session_ended(event, uow, deps=world.deps)
    blocked = [e for e in uow.emitted if isinstance(e, BillingBlocked)]
    assert [(b.reason, b.missing) for b in blocked] == [(BlockReason.ISSUING_FAILED, ())]
    assert not any(isinstance(e, InvoiceIssued) for e in uow.emitted)
    assert all("ATU1" not in e.to_json().decode() for e in uow.emitted)
    assert world.repo.invoices == {} and world.repo.counters.get(2026, 0) == 0
