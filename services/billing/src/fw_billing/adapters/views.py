"""Read side for the HTTP API: plain queries into response models (no domain logic)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from pydantic import BaseModel

from fw_contracts.events import InvoiceKind, InvoiceLine


class RecipientView(BaseModel):
    company: str
    contact_name: str
    address: dict[str, str]


class InvoiceView(BaseModel):
    number: str
    kind: InvoiceKind
    issued_at: datetime
    service_date: datetime
    session_id: uuid.UUID
    request_id: uuid.UUID
    tariff_version: str
    raw_seconds: int
    billed_seconds: int
    lines: list[InvoiceLine]
    net_total: Decimal
    vat_rate: Decimal
    vat_total: Decimal
    gross_total: Decimal
    currency: str
    customer_number: str | None
    #: Only on a full invoice; a Kleinbetragsrechnung names no recipient.
    recipient: RecipientView | None


class SessionBillingView(BaseModel):
    session_id: uuid.UUID
    request_id: uuid.UUID
    status: str
    raw_seconds: int
    tariff_version: str
    decided_at: datetime | None
    invoice_number: str | None


class CustomerView(BaseModel):
    customer_number: str
    request_id: uuid.UUID
    session_id: uuid.UUID
    company: str
    contact_name: str
    phone: str
    email: str | None
    address: dict[str, str] | None
    statement: str
    stated_at: datetime
    technician: str
    created_at: datetime


_INVOICE_SQL = (
    "SELECT i.*, r.company, r.contact_name, r.address AS recipient_address"
    " FROM invoices i LEFT JOIN invoice_recipients r ON r.invoice_number = i.number")


def _invoice(row: asyncpg.Record) -> InvoiceView:
    recipient = None
    if row["company"] is not None:
        recipient = RecipientView(company=row["company"], contact_name=row["contact_name"],
                                  address=json.loads(row["recipient_address"]))
    return InvoiceView(
        number=row["number"], kind=InvoiceKind(row["kind"]), issued_at=row["issued_at"],
        service_date=row["service_date"], session_id=row["session_id"], request_id=row["request_id"],
        tariff_version=row["tariff_version"], raw_seconds=row["raw_seconds"],
        billed_seconds=row["billed_seconds"],
        lines=[InvoiceLine.model_validate(line) for line in json.loads(row["lines"])],
        net_total=row["net_total"], vat_rate=row["vat_rate"], vat_total=row["vat_total"],
        gross_total=row["gross_total"], currency=row["currency"],
        customer_number=row["customer_number"], recipient=recipient)


def _customer(row: asyncpg.Record) -> CustomerView:
    data: dict[str, Any] = dict(row)
    data["address"] = json.loads(data["address"]) if data["address"] is not None else None
    return CustomerView.model_validate(data)


class BillingViews:
    """Queries on the service's pool (available once the runtime has started)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def invoice(self, number: str) -> InvoiceView | None:
        row = await self._pool().fetchrow(_INVOICE_SQL + " WHERE i.number = $1", number)
        return _invoice(row) if row else None

    async def invoices_for_session(self, session_id: uuid.UUID) -> list[InvoiceView]:
        rows = await self._pool().fetch(_INVOICE_SQL + " WHERE i.session_id = $1 ORDER BY i.number",
                                        session_id)
        return [_invoice(r) for r in rows]

    async def session(self, session_id: uuid.UUID) -> SessionBillingView | None:
        row = await self._pool().fetchrow(
            "SELECT s.session_id, s.request_id, s.status, s.raw_seconds, s.tariff_version,"
            " s.decided_at, i.number AS invoice_number FROM session_billing s"
            " LEFT JOIN invoices i ON i.session_id = s.session_id WHERE s.session_id = $1",
            session_id)
        return SessionBillingView.model_validate(dict(row)) if row else None

    async def customer(self, customer_number: str) -> CustomerView | None:
        row = await self._pool().fetchrow(
            "SELECT * FROM customer_accounts WHERE customer_number = $1", customer_number)
        return _customer(row) if row else None

    async def customers(self, limit: int, offset: int) -> tuple[list[CustomerView], int]:
        rows = await self._pool().fetch(
            "SELECT * FROM customer_accounts ORDER BY length(customer_number), customer_number"
            " LIMIT $1 OFFSET $2",
            limit, offset)
        total = await self._pool().fetchval("SELECT count(*) FROM customer_accounts")
        return [_customer(r) for r in rows], int(total)
