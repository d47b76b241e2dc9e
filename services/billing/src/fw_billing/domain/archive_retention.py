"""How long the invoice archive is kept. Pure rules (the e-mail back-off is in ``delivery``).

§147 Abs. 3 AO, §14b Abs. 1 UStG (as amended by BEG IV): invoices are kept **8 years**; the
period starts at the end of the calendar year in which the document was issued. A document of
2026 may therefore be destroyed from 1 January 2035 (office time), not a day earlier.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from fw_billing.domain.tariff import DEFAULT_TIMEZONE

RETENTION_YEARS = 8


def destroyable_from(year: int, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """The first instant at which the archive of ``year`` may be destroyed."""
    return datetime(year + 1 + RETENTION_YEARS, 1, 1, tzinfo=ZoneInfo(timezone))


def is_expired(year: int, now: datetime, timezone: str = DEFAULT_TIMEZONE) -> bool:
    """Whether the retention period of documents issued in ``year`` has ended at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now >= destroyable_from(year, timezone)


def expired_years(years: Iterable[int], now: datetime, *, held: Iterable[int] = (),
                  timezone: str = DEFAULT_TIMEZONE) -> list[int]:
    """The years whose archive may go now, oldest first. ``held`` years are kept (e.g. a tax
    assessment still open, §147 Abs. 3 S. 5 AO, or an audit in progress)."""
    keep = set(held)
    return sorted(y for y in set(years) if y not in keep and is_expired(y, now, timezone))

