"""CSV exports for the office's accounting (columns documented in the README).

Format German accounting tools and spreadsheets import without questions: UTF-8 with BOM,
semicolon-separated, CRLF line ends, decimal comma without thousands separator, dates
TT.MM.JJJJ (office time). Text that could be read as a spreadsheet formula is prefixed with an
apostrophe (CSV injection); amounts are never text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from fw_billing.adapters.keys import KeyDestroyed, KeyPurpose, KeyRing, open_sealed
from fw_billing.adapters.sealed import customer_aad, recipient_aad, recipient_from_json
from fw_billing.domain.datev import Booking, DatevConfig, booking_batch
from fw_billing.domain.documents import REASON_LABELS
from fw_billing.domain.formatting import date_de, decimal_de, local_date
from fw_billing.domain.tariff import DEFAULT_TIMEZONE
from fw_contracts.events import TaxCase
from fw_contracts.text import defuse

INVOICE_COLUMNS = ("Belegart", "Belegnummer", "Belegdatum", "Leistungsdatum", "Bezugsbeleg",
                   "Kundennummer", "Rechnungsempfänger", "Netto", "USt-Satz", "USt", "Brutto",
                   "Währung", "E-Rechnung", "Stornogrund", "Tarif", "Sitzung")
CUSTOMER_COLUMNS = ("Kundennummer", "Firma", "Ansprechpartner", "Telefon", "E-Mail", "Straße",
                    "PLZ", "Ort", "Land", "Angelegt am", "Gelöscht am")
_KINDS = {"kleinbetrag": "Kleinbetragsrechnung", "full": "Rechnung"}


_E164 = re.compile(r"^\+[1-9][0-9]{6,15}$")


def _text(value: str | None) -> str:
    """Text cell; a leading formula character gets an apostrophe (a phone number does not)."""
    if not value:
        return ""
    value = defuse(value)  # no NUL, ESC or direction override of old data in a cell
    if value[0] in "=+-@\t\r" and not _E164.match(value):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 with BOM, ``;``, CRLF."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _money(value: object) -> str:
    return decimal_de(value, grouping=False)  # type: ignore[arg-type]


def local_day_bounds(start: date, end: date, timezone: str = DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """``[start 00:00, end+1 00:00)`` in office time, as aware instants."""
    zone = ZoneInfo(timezone)
    return (datetime.combine(start, time(), zone), datetime.combine(end + timedelta(days=1), time(), zone))


class DatevNotConfigured(Exception):
    """No Berater-/Mandantennummer configured: no DATEV file (a half-right one is worse)."""


class Exports:
    def __init__(self, pool: Callable[[], asyncpg.Pool], keys: KeyRing,
                 datev: DatevConfig | None = None) -> None:
        self._pool = pool
        self._keys = keys
        self._datev = datev

    async def _recipient_name(self, conn: asyncpg.Connection, number: str, year: int | None,
                              blob: bytes | None, cache: dict[int, bytes | None]) -> str:
        if blob is None or year is None:
            return ""
        if year not in cache:
            try:
                cache[year] = await self._keys.existing_key(conn, KeyPurpose.ARCHIVE, year)
            except KeyDestroyed:
                cache[year] = None
        key = cache[year]
        if key is None:
            return ""
        return recipient_from_json(open_sealed(key, recipient_aad(number), bytes(blob))).company

    async def invoices_csv(self, start: date, end: date) -> bytes:
        """Invoices and cancellations issued from ``start`` to ``end`` (inclusive, office time)."""
        lower, upper = local_day_bounds(start, end)
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT 'invoice' AS doc, i.number, i.kind, i.issued_at, i.service_date,"
                " c.number AS related, i.customer_number, r.year AS r_year, r.data_enc,"
                " i.number AS recipient_of, i.net_total, i.vat_rate, i.vat_total, i.gross_total,"
                " i.currency, i.e_invoice, NULL AS reason_code, i.tariff_version, i.session_id"
                " FROM invoices i LEFT JOIN cancellations c ON c.invoice_number = i.number"
                " LEFT JOIN invoice_recipients r ON r.invoice_number = i.number"
                " WHERE i.issued_at >= $1 AND i.issued_at < $2"
                " UNION ALL "
                "SELECT 'cancellation', c.number, i.kind, c.issued_at, i.service_date, i.number,"
                " i.customer_number, r.year, r.data_enc, i.number, c.net_total, c.vat_rate,"
                " c.vat_total, c.gross_total, c.currency, c.e_invoice, c.reason_code,"
                " i.tariff_version, i.session_id"
                " FROM cancellations c JOIN invoices i ON i.number = c.invoice_number"
                " LEFT JOIN invoice_recipients r ON r.invoice_number = i.number"
                " WHERE c.issued_at >= $1 AND c.issued_at < $2"
                " ORDER BY 4, 2", lower, upper)
            cache: dict[int, bytes | None] = {}
            out = []
            for r in rows:
                cancellation = r["doc"] == "cancellation"
                out.append([
                    "Stornorechnung" if cancellation else _KINDS[r["kind"]], r["number"],
                    date_de(r["issued_at"]), date_de(r["service_date"]), r["related"] or "",
                    r["customer_number"] or "",
                    _text(await self._recipient_name(conn, r["recipient_of"], r["r_year"], r["data_enc"], cache)),
                    _money(r["net_total"]), decimal_de(r["vat_rate"] * 100, 2, grouping=False),
                    _money(r["vat_total"]), _money(r["gross_total"]), r["currency"],
                    "ja" if r["e_invoice"] else "nein",
                    REASON_LABELS.get(r["reason_code"] or "", ""), _text(r["tariff_version"]),
                    str(r["session_id"])])
        return to_csv(INVOICE_COLUMNS, out)

    async def datev_csv(self, start: date, end: date, now: datetime) -> bytes:
        """The DATEV booking batch (EXTF 700, Buchungsstapel) of ``start``..``end`` (issue dates,
        office time): every invoice and cancellation; raises :class:`DatevNotConfigured`,
        :class:`~fw_billing.domain.datev.DatevRangeError`."""
        if self._datev is None:
            raise DatevNotConfigured
        lower, upper = local_day_bounds(start, end)
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT i.number, i.issued_at, i.service_date, i.gross_total, i.vat_rate, i.tax_case,"
                " NULL AS cancels, r.year AS r_year, r.data_enc, i.number AS recipient_of, i.corrects"
                " FROM invoices i LEFT JOIN invoice_recipients r ON r.invoice_number = i.number"
                " WHERE i.issued_at >= $1 AND i.issued_at < $2"
                " UNION ALL "
                "SELECT c.number, c.issued_at, i.service_date, c.gross_total, c.vat_rate, i.tax_case,"
                " i.number, r.year, r.data_enc, i.number, NULL"
                " FROM cancellations c JOIN invoices i ON i.number = c.invoice_number"
                " LEFT JOIN invoice_recipients r ON r.invoice_number = i.number"
                " WHERE c.issued_at >= $1 AND c.issued_at < $2"
                " ORDER BY 2, 1", lower, upper)
            cache: dict[int, bytes | None] = {}
            bookings = []
            for r in rows:
                case = TaxCase(r["tax_case"])
                vat_id = None
                if case is TaxCase.REVERSE_CHARGE:  # for the Zusammenfassende Meldung
                    vat_id = await self._recipient_vat_id(conn, r["recipient_of"], r["r_year"], r["data_enc"], cache)
                bookings.append(Booking(
                    number=r["number"], issue_date=local_date(r["issued_at"]),
                    service_date=local_date(r["service_date"]), gross_total=r["gross_total"],
                    tax_case=case, vat_rate=r["vat_rate"], cancels=r["cancels"], recipient_vat_id=vat_id,
                    corrects=r["corrects"]))
        return booking_batch(bookings, self._datev, start=start, end=end, created_at=now)

    async def _recipient_vat_id(self, conn: asyncpg.Connection, number: str, year: int | None,
                                blob: bytes | None, cache: dict[int, bytes | None]) -> str | None:
        if blob is None or year is None:
            return None
        if year not in cache:
            try:
                cache[year] = await self._keys.existing_key(conn, KeyPurpose.ARCHIVE, year)
            except KeyDestroyed:
                cache[year] = None
        key = cache[year]
        if key is None:
            return None
        return recipient_from_json(open_sealed(key, recipient_aad(number), bytes(blob))).vat_id

    async def customers_csv(self) -> bytes:
        """Every customer account (personal data: the office's own accounting only)."""
        async with self._pool().acquire() as conn:
            rows = await conn.fetch("SELECT * FROM customer_accounts"
                                    " ORDER BY length(customer_number), customer_number")
            keys: dict[int, bytes] = {}
            out = []
            for r in rows:
                if r["personal_enc"] is None:  # closed: only the number and the dates remain
                    out.append([r["customer_number"], *[""] * 8, date_de(r["created_at"]),
                                date_de(r["closed_at"])])
                    continue
                if r["key_year"] not in keys:
                    keys[r["key_year"]] = await self._keys.existing_key(conn, KeyPurpose.CUSTOMER, r["key_year"])
                p = json.loads(open_sealed(keys[r["key_year"]], customer_aad(r["customer_number"]),
                                           bytes(r["personal_enc"])))
                a = p.get("address") or {}
                out.append([r["customer_number"], _text(p["company"]), _text(p["contact_name"]),
                            _text(p["phone"]), _text(p.get("email")), _text(a.get("street")),
                            _text(a.get("postal_code")), _text(a.get("city")), _text(a.get("country")),
                            date_de(r["created_at"]), ""])
        return to_csv(CUSTOMER_COLUMNS, out)
