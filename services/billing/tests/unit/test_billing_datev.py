"""The DATEV booking batch (EXTF 700, Buchungsstapel): header and rows checked field by field."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from fw_billing.domain.datev import COLUMNS, Booking, Chart, DatevConfig, DatevRangeError, booking_batch
from fw_contracts.events import TaxCase

CONFIG = DatevConfig(consultant_number=1234567, client_number=12345)
CREATED = datetime(2026, 4, 2, 8, 15, 30, 123456, tzinfo=UTC)
BOOKINGS = [
    Booking(number="FW-2026-000001", issue_date=date(2026, 3, 10), service_date=date(2026, 3, 9),
            gross_total=Decimal("285.60"), tax_case=TaxCase.DOMESTIC, vat_rate=Decimal("0.19")),
    Booking(number="FW-2026-000002", issue_date=date(2026, 3, 11), service_date=date(2026, 3, 11),
            gross_total=Decimal("48.00"), tax_case=TaxCase.REVERSE_CHARGE, vat_rate=Decimal(0),
            recipient_vat_id="ATU12345678"),
    Booking(number="FW-S-2026-000001", issue_date=date(2026, 3, 31), service_date=date(2026, 3, 9),
            gross_total=Decimal("-285.60"), tax_case=TaxCase.DOMESTIC, vat_rate=Decimal("0.19"),
            cancels="FW-2026-000001"),
    Booking(number="FW-2026-000003", issue_date=date(2026, 3, 31), service_date=date(2026, 3, 30),
            gross_total=Decimal("1234.50"), tax_case=TaxCase.NOT_TAXABLE, vat_rate=Decimal(0)),
    Booking(number="FW-2026-000004", issue_date=date(2026, 3, 31), service_date=date(2026, 3, 9),
            gross_total=Decimal("228.48"), tax_case=TaxCase.DOMESTIC, vat_rate=Decimal("0.19"),
            corrects="FW-2026-000001"),
]


def parse(body: bytes, encoding: str = "cp1252") -> list[list[str]]:
    text = body.decode(encoding)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_header_line_field_by_field() -> None:
    body = booking_batch(BOOKINGS, CONFIG, start=date(2026, 3, 1), end=date(2026, 3, 31), created_at=CREATED)
    raw_header = body.decode("cp1252").split("\r\n")[0]
    assert raw_header.startswith('"EXTF";700;21;"Buchungsstapel";13;20260402081530123;;"RE";')
    header = parse(body)[0]
    assert len(header) == 31
    expected = {
        1: "EXTF", 2: "700", 3: "21", 4: "Buchungsstapel", 5: "13", 6: "20260402081530123", 7: "",
        8: "RE", 9: "fernwartung", 10: "", 11: "1234567", 12: "12345", 13: "20260101", 14: "4",
        15: "20260301", 16: "20260331", 17: "Rechnungen fernwartung", 18: "", 19: "1", 20: "0",
        21: "0", 22: "EUR", 23: "", 24: "", 25: "", 26: "", 27: "03", 28: "", 29: "", 30: "", 31: "",
    }
    assert {i + 1: v for i, v in enumerate(header)} == expected


def test_column_line_is_the_125_titles_of_format_version_13() -> None:
    body = booking_batch([], CONFIG, start=date(2026, 3, 1), end=date(2026, 3, 31), created_at=CREATED)
    titles = parse(body)[1]
    assert len(titles) == len(COLUMNS) == 125 and len(set(titles)) == 125
    assert titles[:14] == ["Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs",
                           "Basis-Umsatz", "WKZ Basis-Umsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)",
                           "BU-Schlüssel", "Belegdatum", "Belegfeld 1", "Belegfeld 2", "Skonto", "Buchungstext"]
    assert titles[39] == "EU-Land u. UStID (Bestimmung)" and titles[114] == "Leistungsdatum"
    assert titles[124] == "Abw. Skontokonto"
    assert len(parse(body)) == 2  # no bookings: header and titles only


def _rows(config: DatevConfig = CONFIG) -> list[dict[str, str]]:
    body = booking_batch(BOOKINGS, config, start=date(2026, 3, 1), end=date(2026, 3, 31), created_at=CREATED)
    lines = parse(body, "utf-8-sig" if config.encoding == "utf-8" else "cp1252")
    assert all(len(line) == 125 for line in lines[2:])
    return [dict(zip(COLUMNS, line, strict=True)) for line in lines[2:]]


def _filled(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if v}


def test_rows_field_by_field_skr03() -> None:
    invoice, reverse, storno, third_country, corrected = _rows()
    assert _filled(invoice) == {
        "Umsatz (ohne Soll/Haben-Kz)": "285,60", "Soll/Haben-Kennzeichen": "S", "WKZ Umsatz": "EUR",
        "Konto": "10000", "Gegenkonto (ohne BU-Schlüssel)": "8400", "Belegdatum": "1003",
        "Belegfeld 1": "FW-2026-000001", "Buchungstext": "Rechnung FW-2026-000001", "Leistungsdatum": "09032026"}
    assert _filled(reverse) == {
        "Umsatz (ohne Soll/Haben-Kz)": "48,00", "Soll/Haben-Kennzeichen": "S", "WKZ Umsatz": "EUR",
        "Konto": "10000", "Gegenkonto (ohne BU-Schlüssel)": "8336", "Belegdatum": "1103",
        "Belegfeld 1": "FW-2026-000002", "Buchungstext": "Rechnung FW-2026-000002",
        "EU-Land u. UStID (Bestimmung)": "ATU12345678", "Leistungsdatum": "11032026"}
    assert _filled(storno) == {
        "Umsatz (ohne Soll/Haben-Kz)": "285,60", "Soll/Haben-Kennzeichen": "H", "WKZ Umsatz": "EUR",
        "Konto": "10000", "Gegenkonto (ohne BU-Schlüssel)": "8400", "Belegdatum": "3103",
        "Belegfeld 1": "FW-S-2026-000001", "Buchungstext": "Storno zu FW-2026-000001",
        "Leistungsdatum": "09032026"}
    assert third_country["Gegenkonto (ohne BU-Schlüssel)"] == "8338"
    assert third_country["Umsatz (ohne Soll/Haben-Kz)"] == "1234,50"  # no thousands separator
    assert corrected["Buchungstext"] == "Rechnung FW-2026-000004 Korrektur zu FW-2026-000001"
    assert corrected["Soll/Haben-Kennzeichen"] == "S" and corrected["Umsatz (ohne Soll/Haben-Kz)"] == "228,48"


def test_skr04_accounts_settings_and_utf8() -> None:
    config = DatevConfig(consultant_number=1001, client_number=1, chart=Chart.SKR04, encoding="utf-8",
                         revenue_account=4401)
    body = booking_batch(BOOKINGS, config, start=date(2026, 3, 1), end=date(2026, 3, 31), created_at=CREATED)
    assert body.startswith(b"\xef\xbb\xbf") and "Schlüssel".encode() in body
    assert parse(body, "utf-8-sig")[0][26] == "04"
    assert [r["Gegenkonto (ohne BU-Schlüssel)"] for r in _rows(config)] == ["4401", "4336", "4401", "4338", "4401"]
    ansi = booking_batch([], CONFIG, start=date(2026, 3, 1), end=date(2026, 3, 31), created_at=CREATED)
    assert "Schlüssel".encode("cp1252") in ansi and not ansi.startswith(b"\xef\xbb\xbf")


def test_a_quote_in_a_text_is_doubled() -> None:
    booking = Booking(number='X"1', issue_date=date(2026, 3, 1), service_date=date(2026, 3, 1),
                      gross_total=Decimal("1.00"), tax_case=TaxCase.DOMESTIC, vat_rate=Decimal("0.19"))
    body = booking_batch([booking], CONFIG, start=date(2026, 3, 1), end=date(2026, 3, 1), created_at=CREATED)
    assert '"X""1"' in body.decode("cp1252") and parse(body)[2][10] == 'X"1'


def test_refused_periods_and_settings() -> None:
    with pytest.raises(DatevRangeError, match=r"Wirtschaftsjahr.* / .*fiscal year"):
        booking_batch([], CONFIG, start=date(2025, 12, 1), end=date(2026, 1, 31), created_at=CREATED)
    july = DatevConfig(consultant_number=1234567, client_number=1, fiscal_year_start_month=7)
    body = booking_batch([], july, start=date(2025, 12, 1), end=date(2026, 1, 31), created_at=CREATED)
    assert parse(body)[0][12] == "20250701"  # Wirtschaftsjahresbeginn of a July fiscal year
    with pytest.raises(DatevRangeError, match="Ende liegt vor dem Anfang"):
        booking_batch([], CONFIG, start=date(2026, 3, 2), end=date(2026, 3, 1), created_at=CREATED)
    for bad, why in (({"consultant_number": 1000}, "Beraternummer"), ({"client_number": 0}, "Mandantennummer"),
                     ({"debtor_account": 1400}, "debtor account"), ({"revenue_account": 84000}, "revenue account")):
        with pytest.raises(ValueError, match=why):
            DatevConfig(**{"consultant_number": 1234567, "client_number": 1, **bad})  # type: ignore[arg-type]
