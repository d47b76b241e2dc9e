"""Read side of the office's invoice list: one page of invoices, newest first, with filters.

Ids, numbers, amounts and status only: the list never decrypts a recipient (that is shown only on
the single invoice, from its archive copy, to staff).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel

from fw_contracts.events import LEGACY_SMALL_KIND, InvoiceKind

#: Periods are calendar days in the office's time zone (as printed on the invoices).
BERLIN = ZoneInfo("Europe/Berlin")


class InvoiceStatus(StrEnum):
    """``issued``: valid; ``cancelled``: a Storno exists (the invoice itself is unchanged) and no
    corrected invoice (yet); ``corrected``: cancelled and replaced by a corrected invoice."""

    ISSUED = "issued"
    CANCELLED = "cancelled"
    CORRECTED = "corrected"


class KindFilter(StrEnum):
    """``kind`` of the list: an :class:`InvoiceKind` (``kleinbetrag`` still accepted for
    ``small``), or ``e_invoice``."""

    SMALL = "small"
    FULL = "full"
    #: a full invoice with its EN 16931 XML
    E_INVOICE = "e_invoice"

    @classmethod
    def _missing_(cls, value: object) -> KindFilter | None:
        return cls.SMALL if value == LEGACY_SMALL_KIND else None

    @property
    def stored(self) -> str:
        """The value compared with ``invoices.kind`` (or ``e_invoice``)."""
        return LEGACY_SMALL_KIND if self is KindFilter.SMALL else self.value


class InvoiceSummary(BaseModel):
    """One row of the list: no recipient, no lines."""

    number: str
    kind: InvoiceKind
    e_invoice: bool
    status: InvoiceStatus
    issued_at: datetime
    service_date: datetime
    session_id: uuid.UUID
    request_id: uuid.UUID
    #: The request's ticket code (absent on invoices of requests recorded before billing kept it).
    ticket: str | None
    customer_number: str | None
    net_total: Decimal
    vat_total: Decimal
    gross_total: Decimal
    currency: str
    cancelled_by: str | None
    cancelled_at: datetime | None
    #: On a corrected invoice (Rechnungskorrektur): the number of the invoice it replaces.
    corrects: str | None = None
    #: On a corrected (status ``corrected``) invoice: the number of the invoice that replaced it.
    corrected_by: str | None = None
    #: The office user (staff id) who cancelled it / who issued this corrected invoice.
    cancelled_by_user: str | None = None
    issued_by_user: str | None = None


@dataclass(frozen=True)
class InvoiceFilter:
    """What the office narrows the list by; ``None`` is "any". ``search`` is an invoice or Storno
    number (also its end, e.g. ``000123``), a ticket code or a customer number."""

    issued_from: date | None = None
    issued_to: date | None = None
    status: InvoiceStatus | None = None
    kind: KindFilter | None = None
    customer_number: str | None = None
    ticket: str | None = None
    search: str | None = None


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BERLIN)


_LIST_SQL = """
SELECT i.number, i.kind, i.e_invoice, i.issued_at, i.service_date, i.session_id, i.request_id,
       f.ticket, i.customer_number, i.net_total, i.vat_total, i.gross_total, i.currency,
       c.number AS cancelled_by, c.issued_at AS cancelled_at, i.corrects, r.number AS corrected_by,
       c.acted_by AS cancelled_by_user, i.acted_by AS issued_by_user,
       count(*) OVER () AS total
FROM invoices i
LEFT JOIN cancellations c ON c.invoice_number = i.number
LEFT JOIN invoices r ON r.corrects = i.number
LEFT JOIN request_facts f ON f.request_id = i.request_id
WHERE ($1::timestamptz IS NULL OR i.issued_at >= $1)
  AND ($2::timestamptz IS NULL OR i.issued_at < $2)
  AND ($3::text IS NULL OR ($3 = 'issued' AND c.number IS NULL)
       OR ($3 = 'cancelled' AND c.number IS NOT NULL AND r.number IS NULL)
       OR ($3 = 'corrected' AND c.number IS NOT NULL AND r.number IS NOT NULL))
  AND ($4::text IS NULL OR ($4 = 'e_invoice' AND i.e_invoice) OR i.kind = $4)
  AND ($5::text IS NULL OR i.customer_number = $5)
  AND ($6::text IS NULL OR f.ticket = $6)
  AND ($7::text IS NULL OR i.number = $7 OR c.number = $7 OR f.ticket = $7 OR i.customer_number = $7
       OR i.number LIKE '%' || $7)
ORDER BY i.issued_at DESC, i.number DESC
LIMIT $8 OFFSET $9
"""


def _status(cancelled_by: str | None, corrected_by: str | None) -> InvoiceStatus:
    if cancelled_by is None:
        return InvoiceStatus.ISSUED
    return InvoiceStatus.CORRECTED if corrected_by else InvoiceStatus.CANCELLED


class InvoiceListView:
    """Pages of invoices from billing's own tables (on the service's pool)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def page(self, flt: InvoiceFilter, limit: int, offset: int) -> tuple[list[InvoiceSummary], int]:
        """The invoices matching ``flt``, newest first, and how many match in all."""
        start = _local_midnight(flt.issued_from) if flt.issued_from else None
        end = _local_midnight(flt.issued_to + timedelta(days=1)) if flt.issued_to else None
        rows = await self._pool().fetch(
            _LIST_SQL, start, end, flt.status.value if flt.status else None,
            flt.kind.stored if flt.kind else None, flt.customer_number, flt.ticket, flt.search, limit, offset)
        total = int(rows[0]["total"]) if rows else 0
        if not rows and offset:  # past the end: still say how many there are
            total = int(await self._pool().fetchval(
                "SELECT count(*) FROM (" + _LIST_SQL.replace("LIMIT $8 OFFSET $9", "") + ") AS m",
                start, end, flt.status.value if flt.status else None,
                flt.kind.stored if flt.kind else None, flt.customer_number, flt.ticket, flt.search))
        items = [InvoiceSummary(
            number=r["number"], kind=InvoiceKind(r["kind"]), e_invoice=r["e_invoice"],
            status=_status(r["cancelled_by"], r["corrected_by"]),
            issued_at=r["issued_at"], service_date=r["service_date"], session_id=r["session_id"],
            request_id=r["request_id"], ticket=r["ticket"], customer_number=r["customer_number"],
            net_total=r["net_total"], vat_total=r["vat_total"], gross_total=r["gross_total"],
            currency=r["currency"], cancelled_by=r["cancelled_by"], cancelled_at=r["cancelled_at"],
            corrects=r["corrects"], corrected_by=r["corrected_by"],
            cancelled_by_user=r["cancelled_by_user"], issued_by_user=r["issued_by_user"])
            for r in rows]
        return items, total
