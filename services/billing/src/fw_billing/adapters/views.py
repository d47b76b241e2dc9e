"""Read side for the HTTP API: plain queries into response models (no domain logic)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel

from fw_billing.adapters.keys import KeyPurpose, KeyRing, open_sealed
from fw_billing.adapters.sealed import (
    archive_pdf_aad,
    archive_xml_aad,
    customer_aad,
    recipient_aad,
    recipient_from_json,
)
from fw_billing.domain import delivery as delivery_rules
from fw_billing.domain import downloads
from fw_contracts.events import InvoiceKind, InvoiceLine, TaxCase


class RecipientView(BaseModel):
    company: str
    contact_name: str
    address: dict[str, str]
    vat_id: str | None = None
    buyer_reference: str | None = None


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
    #: A ZUGFeRD/Factur-X XML was issued (``GET /api/invoices/{number}.xml``).
    e_invoice: bool
    #: The cancellation (Storno) of this invoice, if any.
    cancelled_by: str | None
    tax_case: TaxCase = TaxCase.DOMESTIC
    #: A corrected invoice: the cancelled invoice it replaces, and why.
    corrects: str | None = None
    correction_reason: str | None = None
    #: The corrected invoice that replaces this one, if any.
    corrected_by: str | None = None
    #: The office user (staff id) who cancelled this invoice / who issued this corrected invoice.
    cancelled_by_user: str | None = None
    issued_by_user: str | None = None


class CancellationView(BaseModel):
    number: str
    invoice_number: str
    reason_code: str
    issued_at: datetime
    lines: list[InvoiceLine]
    net_total: Decimal
    vat_rate: Decimal
    vat_total: Decimal
    gross_total: Decimal
    currency: str
    e_invoice: bool
    #: The office user (staff id) who cancelled the invoice; None on older cancellations.
    acted_by: str | None = None


class DeliveryView(BaseModel):
    """A delivery without its address (that is never shown)."""

    id: int
    document_number: str
    status: str
    attempts: int
    last_error_type: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    #: ``email`` or ``manual`` (handed over by hand) once delivered.
    channel: Literal["email", "manual"] | None = None
    #: The failure in the office's language ("Server nicht erreichbar"), None without a failure.
    problem_de: str | None = None
    #: The office may send it again (never tried because SMTP was off).
    retryable: bool
    #: The office may record that it handed the document over by hand.
    can_mark_delivered: bool = False


class RequestDocument(BaseModel):
    """A document issued for a request (for the customer's download; no personal data)."""

    number: str
    document_type: Literal["invoice", "cancellation"]
    issued_at: datetime


class DownloadView(BaseModel):
    """What a valid download code opens: the request's documents and until when."""

    documents: list[RequestDocument]
    expires_at: datetime


class ArchivedDocument(BaseModel):
    number: str
    document_type: str
    pdf: bytes
    xml: bytes | None


class SessionBillingView(BaseModel):
    session_id: uuid.UUID
    request_id: uuid.UUID
    status: str
    raw_seconds: int
    tariff_version: str
    decided_at: datetime | None
    invoice_number: str | None
    #: With status ``blocked``: why (``billing_address_missing``, ``document_render_failed``,
    #: ``issuing_failed``).
    block_reason: str | None = None


class CustomerView(BaseModel):
    """An account; once ``status`` is ``closed`` every personal field is null (erased)."""

    customer_number: str
    status: Literal["open", "closed"] = "open"
    request_id: uuid.UUID
    session_id: uuid.UUID
    company: str | None
    contact_name: str | None
    phone: str | None
    email: str | None
    address: dict[str, str] | None
    statement: str | None
    stated_at: datetime | None
    technician: str
    created_at: datetime
    #: Closed accounts: when and why the personal fields were erased, and by whom (staff id).
    closed_at: datetime | None = None
    closure_reason: str | None = None
    closed_by: str | None = None


_INVOICE_SQL = (
    "SELECT i.*, r.data_enc, r.year AS recipient_year, c.number AS cancelled_by,"
    " c.acted_by AS cancelled_by_user, k.number AS corrected_by FROM invoices i"
    " LEFT JOIN invoice_recipients r ON r.invoice_number = i.number"
    " LEFT JOIN cancellations c ON c.invoice_number = i.number"
    " LEFT JOIN invoices k ON k.corrects = i.number")


def _customer(row: asyncpg.Record, personal: dict[str, Any] | None) -> CustomerView:
    closure = {"closed_at": row["closed_at"], "closure_reason": row["closure_reason"],
               "closed_by": row["closed_by"]}
    if personal is None:  # closed: the personal fields were erased
        return CustomerView(
            customer_number=row["customer_number"], status="closed", request_id=row["request_id"],
            session_id=row["session_id"], company=None, contact_name=None, phone=None, email=None,
            address=None, statement=None, stated_at=None, technician=row["technician"],
            created_at=row["created_at"], **closure)
    return CustomerView(
        customer_number=row["customer_number"], request_id=row["request_id"],
        session_id=row["session_id"], company=personal["company"],
        contact_name=personal["contact_name"], phone=personal["phone"], email=personal["email"],
        address=personal["address"], statement=personal["statement"], stated_at=row["stated_at"],
        technician=row["technician"], created_at=row["created_at"], **closure)


def customer_matches(customer_number: str, personal: dict[str, Any] | None, needle: str) -> bool:
    """Whether an account matches a casefolded search text: a closed account (``personal`` None,
    its fields erased) by its number only."""
    if needle in customer_number.casefold():
        return True
    if personal is None:
        return False
    address = personal.get("address") or {}
    hay = (personal.get("company"), personal.get("contact_name"), personal.get("email"), personal.get("phone"),
           address.get("street"), address.get("city"), address.get("postal_code"))
    return any(h and needle in h.casefold() for h in hay)


def _personal(key: bytes, row: asyncpg.Record) -> dict[str, Any]:
    """An open account's decrypted personal fields."""
    personal: dict[str, Any] = json.loads(open_sealed(key, customer_aad(row["customer_number"]),
                                                      bytes(row["personal_enc"])))
    return personal


def _matching(rows: list[asyncpg.Record], keys: dict[int, bytes],
              needle: str) -> list[tuple[asyncpg.Record, dict[str, Any] | None]]:
    """The rows that match, each with its decrypted fields (None: closed); runs in a thread."""
    found: list[tuple[asyncpg.Record, dict[str, Any] | None]] = []
    for row in rows:
        personal = None if row["personal_enc"] is None else _personal(keys[row["key_year"]], row)
        if customer_matches(row["customer_number"], personal, needle):
            found.append((row, personal))
    return found


class BillingViews:
    """Queries on the service's pool (available once the runtime has started); decrypts what
    it shows with the key ring."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], keys: KeyRing) -> None:
        self._pool = pool
        self._keys = keys

    async def _invoice(self, row: asyncpg.Record) -> InvoiceView:
        recipient = None
        if row["data_enc"] is not None:
            r = recipient_from_json(await self._keys.open(
                self._pool(), KeyPurpose.ARCHIVE, row["recipient_year"], recipient_aad(row["number"]),
                row["data_enc"]))
            recipient = RecipientView(company=r.company, contact_name=r.contact_name, address=r.address,
                                      vat_id=r.vat_id, buyer_reference=r.buyer_reference)
        return InvoiceView(
            number=row["number"], kind=InvoiceKind(row["kind"]), issued_at=row["issued_at"],
            service_date=row["service_date"], session_id=row["session_id"],
            request_id=row["request_id"], tariff_version=row["tariff_version"],
            raw_seconds=row["raw_seconds"], billed_seconds=row["billed_seconds"],
            lines=[InvoiceLine.model_validate(line) for line in json.loads(row["lines"])],
            net_total=row["net_total"], vat_rate=row["vat_rate"], vat_total=row["vat_total"],
            gross_total=row["gross_total"], currency=row["currency"],
            customer_number=row["customer_number"], recipient=recipient, e_invoice=row["e_invoice"],
            cancelled_by=row["cancelled_by"], tax_case=TaxCase(row["tax_case"]), corrects=row["corrects"],
            correction_reason=row["correction_reason"], corrected_by=row["corrected_by"],
            cancelled_by_user=row["cancelled_by_user"], issued_by_user=row["acted_by"])

    async def invoice(self, number: str) -> InvoiceView | None:
        row = await self._pool().fetchrow(_INVOICE_SQL + " WHERE i.number = $1", number)
        return await self._invoice(row) if row else None

    async def invoices_for_session(self, session_id: uuid.UUID) -> list[InvoiceView]:
        rows = await self._pool().fetch(_INVOICE_SQL + " WHERE i.session_id = $1 ORDER BY i.number",
                                        session_id)
        return [await self._invoice(r) for r in rows]

    async def cancellation(self, number: str) -> CancellationView | None:
        row = await self._pool().fetchrow("SELECT * FROM cancellations WHERE number = $1", number)
        if row is None:
            return None
        data: dict[str, Any] = dict(row)
        data["lines"] = json.loads(data["lines"])
        return CancellationView.model_validate(data)

    async def document(self, number: str) -> ArchivedDocument | None:
        """The archived document exactly as issued (decrypted), not a re-render."""
        row = await self._pool().fetchrow("SELECT * FROM invoice_archive WHERE document_number = $1", number)
        if row is None:
            return None
        key = await self._keys.existing_key(self._pool(), KeyPurpose.ARCHIVE, row["year"])
        xml = open_sealed(key, archive_xml_aad(number), bytes(row["xml_enc"])) if row["xml_enc"] else None
        return ArchivedDocument(number=number, document_type=row["document_type"],
                                pdf=open_sealed(key, archive_pdf_aad(number), bytes(row["pdf_enc"])),
                                xml=xml)

    async def session(self, session_id: uuid.UUID) -> SessionBillingView | None:
        row = await self._pool().fetchrow(
            "SELECT s.session_id, s.request_id, s.status, s.raw_seconds, s.tariff_version,"
            " s.decided_at, s.block_reason, i.number AS invoice_number FROM session_billing s"
            " LEFT JOIN invoices i ON i.session_id = s.session_id WHERE s.session_id = $1",
            session_id)
        return SessionBillingView.model_validate(dict(row)) if row else None

    async def _decrypt_customer(self, row: asyncpg.Record, cache: dict[int, bytes]) -> CustomerView:
        if row["personal_enc"] is None:
            return _customer(row, None)
        year = row["key_year"]
        if year not in cache:
            cache[year] = await self._keys.existing_key(self._pool(), KeyPurpose.CUSTOMER, year)
        return _customer(row, _personal(cache[year], row))

    async def customer(self, customer_number: str) -> CustomerView | None:
        row = await self._pool().fetchrow(
            "SELECT * FROM customer_accounts WHERE customer_number = $1", customer_number)
        return await self._decrypt_customer(row, {}) if row else None

    async def customers(self, limit: int, offset: int) -> tuple[list[CustomerView], int]:
        rows = await self._pool().fetch(
            "SELECT * FROM customer_accounts ORDER BY length(customer_number), customer_number"
            " LIMIT $1 OFFSET $2",
            limit, offset)
        total = await self._pool().fetchval("SELECT count(*) FROM customer_accounts")
        cache: dict[int, bytes] = {}
        return [await self._decrypt_customer(r, cache) for r in rows], int(total)

    async def search_customers(self, needle: str, limit: int, offset: int, *,
                               at_most: int) -> tuple[list[CustomerView], int]:
        """The accounts (of the first ``at_most``) whose number, or, if open, company, contact,
        e-mail, phone, street, postal code or city contains ``needle`` (casefolded), in customer
        number order: the page ``[offset, offset + limit)`` and how many match in all.

        The personal fields are encrypted, so every account is decrypted and compared: in a
        worker thread (about 9 µs per account for decrypting and parsing, measured; 5,000 accounts
        blocked the event loop, and with it every consumer and request of billing, for ~100 ms per
        search before), and the views are built for the page only."""
        rows = await self._pool().fetch(
            "SELECT * FROM customer_accounts ORDER BY length(customer_number), customer_number LIMIT $1", at_most)
        keys: dict[int, bytes] = {}
        for year in {r["key_year"] for r in rows if r["personal_enc"] is not None}:
            keys[year] = await self._keys.existing_key(self._pool(), KeyPurpose.CUSTOMER, year)
        found = await asyncio.to_thread(_matching, rows, keys, needle)
        return [_customer(row, personal) for row, personal in found[offset:offset + limit]], len(found)

    async def deliveries(self, status: str | None, limit: int, offset: int) -> list[DeliveryView]:
        rows = await self._pool().fetch(
            "SELECT id, document_number, status, attempts, last_error_type, created_at, last_attempt_at,"
            " next_attempt_at, sent_at, channel FROM deliveries"
            " WHERE ($1::text IS NULL OR status = $1) ORDER BY id LIMIT $2 OFFSET $3",
            status, limit, offset)
        return [DeliveryView(**dict(r), problem_de=delivery_rules.text_de(r["last_error_type"]),
                             retryable=delivery_rules.retryable(r["status"], r["last_error_type"]),
                             can_mark_delivered=delivery_rules.can_mark_delivered(r["status"]))
                for r in rows]

    async def download(self, code: str, now: datetime, ttl: timedelta) -> tuple[uuid.UUID, DownloadView] | None:
        """The one capability check: the request a download code opens and its documents, or
        None for a wrong, malformed or expired code (never a reason: the caller answers 404)."""
        digest = downloads.code_hash(code)
        if digest is None:
            return None
        row = await self._pool().fetchrow(
            "SELECT request_id, recorded_at FROM request_facts WHERE download_sha256 = $1", digest)
        if row is None:
            return None
        documents = await self.request_documents(row["request_id"])
        until = downloads.expires_at(row["recorded_at"], (d.issued_at for d in documents), ttl)
        if now >= until:
            return None
        return row["request_id"], DownloadView(documents=documents, expires_at=until)

    async def request_documents(self, request_id: uuid.UUID) -> list[RequestDocument]:
        """The archived documents of a request (invoices and their Storno), oldest first."""
        rows = await self._pool().fetch(
            "SELECT a.document_number AS number, a.document_type, a.archived_at AS issued_at"
            "  FROM invoice_archive a"
            "  LEFT JOIN invoices i ON i.number = a.document_number"
            "  LEFT JOIN cancellations c ON c.number = a.document_number"
            " WHERE coalesce(i.request_id, c.request_id) = $1 ORDER BY a.archived_at, a.document_number",
            request_id)
        return [RequestDocument(**dict(r)) for r in rows]
