"""German number and date formats, shared by the PDF, the e-mail and the CSV exports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fw_billing.domain.tariff import DEFAULT_TIMEZONE


def decimal_de(amount: Decimal, places: int = 2, *, grouping: bool = True) -> str:
    """``1234.5`` -> ``1.234,50`` (German decimal comma, dot as thousands separator)."""
    text = f"{amount:,.{places}f}" if grouping else f"{amount:.{places}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def money_de(amount: Decimal) -> str:
    """``-72.00`` -> ``-72,00 €``."""
    return f"{decimal_de(amount)} €"


def quantity_de(quantity: Decimal) -> str:
    """Whole quantities without decimals (``3``), others with a comma (``1,5``)."""
    normalized = quantity.normalize()
    if normalized == normalized.to_integral_value():
        return str(int(normalized))
    return format(normalized, "f").replace(".", ",")


def percent_de(rate: Decimal) -> str:
    """A VAT rate stored as a fraction: ``0.19`` -> ``19 %``, ``0.075`` -> ``7,5 %``."""
    return f"{quantity_de(rate * 100)} %"


def local_date(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The office-local calendar date of an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(ZoneInfo(timezone)).date()


def date_de(moment: datetime | date, timezone: str = DEFAULT_TIMEZONE) -> str:
    """``10.03.2026`` (office-local date for an instant)."""
    day = local_date(moment, timezone) if isinstance(moment, datetime) else moment
    return day.strftime("%d.%m.%Y")


def duration_de(seconds: int) -> str:
    """``1801`` -> ``0:30:01 h``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d} h"
