"""PostgreSQL implementation of :class:`BillingRepository` (tables in ``migrations/``)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg

from fw_billing.application.ports import NewCustomerAccount, NewInvoice, SessionRecord
from fw_billing.domain.invoicing import SessionStatus, format_customer_number


def lines_json(invoice: NewInvoice) -> str:
    return json.dumps([line.model_dump(mode="json") for line in invoice.lines])


class SqlBillingRepository:
    """Works on a connection that is already inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def claim_session(self, record: SessionRecord) -> SessionRecord:
        """Insert if new, then ``FOR UPDATE``: a concurrent copy of the event waits here."""
        await self._conn.execute(
            "INSERT INTO session_billing(session_id, request_id, started_at, ended_at, raw_seconds,"
            " promoted, tariff_version, status, source_event_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (session_id) DO NOTHING",
            record.session_id, record.request_id, record.started_at, record.ended_at,
            record.raw_seconds, record.promoted, record.tariff_version, record.status.value,
            record.source_event_id)
        row = await self._conn.fetchrow(
            "SELECT * FROM session_billing WHERE session_id = $1 FOR UPDATE", record.session_id)
        assert row is not None
        return SessionRecord(
            session_id=row["session_id"], request_id=row["request_id"], started_at=row["started_at"],
            ended_at=row["ended_at"], raw_seconds=row["raw_seconds"], promoted=row["promoted"],
            tariff_version=row["tariff_version"], status=SessionStatus(row["status"]),
            source_event_id=row["source_event_id"])

    async def set_status(self, session_id: uuid.UUID, status: SessionStatus, at: datetime) -> None:
        await self._conn.execute(
            "UPDATE session_billing SET status = $2, decided_at = $3 WHERE session_id = $1",
            session_id, status.value, at)

    async def next_invoice_seq(self, year: int) -> int:
        """Lock the year's counter row ``FOR UPDATE`` until commit and advance it by one."""
        await self._conn.execute(
            "INSERT INTO invoice_counters(year, last_seq) VALUES ($1, 0) ON CONFLICT (year) DO NOTHING",
            year)
        last = await self._conn.fetchval(
            "SELECT last_seq FROM invoice_counters WHERE year = $1 FOR UPDATE", year)
        seq = int(last) + 1
        await self._conn.execute("UPDATE invoice_counters SET last_seq = $2 WHERE year = $1", year, seq)
        return seq

    async def add_invoice(self, invoice: NewInvoice) -> None:
        await self._conn.execute(
            "INSERT INTO invoices(number, year, seq, session_id, request_id, kind, issued_at,"
            " service_date, tariff_version, raw_seconds, billed_seconds, lines, net_total, vat_rate,"
            " vat_total, gross_total, customer_number, event_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, $16,"
            " $17, $18)",
            invoice.number, invoice.year, invoice.seq, invoice.session_id, invoice.request_id,
            invoice.kind.value, invoice.issued_at, invoice.service_date, invoice.tariff_version,
            invoice.raw_seconds, invoice.billed_seconds, lines_json(invoice), invoice.net_total,
            invoice.vat_rate, invoice.vat_total, invoice.gross_total, invoice.customer_number,
            invoice.event_id)
        if invoice.recipient is not None:
            r = invoice.recipient
            await self._conn.execute(
                "INSERT INTO invoice_recipients(invoice_number, kind, company, contact_name, address)"
                " VALUES ($1, $2, $3, $4, $5::jsonb)",
                invoice.number, invoice.kind.value, r.company, r.contact_name, json.dumps(r.address))

    async def lock_customer(self, request_id: uuid.UUID) -> None:
        # Transaction-scoped: released at commit/rollback, nothing to clean up.
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('billing-customer:' || $1::uuid::text, 0))",
            request_id)

    async def customer_number_for(self, request_id: uuid.UUID) -> str | None:
        value = await self._conn.fetchval(
            "SELECT customer_number FROM customer_accounts WHERE request_id = $1", request_id)
        return str(value) if value is not None else None

    async def add_customer(self, account: NewCustomerAccount) -> str:
        number = format_customer_number(await self._conn.fetchval("SELECT nextval('customer_number_seq')"))
        await self._conn.execute(
            "INSERT INTO customer_accounts(customer_number, request_id, session_id, company,"
            " contact_name, phone, email, address, statement, stated_at, technician, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12)",
            number, account.request_id, account.session_id, account.company, account.contact_name,
            account.phone, account.email,
            json.dumps(account.address) if account.address is not None else None,
            account.statement, account.stated_at, account.technician, account.created_at)
        return number
