"""DATEV-Format booking batch (EXTF, Buchungsstapel, format category 21, version 700): the file
German tax advisers import (LEGAL.md L20). Pure: bookings and settings in, bytes out.

Line 1 is the header (31 fields: "EXTF", version 700, category 21, "Buchungsstapel", format
version 13, creation time, origin, Berater-/Mandantennummer, Wirtschaftsjahresbeginn,
Sachkontenlänge, period, label, …, Sachkontenrahmen); line 2 the 125 column titles of format
version 13; then one row per invoice or cancellation, all 125 positions, unused ones empty.
Separator ``;``, decimal comma, text in double quotes (``"`` doubled), CRLF. Windows-1252
(DATEV's classic ANSI) or UTF-8 with BOM, as configured; the header has no encoding field,
DATEV recognises UTF-8 by its BOM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from fw_contracts.events import TaxCase

#: The columns of a Buchungsstapel, format version 13 (DATEV-Format 700), in DATEV's order.
COLUMNS: tuple[str, ...] = (
    "Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs", "Basis-Umsatz",
    "WKZ Basis-Umsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)", "BU-Schlüssel", "Belegdatum",
    "Belegfeld 1", "Belegfeld 2", "Skonto", "Buchungstext", "Postensperre", "Diverse Adressnummer",
    "Geschäftspartnerbank", "Sachverhalt", "Zinssperre", "Beleglink",
    *(f"Beleginfo - {part} {i}" for i in range(1, 9) for part in ("Art", "Inhalt")),
    "KOST1 - Kostenstelle", "KOST2 - Kostenstelle", "Kost-Menge", "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)", "Abw. Versteuerungsart", "Sachverhalt L+L", "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp", "BU 49 Hauptfunktionsnummer", "BU 49 Funktionsergänzung",
    *(name for i in range(1, 21) for name in (f"Zusatzinformation - Art {i}", f"Zusatzinformation- Inhalt {i}")),
    "Stück", "Gewicht", "Zahlweise", "Forderungsart", "Veranlagungsjahr", "Zugeordnete Fälligkeit",
    "Skontotyp", "Auftragsnummer", "Buchungstyp", "USt-Schlüssel (Anzahlungen)", "EU-Land (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)", "EU-Steuersatz (Anzahlungen)", "Erlöskonto (Anzahlungen)",
    "Herkunft-Kz", "Buchungs GUID", "KOST-Datum", "SEPA-Mandatsreferenz", "Skontosperre",
    "Gesellschaftername", "Beteiligtennummer", "Identifikationsnummer", "Zeichnernummer",
    "Postensperre bis", "Bezeichnung SoBil-Sachverhalt", "Kennzeichen SoBil-Buchung", "Festschreibung",
    "Leistungsdatum", "Datum Zuord. Steuerperiode", "Fälligkeit", "Generalumkehr (GU)", "Steuersatz",
    "Land", "Abrechnungsreferenz", "BVV-Position", "EU-Land u. UStID (Ursprung)",
    "EU-Steuersatz (Ursprung)", "Abw. Skontokonto",
)
_INDEX = {name: i for i, name in enumerate(COLUMNS)}


class Chart(StrEnum):
    """Standard charts of accounts (Sachkontenrahmen)."""

    SKR03 = "03"
    SKR04 = "04"


#: Usual revenue accounts per chart and tax case (LEGAL.md L20): 19 % revenue, revenue whose
#: tax the recipient owes (§13b), revenue not taxable here (third country), §19 revenue.
DEFAULT_ACCOUNTS: dict[Chart, dict[str, int]] = {
    Chart.SKR03: {"revenue": 8400, "reverse_charge": 8336, "not_taxable": 8338, "small_business": 8195},
    Chart.SKR04: {"revenue": 4400, "reverse_charge": 4336, "not_taxable": 4338, "small_business": 4185},
}


class DatevRangeError(ValueError):
    """The period cannot be one booking batch (German/English message)."""


@dataclass(frozen=True)
class DatevConfig:
    """The office's DATEV data (settings ``FW_BILLING_DATEV_*``)."""

    consultant_number: int          # Beraternummer, 1001..9999999
    client_number: int              # Mandantennummer, 1..99999
    chart: Chart = Chart.SKR03
    fiscal_year_start_month: int = 1
    account_length: int = 4         # Sachkontenlänge
    #: Debtor (Personenkonto) every invoice is booked against; length = account_length + 1.
    debtor_account: int = 10000
    revenue_account: int | None = None
    reverse_charge_account: int | None = None
    not_taxable_account: int | None = None
    small_business_account: int | None = None
    encoding: Literal["windows-1252", "utf-8"] = "windows-1252"

    def __post_init__(self) -> None:
        if not 1001 <= self.consultant_number <= 9_999_999:
            raise ValueError("DATEV Beraternummer must be 1001..9999999")
        if not 1 <= self.client_number <= 99_999:
            raise ValueError("DATEV Mandantennummer must be 1..99999")
        if not 1 <= self.fiscal_year_start_month <= 12:
            raise ValueError("DATEV fiscal year start month must be 1..12")
        if not 4 <= self.account_length <= 8:
            raise ValueError("DATEV Sachkontenlänge must be 4..8")
        for name in ("revenue", "reverse_charge", "not_taxable", "small_business"):
            if len(str(self.account(name))) > self.account_length:
                raise ValueError(f"DATEV {name} account is longer than the Sachkontenlänge")
        if len(str(self.debtor_account)) != self.account_length + 1:
            raise ValueError("DATEV debtor account must have Sachkontenlänge + 1 digits")

    def account(self, name: str) -> int:
        """A revenue account: the configured one, else the chart's usual one."""
        configured: int | None = getattr(self, f"{name}_account")
        return configured if configured is not None else DEFAULT_ACCOUNTS[self.chart][name]

    def revenue_for(self, case: TaxCase) -> int:
        return self.account({TaxCase.REVERSE_CHARGE: "reverse_charge", TaxCase.NOT_TAXABLE: "not_taxable",
                             TaxCase.SMALL_BUSINESS: "small_business"}.get(case, "revenue"))

    def fiscal_year_start(self, day: date) -> date:
        """The first day of the fiscal year ``day`` falls in."""
        year = day.year if day.month >= self.fiscal_year_start_month else day.year - 1
        return date(year, self.fiscal_year_start_month, 1)


@dataclass(frozen=True)
class Booking:
    """One invoice or cancellation as booked: debtor to revenue (a Storno the other way round)."""

    number: str
    issue_date: date            # office-local
    service_date: date          # office-local
    gross_total: Decimal        # as on the document (negative on a cancellation)
    tax_case: TaxCase
    vat_rate: Decimal
    #: The invoice a cancellation cancels.
    cancels: str | None = None
    #: Reverse charge: the recipient's VAT id, for the Zusammenfassende Meldung (§18a UStG).
    recipient_vat_id: str | None = None
    #: A corrected invoice: the cancelled invoice it replaces.
    corrects: str | None = None


def _text(value: str, limit: int) -> str:
    return '"' + value[:limit].replace('"', '""') + '"'


def _amount(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def _row(booking: Booking, config: DatevConfig) -> list[str]:
    cells = [""] * len(COLUMNS)

    def put(column: str, value: str) -> None:
        cells[_INDEX[column]] = value

    cancellation = booking.cancels is not None
    # An invoice debits the debtor (S); its Storno credits it (H) with the same positive amount.
    negative = booking.gross_total < 0
    put("Umsatz (ohne Soll/Haben-Kz)", _amount(booking.gross_total))
    put("Soll/Haben-Kennzeichen", _text("H" if negative else "S", 1))
    put("WKZ Umsatz", _text("EUR", 3))
    put("Konto", str(config.debtor_account))
    put("Gegenkonto (ohne BU-Schlüssel)", str(config.revenue_for(booking.tax_case)))
    put("Belegdatum", booking.issue_date.strftime("%d%m"))
    put("Belegfeld 1", _text(booking.number, 36))
    text = f"Storno zu {booking.cancels}" if cancellation else f"Rechnung {booking.number}"
    if booking.corrects and not cancellation:
        text += f" Korrektur zu {booking.corrects}"
    put("Buchungstext", _text(text, 60))
    if booking.tax_case is TaxCase.REVERSE_CHARGE and booking.recipient_vat_id:
        put("EU-Land u. UStID (Bestimmung)", _text(booking.recipient_vat_id, 15))
    put("Leistungsdatum", booking.service_date.strftime("%d%m%Y"))
    return cells


def booking_batch(bookings: Sequence[Booking], config: DatevConfig, *, start: date, end: date,
                  created_at: datetime, label: str = "Rechnungen fernwartung") -> bytes:
    """The EXTF file for ``bookings`` of ``start``..``end`` (inclusive, within one fiscal year)."""
    if end < start:
        raise DatevRangeError("Das Ende liegt vor dem Anfang. / 'to' is before 'from'.")
    fiscal_start = config.fiscal_year_start(start)
    if config.fiscal_year_start(end) != fiscal_start:
        raise DatevRangeError("Ein DATEV-Buchungsstapel umfasst höchstens ein Wirtschaftsjahr. / "
                              "A DATEV booking batch must lie within one fiscal year.")
    for b in bookings:
        if not start <= b.issue_date <= end:
            raise ValueError("booking outside the batch period")
    header = [
        _text("EXTF", 4), "700", "21", _text("Buchungsstapel", 14), "13",
        created_at.strftime("%Y%m%d%H%M%S") + f"{created_at.microsecond // 1000:03d}",
        "", _text("RE", 2), _text("fernwartung", 25), _text("", 25),
        str(config.consultant_number), str(config.client_number), fiscal_start.strftime("%Y%m%d"),
        str(config.account_length), start.strftime("%Y%m%d"), end.strftime("%Y%m%d"),
        _text(label, 30), _text("", 2), "1", "0", "0", _text("EUR", 3), "", _text("", 0), "", "",
        _text(config.chart.value, 2), "", "", "", _text("", 0),
    ]
    lines = [";".join(header), ";".join(COLUMNS)]
    lines += [";".join(_row(b, config)) for b in bookings]
    text = "\r\n".join(lines) + "\r\n"
    if config.encoding == "utf-8":
        return ("\ufeff" + text).encode("utf-8")
    # Our own texts are Latin; a character Windows-1252 lacks (none expected) becomes "?".
    return text.encode("cp1252", errors="replace")
