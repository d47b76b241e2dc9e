"""PostgreSQL implementation of :class:`BillingRepository` (tables in ``migrations/``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Literal

import asyncpg

from fw_billing.adapters.keys import KeyPurpose, KeyRing, seal
from fw_billing.adapters.sealed import (
    archive_pdf_aad,
    archive_xml_aad,
    customer_aad,
    recipient_aad,
    recipient_from_json,
    recipient_json,
)
from fw_billing.adapters.work_notes import LOCK as work_notes_lock
from fw_billing.adapters.work_notes import SqlWorkNotes
from fw_billing.application.ports import (
    AccountState,
    NewCancellation,
    NewCustomerAccount,
    NewInvoice,
    RenderedDocument,
    RequestFacts,
    SessionRecord,
    StoredInvoice,
)
from fw_billing.domain.invoicing import SessionStatus, format_customer_number, invoice_year
from fw_contracts.events import (
    LEGACY_SMALL_KIND,
    BlockReason,
    CustomerType,
    InvoiceKind,
    InvoiceLine,
    TaxCase,
)
from fw_platform import db


def stored_kind(kind: InvoiceKind) -> str:
    """The code an invoice's kind is stored with: ``kleinbetrag`` / ``full`` since migration 001.

    Issued invoices are never edited, so the stored code stays; reading it back,
    ``InvoiceKind("kleinbetrag")`` is ``InvoiceKind.SMALL`` (the contract's legacy value).
    """
    return LEGACY_SMALL_KIND if kind is InvoiceKind.SMALL else kind.value


def lines_json(lines: tuple[InvoiceLine, ...]) -> str:
    return json.dumps([line.model_dump(mode="json") for line in lines])


def lines_from_json(raw: str) -> tuple[InvoiceLine, ...]:
    return tuple(InvoiceLine.model_validate(line) for line in json.loads(raw))


def _facts(row: asyncpg.Record) -> RequestFacts:
    return RequestFacts(request_id=row["request_id"], customer_type=CustomerType(row["customer_type"]),
                        has_email=row["has_email"], has_billing_address=row["has_billing_address"],
                        recorded_at=row["recorded_at"], download_sha256=row["download_sha256"],
                        ticket=row["ticket"])


def _inputs_columns(request_id: str) -> str:
    """``billing_inputs`` as columns of a statement joining ``request_facts f``, for the request
    ``request_id`` (an SQL expression)."""
    return (
        f"(SELECT customer_number FROM customer_accounts a WHERE a.request_id = {request_id})"
        " AS inputs_customer_number, f.request_id AS f_request_id, f.customer_type AS f_customer_type,"
        " f.has_email AS f_has_email, f.has_billing_address AS f_has_billing_address, f.recorded_at AS f_recorded_at,"
        " f.download_sha256 AS f_download_sha256, f.ticket AS f_ticket")


def _inputs(row: asyncpg.Record) -> tuple[str | None, RequestFacts | None]:
    number = row["inputs_customer_number"]
    facts = None
    if row["f_request_id"] is not None:
        facts = RequestFacts(request_id=row["f_request_id"], customer_type=CustomerType(row["f_customer_type"]),
                             has_email=row["f_has_email"], has_billing_address=row["f_has_billing_address"],
                             recorded_at=row["f_recorded_at"], download_sha256=row["f_download_sha256"],
                             ticket=row["f_ticket"])
    return (str(number) if number is not None else None), facts


def _session(row: asyncpg.Record) -> SessionRecord:
    return SessionRecord(
        session_id=row["session_id"], request_id=row["request_id"], started_at=row["started_at"],
        ended_at=row["ended_at"], raw_seconds=row["raw_seconds"], promoted=row["promoted"],
        tariff_version=row["tariff_version"], status=SessionStatus(row["status"]),
        source_event_id=row["source_event_id"],
        block_reason=BlockReason(row["block_reason"]) if row["block_reason"] else None)


async def _advance(conn: asyncpg.Connection, table: Literal["invoice_counters", "cancellation_counters"],
                   year: int) -> int:
    """The year's next number: the counter row is created at 1 or advanced by one, and the
    upsert's row lock is held until commit (a concurrent issuer waits, then sees this number
    used). Rolled back with the transaction or savepoint: numbers stay gapless."""
    seq = await conn.fetchval(
        f"INSERT INTO {table}(year, last_seq) VALUES ($1, 1)"
        f" ON CONFLICT (year) DO UPDATE SET last_seq = {table}.last_seq + 1 RETURNING last_seq", year)
    return int(seq)


class SqlBillingRepository:
    """Works on a connection that is already inside the caller's transaction.

    Personal data (recipient copies, customer accounts, e-mail addresses) and archived documents
    are written only as AES-256-GCM ciphertext (:mod:`fw_billing.adapters.keys`).
    """

    def __init__(self, conn: asyncpg.Connection, keys: KeyRing, *,
                 at_commit: Callable[[str], None] | None = None) -> None:
        self._conn = conn
        self._keys = keys
        #: With it (a handler's unit of work: ``UnitOfWork.write_at_commit``), the write that ends
        #: a billing decision and that nothing later reads (the case's decision, ``save_case``)
        #: goes with the transaction's COMMIT instead of a round trip of its own. Never a write
        #: inside a savepoint: a rollback to it would not take back a statement sent later.
        self._at_commit = at_commit
        #: Archive keys read along with another statement of this transaction (the repository
        #: lives for one unit of work): by year.
        self._archive_keys: dict[int, bytes] = {}
        #: ``billing_inputs`` read along with ``claim_session`` (the next thing a session's end
        #: asks for), by request: taken by the first ``billing_inputs`` of that request.
        self._inputs: dict[uuid.UUID, tuple[str | None, RequestFacts | None]] = {}

    async def _write(self, statement: str, *args: db.Literal) -> None:
        await db.write(self._conn, self._at_commit, statement, *args)

    async def _archive_key(self, year: int) -> bytes:
        key = self._archive_keys.get(year)
        return key if key is not None else await self._keys.key(self._conn, KeyPurpose.ARCHIVE, year)

    async def claim_session(self, record: SessionRecord) -> SessionRecord:
        """Insert if new, else lock the existing row, in one statement; either way the row is
        locked until commit, so a concurrent copy of the event waits here.

        The no-op ``DO UPDATE`` (not of ``status``: no trigger fires) locks the row as ``FOR
        UPDATE`` did and returns it as stored (first seen wins). The same statement reads what
        :meth:`billing_inputs` returns for the session's request (one round trip less)."""
        row = await self._conn.fetchrow(
            "WITH c AS (INSERT INTO session_billing(session_id, request_id, started_at, ended_at, raw_seconds,"
            " promoted, tariff_version, status, source_event_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (session_id) DO UPDATE SET request_id = session_billing.request_id RETURNING *)"
            f" SELECT c.*, {_inputs_columns('c.request_id')} FROM c LEFT JOIN request_facts f"
            " ON f.request_id = c.request_id",
            record.session_id, record.request_id, record.started_at, record.ended_at,
            record.raw_seconds, record.promoted, record.tariff_version, record.status.value,
            record.source_event_id)
        assert row is not None
        self._inputs[row["request_id"]] = _inputs(row)
        return _session(row)

    async def find_session(self, session_id: uuid.UUID) -> SessionRecord | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM session_billing WHERE session_id = $1 FOR UPDATE", session_id)
        return _session(row) if row is not None else None

    async def blocked_sessions_for(self, request_ids: Sequence[uuid.UUID]) -> list[SessionRecord]:
        rows = await self._conn.fetch(
            "SELECT * FROM session_billing WHERE request_id = ANY($1::uuid[]) AND status = $2"
            " ORDER BY session_id FOR UPDATE", list(request_ids), SessionStatus.BLOCKED.value)
        return [_session(r) for r in rows]

    async def save_case(self, case: SessionRecord, at: datetime) -> None:
        await self._write(
            "UPDATE session_billing SET status = $2, block_reason = $3, decided_at = $4 WHERE session_id = $1",
            case.session_id, case.status.value,
            case.block_reason.value if case.block_reason is not None else None, at)

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        # not released: the COMMIT releases it (one round trip less); a later failure rolls back
        # the whole transaction anyway
        return db.savepoint(self._conn, release=False)

    async def next_invoice_seq(self, year: int) -> int:
        """Advance the year's counter by one (the row stays locked until commit), one statement."""
        return await _advance(self._conn, "invoice_counters", year)

    async def add_invoice(self, invoice: NewInvoice) -> None:
        wrapped = await self._conn.fetchval(
            "INSERT INTO invoices(number, year, seq, session_id, request_id, kind, issued_at,"
            " service_date, tariff_version, raw_seconds, billed_seconds, lines, net_total, vat_rate,"
            " vat_total, gross_total, customer_number, event_id, e_invoice, tax_case, corrects,"
            " correction_reason, priced_seconds, acted_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, $16,"
            " $17, $18, $19, $20, $21, $22, $23, $24)"
            # the year's archive key, if it exists, for the copies sealed next (one round trip less)
            " RETURNING (SELECT wrapped FROM data_keys WHERE purpose = 'archive' AND year = $2)",
            invoice.number, invoice.year, invoice.seq, invoice.session_id, invoice.request_id,
            stored_kind(invoice.kind), invoice.issued_at, invoice.service_date, invoice.tariff_version,
            invoice.raw_seconds, invoice.billed_seconds, lines_json(invoice.lines), invoice.net_total,
            invoice.vat_rate, invoice.vat_total, invoice.gross_total, invoice.customer_number,
            invoice.event_id, invoice.e_invoice, invoice.tax_case.value, invoice.corrects,
            invoice.correction_reason, invoice.priced_seconds, invoice.acted_by)
        if wrapped is not None:
            self._archive_keys[invoice.year] = self._keys.unwrap(KeyPurpose.ARCHIVE, invoice.year, wrapped)
        if invoice.recipient is not None:
            # Part of the legal copy: kept (encrypted with the year's archive key) for 8 years.
            sealed = seal(await self._archive_key(invoice.year), recipient_aad(invoice.number),
                          recipient_json(invoice.recipient))
            await self._conn.execute(
                "INSERT INTO invoice_recipients(invoice_number, kind, year, data_enc)"
                " VALUES ($1, $2, $3, $4)", invoice.number, stored_kind(invoice.kind), invoice.year, sealed)

    def issuing(self, session_id: uuid.UUID) -> AbstractAsyncContextManager[None]:
        # the savepoint and the session's note lock in one round trip; the lock is held until
        # the transaction ends (a note written meanwhile waits, then finds the invoice and is
        # refused), or released by a rollback to the savepoint together with the invoice
        return db.savepoint(self._conn, release=False, then=db.bind(work_notes_lock, session_id))

    async def next_invoice_seq_with_note(self, year: int, session_id: uuid.UUID) -> tuple[int, str | None]:
        """The year's next number (as :meth:`next_invoice_seq`) and the session's note, in one
        statement: after :meth:`issuing`'s lock, so no note can change under the invoice."""
        row = await self._conn.fetchrow(
            "WITH n AS (INSERT INTO invoice_counters(year, last_seq) VALUES ($1, 1) ON CONFLICT (year)"
            " DO UPDATE SET last_seq = invoice_counters.last_seq + 1 RETURNING last_seq)"
            " SELECT n.last_seq, w.key_year, w.note_enc FROM n LEFT JOIN work_notes w ON w.session_id = $2",
            year, session_id)
        assert row is not None
        note = None
        if row["note_enc"] is not None:
            note = await SqlWorkNotes(self._conn, self._keys).text(session_id, row["key_year"], row["note_enc"])
        return int(row["last_seq"]), note

    async def lock_customer(self, request_id: uuid.UUID) -> None:
        # Transaction-scoped: released at commit/rollback, nothing to clean up.
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('billing-customer:' || $1::uuid::text, 0))",
            request_id)

    async def customer_number_for(self, request_id: uuid.UUID) -> str | None:
        value = await self._conn.fetchval(
            "SELECT customer_number FROM customer_accounts WHERE request_id = $1", request_id)
        return str(value) if value is not None else None

    async def customer_name(self, customer_number: str) -> str | None:
        """The company on the account (``None`` once the account was erased)."""
        row = await self._conn.fetchrow(
            "SELECT key_year, personal_enc FROM customer_accounts WHERE customer_number = $1",
            customer_number)
        if row is None or row["personal_enc"] is None:
            return None
        personal = json.loads(await self._keys.open(self._conn, KeyPurpose.CUSTOMER, row["key_year"],
                                                    customer_aad(customer_number), bytes(row["personal_enc"])))
        return str(personal["company"])

    async def add_customer(self, account: NewCustomerAccount) -> str:
        number = format_customer_number(await self._conn.fetchval("SELECT nextval('customer_number_seq')"))
        key_year = invoice_year(account.created_at)
        personal = json.dumps({
            "company": account.company, "contact_name": account.contact_name, "phone": account.phone,
            "email": account.email, "address": account.address, "statement": account.statement,
        }).encode()
        sealed = await self._keys.seal(self._conn, KeyPurpose.CUSTOMER, key_year,
                                       customer_aad(number), personal)
        await self._conn.execute(
            "INSERT INTO customer_accounts(customer_number, request_id, session_id, stated_at,"
            " technician, created_at, key_year, personal_enc)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            number, account.request_id, account.session_id, account.stated_at, account.technician,
            account.created_at, key_year, sealed)
        return number

    async def account_for_erasure(self, customer_number: str) -> AccountState | None:
        row = await self._conn.fetchrow(
            "SELECT customer_number, request_id, closed_at, closure_reason FROM customer_accounts"
            " WHERE customer_number = $1 FOR UPDATE", customer_number)
        if row is None:
            return None
        return AccountState(customer_number=row["customer_number"], request_id=row["request_id"],
                            closed_at=row["closed_at"], closure_reason=row["closure_reason"])

    async def erase_customer(self, customer_number: str, reason: str, requested_by: str | None,
                             at: datetime) -> None:
        # The data themselves go (not only a key: the year's customer key is shared). The
        # database refuses any later change of a closed row (migration 003).
        done = await self._conn.execute(
            "UPDATE customer_accounts SET personal_enc = NULL, stated_at = NULL, closed_at = $2,"
            " closure_reason = $3, closed_by = $4 WHERE customer_number = $1 AND closed_at IS NULL",
            customer_number, at, reason, requested_by)
        if done != "UPDATE 1":
            raise RuntimeError("customer account was not open")

    # ------------------------------------------------------------------ requests
    async def record_requests(self, facts: Sequence[RequestFacts]) -> None:
        # one statement for a run of requests, in their order (the first of a copy wins)
        await self._conn.execute(
            "INSERT INTO request_facts(request_id, customer_type, has_email, has_billing_address,"
            " recorded_at, download_sha256, ticket)"
            " SELECT r, c, e, a, t, d, k FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::bool[],"
            " $5::timestamptz[], $6::text[], $7::text[]) WITH ORDINALITY AS u(r, c, e, a, t, d, k, n)"
            " ORDER BY n ON CONFLICT (request_id) DO NOTHING",
            [f.request_id for f in facts], [f.customer_type.value for f in facts], [f.has_email for f in facts],
            [f.has_billing_address for f in facts], [f.recorded_at for f in facts],
            [f.download_sha256 for f in facts], [f.ticket for f in facts])

    async def request_facts(self, request_id: uuid.UUID) -> RequestFacts | None:
        row = await self._conn.fetchrow("SELECT * FROM request_facts WHERE request_id = $1", request_id)
        return _facts(row) if row is not None else None

    async def billing_inputs(self, request_id: uuid.UUID) -> tuple[str | None, RequestFacts | None]:
        """``(customer_number_for, request_facts)`` of the request, in one statement (none right
        after :meth:`claim_session` of a session of the request: read with it)."""
        read = self._inputs.pop(request_id, None)
        if read is not None:
            return read
        row = await self._conn.fetchrow(
            f"SELECT {_inputs_columns('$1')} FROM (SELECT 1) AS one"
            " LEFT JOIN request_facts f ON f.request_id = $1", request_id)
        assert row is not None
        return _inputs(row)

    # ------------------------------------------------------------------ documents
    async def archive(self, number: str, document_type: Literal["invoice", "cancellation"], year: int,
                      rendered: RenderedDocument, at: datetime) -> None:
        key = await self._archive_key(year)
        xml = seal(key, archive_xml_aad(number), rendered.xml) if rendered.xml is not None else None
        await self._conn.execute(  # not deferred: it is written inside the issuing savepoint
            "INSERT INTO invoice_archive(document_number, document_type, year, pdf_enc, xml_enc,"
            " archived_at) VALUES ($1, $2, $3, $4, $5, $6)",
            number, document_type, year, seal(key, archive_pdf_aad(number), rendered.pdf), xml, at)

    async def add_delivery(self, number: str, year: int, request_id: uuid.UUID, at: datetime, *,
                           failed_because: str | None = None) -> None:
        # No address here: the worker reads it from the vault at each attempt.
        if failed_because is not None:
            await self._conn.execute(
                "INSERT INTO deliveries(document_number, year, request_id, status, last_error_type, created_at)"
                " VALUES ($1, $2, $3, 'failed', $4, $5)", number, year, request_id, failed_because, at)
            return
        await self._conn.execute(
            "INSERT INTO deliveries(document_number, year, request_id, status, created_at, next_attempt_at)"
            " VALUES ($1, $2, $3, 'pending', $4, $4)", number, year, request_id, at)

    async def has_delivery(self, number: str) -> bool:
        return bool(await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE document_number = $1)", number))

    # ------------------------------------------------------------------ cancellations
    async def invoice_for_cancellation(self, number: str) -> StoredInvoice | None:
        row = await self._conn.fetchrow(
            "SELECT i.*, r.data_enc, r.year AS recipient_year, o.issued_at AS corrects_issued_at"
            " FROM invoices i LEFT JOIN invoice_recipients r ON r.invoice_number = i.number"
            " LEFT JOIN invoices o ON o.number = i.corrects"
            " WHERE i.number = $1 FOR UPDATE OF i", number)
        if row is None:
            return None
        recipient = None
        if row["data_enc"] is not None:
            recipient = recipient_from_json(await self._keys.open(
                self._conn, KeyPurpose.ARCHIVE, row["recipient_year"], recipient_aad(number),
                row["data_enc"]))
        note = await SqlWorkNotes(self._conn, self._keys).read(row["session_id"]) if row["session_id"] else None
        return StoredInvoice(
            work_note=note.text if note is not None else None,
            number=row["number"], year=row["year"], request_id=row["request_id"],
            kind=InvoiceKind(row["kind"]), issued_at=row["issued_at"], service_date=row["service_date"],
            tariff_version=row["tariff_version"], raw_seconds=row["raw_seconds"],
            billed_seconds=row["billed_seconds"], lines=lines_from_json(row["lines"]),
            net_total=row["net_total"], vat_rate=row["vat_rate"], vat_total=row["vat_total"],
            gross_total=row["gross_total"], customer_number=row["customer_number"],
            e_invoice=row["e_invoice"], recipient=recipient, tax_case=TaxCase(row["tax_case"]),
            session_id=row["session_id"], corrects=row["corrects"], priced_seconds=row["priced_seconds"],
            correction_reason=row["correction_reason"], corrects_issued_at=row["corrects_issued_at"])

    async def correction_of(self, invoice_number: str) -> str | None:
        value = await self._conn.fetchval("SELECT number FROM invoices WHERE corrects = $1", invoice_number)
        return str(value) if value is not None else None

    async def is_cancellation(self, number: str) -> bool:
        return bool(await self._conn.fetchval("SELECT EXISTS(SELECT 1 FROM cancellations WHERE number = $1)",
                                              number))

    async def cancellation_of(self, invoice_number: str) -> str | None:
        value = await self._conn.fetchval(
            "SELECT number FROM cancellations WHERE invoice_number = $1", invoice_number)
        return str(value) if value is not None else None

    async def next_cancellation_seq(self, year: int) -> int:
        """Advance the year's cancellation counter by one (locked until commit), one statement."""
        return await _advance(self._conn, "cancellation_counters", year)

    async def add_cancellation(self, c: NewCancellation) -> None:
        await self._conn.execute(
            "INSERT INTO cancellations(number, year, seq, invoice_number, request_id, reason_code,"
            " issued_at, lines, net_total, vat_rate, vat_total, gross_total, e_invoice, event_id, acted_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15)",
            c.number, c.year, c.seq, c.invoice_number, c.request_id, c.reason_code, c.issued_at,
            lines_json(c.lines), c.net_total, c.vat_rate, c.vat_total, c.gross_total, c.e_invoice,
            c.event_id, c.acted_by)
