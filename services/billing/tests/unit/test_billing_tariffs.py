"""Tariff files, the catalog, invoice numbering and settings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from fw_billing.adapters.tariff_files import load_catalog, shipped_tariffs
from fw_billing.domain.invoicing import (
    check_number_format,
    format_customer_number,
    format_invoice_number,
    invoice_year,
)
from fw_billing.domain.tariff import TariffError
from fw_billing.settings import Settings

SHIPPED = "2026-01"
OWN_TARIFF = """
base_fee = 5.00
interval_seconds = 600
rate_per_interval = 19.90
min_billed_seconds = 600
vat_rate = 0.19
"""


def test_shipped_tariff_loads_with_decimals_exact() -> None:
    (t,) = [t for t in shipped_tariffs() if t.version == SHIPPED]
    assert t.rate_per_interval == Decimal("24.00") and t.vat_rate == Decimal("0.19")
    assert t.interval_seconds == 900 and t.free_threshold_seconds == 120
    assert {s.kind for s in t.surcharges} == {"evening", "weekend"}


def test_newest_is_current_by_default() -> None:
    catalog = load_catalog()
    assert catalog.current.version == max(catalog.versions)
    assert SHIPPED in catalog.versions


def test_directory_adds_versions_and_newest_wins(tmp_path: Path) -> None:
    (tmp_path / "2099-01.toml").write_text(OWN_TARIFF)
    catalog = load_catalog(directory=tmp_path)
    assert catalog.current.version == "2099-01"
    assert catalog.current.rate_per_interval == Decimal("19.90")  # not 19.899999...
    assert catalog.get(SHIPPED).version == SHIPPED  # old invoices can still be re-priced


def test_selected_version(tmp_path: Path) -> None:
    (tmp_path / "2099-01.toml").write_text(OWN_TARIFF)
    assert load_catalog(SHIPPED, tmp_path).current.version == SHIPPED
    with pytest.raises(TariffError):
        load_catalog("1999-01", tmp_path)


def test_a_shipped_version_cannot_be_redefined_differently(tmp_path: Path) -> None:
    (tmp_path / f"{SHIPPED}.toml").write_text(OWN_TARIFF)
    with pytest.raises(TariffError, match="defined twice"):
        load_catalog(directory=tmp_path)


@pytest.mark.parametrize(("text", "match"), [
    ("interval_seconds = 0\nrate_per_interval = 1.00", "interval_seconds"),
    ("interval_seconds = 900\nrate_per_interval = 1.001", "rate_per_interval"),   # sub-cent price
    ("interval_seconds = 900\nrate_per_interval = -1.00", "rate_per_interval"),
    ("interval_seconds = 900\nrate_per_interval = 1.00\nvat_rate = 1.5", "vat_rate"),
    ("interval_seconds = 900\nrate_per_interval = 1.00\nunknown = 1", "unknown"),
    ("interval_seconds = 900\nrate_per_interval = 1.00\ntimezone = 'Mars/Base'", "timezone"),
    ("interval_seconds = 900\nrate_per_interval = 1.00\nversion = 'other'", "declares version"),
    (("interval_seconds = 900\nrate_per_interval = 1.00\n[[surcharges]]\nkind = 'evening'\n"  # no 'from'
      "percent = 10\ndescription = 'x'"), "surcharges"),
    (("interval_seconds = 900\nrate_per_interval = 1.00\n[[surcharges]]\nkind = 'evening'\n"
      "from = '25:00'\npercent = 10\ndescription = 'x'"), "surcharges"),
    ("interval_seconds = = 900", "not valid TOML"),
])
def test_invalid_tariff_files_are_refused(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "2099-01.toml").write_text(text)
    with pytest.raises(TariffError, match=match):
        load_catalog(directory=tmp_path)


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TariffError):
        load_catalog(directory=tmp_path / "nope")


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize(("issued_at", "year"), [
    (datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC), 2026),
    (datetime(2026, 12, 31, 23, 0, 0, tzinfo=UTC), 2027),  # already New Year in Berlin
])
def test_invoice_year_is_the_office_local_year(issued_at: datetime, year: int) -> None:
    assert invoice_year(issued_at) == year


def test_default_number_format() -> None:
    assert format_invoice_number("FW-{year}-{seq:06d}", 2026, 1) == "FW-2026-000001"
    assert format_invoice_number("FW-{year}-{seq:06d}", 2026, 1234567) == "FW-2026-1234567"


@pytest.mark.parametrize("template", ["FW-{seq:06d}", "FW-{year}", "fw-{year}-{seq}", "FW {year} {seq}",
                                      "FW-{year}-{nope}", "FW-{year}-{seq:06d}-" + "X" * 30])
def test_bad_number_formats_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match=r"the invoice number format (needs|yields)"):
        check_number_format(template)


def test_customer_numbers() -> None:
    assert format_customer_number(1) == "K00001"
    assert format_customer_number(123456) == "K123456"


# ------------------------------------------------------------------ settings
def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_BILLING_TARIFF_VERSION", "")
    monkeypatch.setenv("FW_BILLING_INVOICE_NUMBER_FORMAT", "RE-{year}-{seq:05d}")
    monkeypatch.setenv("FW_INTAKE_HTTP_PORT", "9999")  # another service's variable
    # required since issue 4
    monkeypatch.setenv("FW_BILLING_ARCHIVE_KEY", "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=")
    s = Settings()
    assert s.http_port == 8083 and s.tariff_version is None
    assert s.invoice_number_format == "RE-{year}-{seq:05d}"


def test_settings_refuse_a_number_format_without_year(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_BILLING_INVOICE_NUMBER_FORMAT", "RE-{seq:05d}")
    with pytest.raises(ValueError, match=r"the invoice number format needs \{year\} and \{seq\}"):
        Settings()
