"""The CSV format German accounting tools import: BOM, ';', CRLF, decimal comma, no formulas."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from fw_billing.adapters.exports import _text, local_day_bounds, to_csv
from fw_billing.domain.formatting import date_de, decimal_de, money_de, percent_de, quantity_de


def test_csv_bytes() -> None:
    body = to_csv(["Belegnummer", "Firma"], [["FW-2026-000001", "Müller; Söhne \"KG\""]])
    assert body == '\ufeffBelegnummer;Firma\r\nFW-2026-000001;"Müller; Söhne ""KG"""\r\n'.encode()


def test_formula_text_is_defused_but_phone_numbers_are_not() -> None:
    assert _text("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert _text("@SUM(A1)") == "'@SUM(A1)" and _text("-1+2") == "'-1+2"
    assert _text("+4930123456") == "+4930123456" and _text("Muster GmbH") == "Muster GmbH"
    assert _text(None) == "" and _text("") == ""


def test_german_numbers_and_dates() -> None:
    assert decimal_de(Decimal("1234.5")) == "1.234,50" and decimal_de(Decimal("-285.6"), grouping=False) == "-285,60"
    assert money_de(Decimal("-72.00")) == "-72,00 €" and percent_de(Decimal("0.075")) == "7,5 %"
    assert quantity_de(Decimal("3.000")) == "3" and quantity_de(Decimal("1.50")) == "1,5"
    # 23:30 UTC on 31 Dec is already New Year in Berlin.
    assert date_de(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "01.01.2027"


def test_export_range_is_whole_office_days() -> None:
    lower, upper = local_day_bounds(date(2026, 3, 1), date(2026, 3, 31))
    assert lower == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert upper == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # summer time from 29 March
