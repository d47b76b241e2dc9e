"""What the handlers need from the outside world, and the records they pass through it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from fw_billing.domain.billing_case import BillingCase
from fw_billing.domain.documents import Document, Party
from fw_billing.domain.issuer import Issuer
from fw_billing.domain.tariff import TariffCatalog
from fw_contracts.events import CustomerType, InvoiceIssued, InvoiceKind, InvoiceLine, TaxCase
from fw_contracts.vault import PersonalData, VaultEntry
from fw_platform.handling import PermanentError

#: An ended session as billing first saw it, with its decision so far (the billing case's state).
SessionRecord = BillingCase


@dataclass(frozen=True)
class Recipient:
    """Invoice recipient for a full invoice (§14 Abs. 4 Nr. 1 UStG). Personal data."""

    company: str
    contact_name: str
    address: dict[str, str]
    #: USt-IdNr. (reverse charge) and Leitweg-ID (XRechnung), as intake took them.
    vat_id: str | None = None
    buyer_reference: str | None = None
    #: A regular customer's name on the account, printed with the customer number.
    customer_name: str | None = None

    @classmethod
    def from_personal_data(cls, data: PersonalData, customer_name: str | None = None) -> Recipient:
        assert data.address is not None
        return cls(company=data.company, contact_name=data.contact_name,
                   address=data.address.model_dump(mode="json"), vat_id=data.vat_id,
                   buyer_reference=data.buyer_reference, customer_name=customer_name)

    def party(self) -> Party:
        """The recipient as the document prints it."""
        a = self.address
        return Party(name=self.company, contact=self.contact_name, street=a["street"],
                     postal_code=a["postal_code"], city=a["city"], country=a.get("country", "DE"),
                     vat_id=self.vat_id, buyer_reference=self.buyer_reference)


@dataclass(frozen=True)
class RequestFacts:
    """From SupportRequestCreated: no personal data, only what billing decides by."""

    request_id: uuid.UUID
    customer_type: CustomerType
    has_email: bool
    has_billing_address: bool
    recorded_at: datetime
    #: SHA-256 (hex) of the customer's download code (SupportRequestCreated v2); None before v2.
    download_sha256: str | None = None
    #: The ticket code (pseudonymous), for the office's invoice search.
    ticket: str | None = None


@dataclass(frozen=True)
class NewInvoice:
    number: str
    year: int
    seq: int
    session_id: uuid.UUID
    request_id: uuid.UUID
    kind: InvoiceKind
    issued_at: datetime
    service_date: datetime
    tariff_version: str
    raw_seconds: int
    billed_seconds: int
    lines: tuple[InvoiceLine, ...]
    net_total: Decimal
    vat_rate: Decimal
    vat_total: Decimal
    gross_total: Decimal
    customer_number: str | None
    event_id: uuid.UUID
    #: Only on a full invoice; a Kleinbetragsrechnung has none.
    recipient: Recipient | None
    #: A ZUGFeRD/Factur-X XML is issued with it.
    e_invoice: bool = False
    tax_case: TaxCase = TaxCase.DOMESTIC
    #: A corrected invoice: the cancelled one it replaces, the reason, the corrected duration.
    corrects: str | None = None
    correction_reason: str | None = None
    priced_seconds: int | None = None
    #: The office user (staff id, never a name) who issued a corrected invoice; None otherwise.
    acted_by: str | None = None

    @classmethod
    def of(cls, issued: InvoiceIssued, *, year: int, seq: int, recipient: Recipient | None,
           e_invoice: bool, acted_by: str | None = None) -> NewInvoice:
        """The row of an issued invoice: its fields as the event states them (``acted_by``: the
        office user of a correction, which the event does not carry)."""
        return cls(
            number=issued.invoice_number, year=year, seq=seq, session_id=issued.session_id,
            request_id=issued.request_id, kind=issued.kind, issued_at=issued.issued_at,
            service_date=issued.service_date, tariff_version=issued.tariff_version,
            raw_seconds=issued.raw_seconds, billed_seconds=issued.billed_seconds, lines=issued.lines,
            net_total=issued.net_total, vat_rate=issued.vat_rate, vat_total=issued.vat_total,
            gross_total=issued.gross_total, customer_number=issued.customer_number,
            event_id=issued.event_id, recipient=recipient, e_invoice=e_invoice, tax_case=issued.tax_case,
            corrects=issued.corrects,
            correction_reason=issued.correction_reason.value if issued.correction_reason else None,
            priced_seconds=issued.priced_seconds, acted_by=acted_by)


@dataclass(frozen=True)
class StoredInvoice:
    """An issued invoice as stored, with its recipient copy (decrypted) if it has one."""

    number: str
    year: int
    request_id: uuid.UUID
    kind: InvoiceKind
    issued_at: datetime
    service_date: datetime
    tariff_version: str
    raw_seconds: int
    billed_seconds: int
    lines: tuple[InvoiceLine, ...]
    net_total: Decimal
    vat_rate: Decimal
    vat_total: Decimal
    gross_total: Decimal
    customer_number: str | None
    e_invoice: bool
    recipient: Recipient | None
    tax_case: TaxCase = TaxCase.DOMESTIC
    session_id: uuid.UUID | None = None
    corrects: str | None = None
    priced_seconds: int | None = None
    correction_reason: str | None = None
    #: Issue time of the invoice this one corrects (printed on it).
    corrects_issued_at: datetime | None = None
    #: The technician's note of the work done on the session (frozen with the first invoice).
    work_note: str | None = None


@dataclass(frozen=True)
class NewCancellation:
    number: str
    year: int
    seq: int
    invoice_number: str
    request_id: uuid.UUID
    reason_code: str
    issued_at: datetime
    lines: tuple[InvoiceLine, ...]
    net_total: Decimal
    vat_rate: Decimal
    vat_total: Decimal
    gross_total: Decimal
    e_invoice: bool
    event_id: uuid.UUID
    #: The office user (staff id, never a name) who cancelled the invoice.
    acted_by: str | None = None


@dataclass(frozen=True)
class RenderedDocument:
    """The document as issued: PDF bytes and, for an e-invoice, the CII XML (also inside the PDF)."""

    pdf: bytes
    xml: bytes | None = None


class DocumentRenderer(Protocol):
    def render(self, document: Document) -> RenderedDocument:
        """PDF (and XML for an e-invoice); deterministic: the same document gives the same bytes."""


@dataclass(frozen=True)
class NewCustomerAccount:
    """A regular customer's permanent account, from the vault. Personal data."""

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


@dataclass(frozen=True)
class AccountState:
    """A customer account without its personal fields: enough to decide an erasure."""

    customer_number: str
    request_id: uuid.UUID
    closed_at: datetime | None
    closure_reason: str | None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


class BillingRepository(Protocol):
    """Billing's state, used inside the caller's transaction."""

    async def claim_session(self, record: SessionRecord) -> SessionRecord:
        """Insert the session if new, then lock it; returns the stored (first-seen) record."""

    async def find_session(self, session_id: uuid.UUID) -> SessionRecord | None:
        """The stored session, locked until the transaction ends; None if never seen."""

    async def blocked_sessions_for(self, request_ids: Sequence[uuid.UUID]) -> list[SessionRecord]:
        """The requests' sessions whose billing is BLOCKED, locked until the transaction ends, in
        the order of their ids."""

    async def save_case(self, case: BillingCase, at: datetime) -> None:
        """Store the case's decision (status and block reason) as decided at ``at``."""

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Changes made inside roll back when the block raises (the transaction goes on)."""

    async def next_invoice_seq(self, year: int) -> int:
        """The next number of ``year``'s range, locked until the transaction ends."""

    async def add_invoice(self, invoice: NewInvoice) -> None: ...

    def issuing(self, session_id: uuid.UUID) -> AbstractAsyncContextManager[None]:
        """A savepoint for issuing the session's invoice (as :meth:`savepoint`) that also takes
        the session's work-note lock, held until the transaction ends."""

    async def next_invoice_seq_with_note(self, year: int, session_id: uuid.UUID) -> tuple[int, str | None]:
        """The next number of ``year``'s range (as :meth:`next_invoice_seq`) and the technician's
        "work done" note for the session's invoice line (None: no note), inside :meth:`issuing`,
        so the note cannot change under the invoice."""

    async def lock_customer(self, request_id: uuid.UUID) -> None:
        """Serialise account creation for one request (two consumers may race for it)."""

    async def customer_number_for(self, request_id: uuid.UUID) -> str | None: ...

    async def correction_of(self, invoice_number: str) -> str | None:
        """The number of the invoice that corrects ``invoice_number``, if any."""
        ...

    async def customer_name(self, customer_number: str) -> str | None:
        """The company on a regular customer's account, ``None`` once erased."""
        ...

    async def add_customer(self, account: NewCustomerAccount) -> str:
        """Store a new account; returns its new customer number."""

    async def account_for_erasure(self, customer_number: str) -> AccountState | None:
        """The account, locked until the transaction ends; None if the number is unknown."""

    async def erase_customer(self, customer_number: str, reason: str, requested_by: str | None,
                             at: datetime) -> None:
        """Delete the open account's personal fields and mark it closed (final); ``requested_by``
        is None only when an erasure is re-applied after a restore."""

    async def record_requests(self, facts: Sequence[RequestFacts]) -> None:
        """Remember requests' facts (first seen wins, also within ``facts``)."""

    async def request_facts(self, request_id: uuid.UUID) -> RequestFacts | None: ...

    async def billing_inputs(self, request_id: uuid.UUID) -> tuple[str | None, RequestFacts | None]:
        """``(customer_number_for(request_id), request_facts(request_id))`` at once."""

    async def archive(self, number: str, document_type: Literal["invoice", "cancellation"], year: int,
                      rendered: RenderedDocument, at: datetime) -> None:
        """Keep the document exactly as issued (encrypted with the year's archive key)."""

    async def add_delivery(self, number: str, year: int, request_id: uuid.UUID, at: datetime, *,
                           failed_because: str | None = None) -> None:
        """Queue the e-mail of a document (the address is read from the vault when it is sent);
        ``failed_because``: recorded as failed at once."""

    async def has_delivery(self, number: str) -> bool:
        """Whether the document was queued for e-mail (its Storno then goes the same way)."""

    async def invoice_for_cancellation(self, number: str) -> StoredInvoice | None:
        """The invoice, locked against a concurrent cancellation."""

    async def is_cancellation(self, number: str) -> bool: ...

    async def cancellation_of(self, invoice_number: str) -> str | None:
        """The number of the cancellation of an invoice, if it was cancelled."""

    async def next_cancellation_seq(self, year: int) -> int:
        """The next number of ``year``'s cancellation range, locked until the transaction ends."""

    async def add_cancellation(self, cancellation: NewCancellation) -> None: ...


class RecipientDataMissing(PermanentError):
    """The vault never stored the request (``not_found``): nothing is known about the recipient."""


class RecipientDataErased(PermanentError):
    """The vault says the request's personal data were erased: no full invoice can be issued
    for it any more (a PermanentError, so a caller that does not handle it parks the message)."""


class PersonalDataSource(Protocol):
    """The vault, from billing's side. Raises TransientError when it is away and
    PermanentError when it refuses for good (unknown request, forbidden), the subclass
    :class:`RecipientDataErased` when the data were erased."""

    async def get(self, request_id: uuid.UUID,
                  purpose: Literal["billing", "customer_account"]) -> VaultEntry: ...

    async def delivery_email(self, request_id: uuid.UUID) -> str:
        """The address the invoice is e-mailed to (raises ``AddressGone`` when there is none)."""


@dataclass(frozen=True)
class BillingDeps:
    """Everything the handlers need; built once in bootstrap (or with fakes in tests)."""

    tariffs: TariffCatalog
    vault: PersonalDataSource
    #: Builds the repository on the unit of work's connection; ``at_commit=`` (optional,
    #: ``UnitOfWork.write_at_commit``) lets it send a handler's final writes with the COMMIT.
    repository: Callable[..., BillingRepository]
    number_format: str
    issuer: Issuer
    renderer: DocumentRenderer
    cancellation_format: str
    #: SMTP configured: documents are e-mailed to the address given at intake.
    email_enabled: bool = False
    #: Builds billing's record of published reference data on the unit of work's connection
    #: (``fw_billing.application.reference``); None: nothing is published (handler unit tests).
    reference: Callable[[Any], Any] | None = None
    #: ``(version, sha256)`` of tariffs whose publication is known committed (filled after the
    #: start's own transaction): an invoice under one of them skips the ledger look-up.
    published_tariffs: set[tuple[str, str]] = field(default_factory=set)
