"""The public events of fernwartung, version 1.

Rules (checked by tests): no field may hold personal data (names, company, phone, address,
e-mail, free text typed by a person); ids are pseudonymous UUIDs or short codes; money is a
``Decimal`` serialised as a string; times are aware UTC.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fw_contracts.base import Event

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: A short code read out on the phone, e.g. ``K7MQ-3X``; random, not derived from personal data.
TicketCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{4}-[0-9A-Z]{3}$")]
#: A technician's staff handle (pseudonym), e.g. ``tech-07``: letters, digits, dash, underscore.
TechnicianId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,31}$")]
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


class CustomerType(StrEnum):
    BUSINESS = "business"
    CONSUMER = "consumer"


class TermsAcceptance(BaseModel):
    """Proof of consent without personal data (§312f, §356 Abs. 4 BGB)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    terms_version: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,32}$")]
    terms_sha256: Sha256Hex
    accepted_at: AwareDatetime
    #: Consumers only: "start now, I know my withdrawal right lapses on full performance".
    withdrawal_waiver: bool = False


# ---------------------------------------------------------------- intake
class SupportRequestCreated(Event):
    producer = "intake"
    event_type: Literal["SupportRequestCreated"] = "SupportRequestCreated"
    schema_version: Literal[1] = 1

    request_id: uuid.UUID
    ticket: TicketCode
    customer_type: CustomerType = CustomerType.BUSINESS
    terms: TermsAcceptance
    has_billing_address: bool = False
    has_email: bool = False


class WithdrawalReason(StrEnum):
    CUSTOMER = "customer"
    DUPLICATE = "duplicate"


class SupportRequestWithdrawn(Event):
    producer = "intake"
    event_type: Literal["SupportRequestWithdrawn"] = "SupportRequestWithdrawn"
    schema_version: Literal[1] = 1

    request_id: uuid.UUID
    reason: WithdrawalReason = WithdrawalReason.CUSTOMER


# ---------------------------------------------------------------- session
class SessionStarted(Event):
    producer = "session"
    event_type: Literal["SessionStarted"] = "SessionStarted"
    schema_version: Literal[1] = 1

    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: TechnicianId
    started_at: AwareDatetime


class CustomerPromoted(Event):
    """The customer said during the session that they want to become a regular customer.

    The statement's wording is personal data: it lives in the vault; the event holds its hash.
    """

    producer = "session"
    event_type: Literal["CustomerPromoted"] = "CustomerPromoted"
    schema_version: Literal[1] = 1

    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: TechnicianId
    statement_sha256: Sha256Hex
    stated_at: AwareDatetime


class SessionEnded(Event):
    producer = "session"
    event_type: Literal["SessionEnded"] = "SessionEnded"
    schema_version: Literal[1] = 1

    session_id: uuid.UUID
    request_id: uuid.UUID
    technician: TechnicianId
    started_at: AwareDatetime
    ended_at: AwareDatetime
    duration_seconds: int = Field(ge=0)
    promoted: bool = False


class BillingAddressProvided(Event):
    """The technician entered the billing address that a blocked full invoice was missing.

    The address itself went to the vault (``vault.v1.address``); this event only tells billing
    that it can now bill the session. It carries no address.
    """

    producer = "session"
    event_type: Literal["BillingAddressProvided"] = "BillingAddressProvided"
    schema_version: Literal[1] = 1

    session_id: uuid.UUID
    request_id: uuid.UUID


# ---------------------------------------------------------------- billing
class InvoiceKind(StrEnum):
    #: §33 UStDV, gross <= 250 EUR: no recipient data on the invoice.
    SMALL = "kleinbetrag"
    #: §14 Abs. 4 UStG: recipient name and address on the invoice.
    FULL = "full"


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: Annotated[str, StringConstraints(max_length=200)]
    quantity: Decimal
    unit: Literal["C62", "MIN", "HUR"]  # UN/ECE rec 20: piece, minute, hour
    unit_price: Decimal
    net: Money


class InvoiceIssued(Event):
    """An invoice as issued.

    v2: ``tariff_sha256`` names the content hash of the tariff version it was priced with (the
    ``TariffPublished`` of that version carries the content); a v1 event is upcast with ``None``
    ("not known": it was issued before billing published its tariffs).
    """

    producer = "billing"
    version = 2
    event_type: Literal["InvoiceIssued"] = "InvoiceIssued"
    schema_version: Literal[2] = 2

    invoice_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
    session_id: uuid.UUID
    request_id: uuid.UUID
    kind: InvoiceKind
    issued_at: AwareDatetime
    service_date: AwareDatetime
    tariff_version: str
    raw_seconds: int = Field(ge=0)
    billed_seconds: int = Field(ge=0)
    lines: tuple[InvoiceLine, ...]
    net_total: Money
    vat_rate: Decimal
    vat_total: Money
    gross_total: Money
    currency: Literal["EUR"] = "EUR"
    customer_number: str | None = None
    tariff_sha256: Sha256Hex | None = None


class InvoiceCancelled(Event):
    """A Storno: a cancellation invoice with its own number referencing the original."""

    producer = "billing"
    event_type: Literal["InvoiceCancelled"] = "InvoiceCancelled"
    schema_version: Literal[1] = 1

    cancellation_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
    invoice_number: str
    request_id: uuid.UUID
    cancelled_at: AwareDatetime
    reason_code: Literal["wrong_amount", "wrong_recipient", "duplicate", "goodwill", "other"]
    net_total: Money
    vat_total: Money
    gross_total: Money


class NotBilledReason(StrEnum):
    FREE_THRESHOLD = "free_threshold"  # e.g. an aborted connection
    GOODWILL = "goodwill"
    #: (v2) A full invoice was blocked for want of the recipient's address, and the request's
    #: personal data were erased before the address came (retention's billing hold ended):
    #: the claim is lost, the session is closed without an invoice.
    RECIPIENT_DATA_ERASED = "recipient_data_erased"


class SessionNotBilled(Event):
    """A session that will not be invoiced.

    v2 (the first version bump of the contracts): ``reason`` may also be
    ``recipient_data_erased``. A v1 event is upcast unchanged (every v1 reason is a v2 reason);
    see ``fw_contracts.registry.UPCASTERS`` and ``docs/contract-evolution.md``.
    """

    producer = "billing"
    version = 2
    event_type: Literal["SessionNotBilled"] = "SessionNotBilled"
    schema_version: Literal[2] = 2

    session_id: uuid.UUID
    request_id: uuid.UUID
    reason: NotBilledReason
    tariff_version: str
    raw_seconds: int = Field(ge=0)


class BillingBlocked(Event):
    """A full invoice needs data the request lacks (the address); billing waits for it."""

    producer = "billing"
    event_type: Literal["BillingBlocked"] = "BillingBlocked"
    schema_version: Literal[1] = 1

    session_id: uuid.UUID
    request_id: uuid.UUID
    missing: tuple[Literal["billing_address"], ...]


class CustomerAccountCreated(Event):
    producer = "billing"
    event_type: Literal["CustomerAccountCreated"] = "CustomerAccountCreated"
    schema_version: Literal[1] = 1

    customer_number: Annotated[str, StringConstraints(pattern=r"^K[0-9]{5,10}$")]
    request_id: uuid.UUID
    session_id: uuid.UUID


class AccountErasureReason(StrEnum):
    #: The customer asked for erasure (GDPR Art. 17 Abs. 1) or no longer wants the account.
    CUSTOMER_REQUEST = "customer_request"
    #: The business relationship ended; the account is no longer needed (Art. 17 Abs. 1 lit. a).
    RELATIONSHIP_ENDED = "relationship_ended"


class CustomerAccountErased(Event):
    """A regular customer's account was closed and its personal fields erased (GDPR Art. 17).

    The customer number stays (it is printed on issued invoices, which are kept for 8 years
    under §14b UStG / §147 AO, and it is never given out again); the account is never filled
    again. Carries no personal data and not who asked (that stays in billing's table).
    """

    producer = "billing"
    event_type: Literal["CustomerAccountErased"] = "CustomerAccountErased"
    schema_version: Literal[1] = 1

    customer_number: Annotated[str, StringConstraints(pattern=r"^K[0-9]{5,10}$")]
    request_id: uuid.UUID
    reason: AccountErasureReason
    erased_at: AwareDatetime


# ---------------------------------------------------------------- retention
class ErasureReason(StrEnum):
    INVOICE_ISSUED = "invoice_issued"
    NOT_BILLED = "not_billed"
    WITHDRAWN = "withdrawn"
    ABANDONED = "abandoned"


class PersonalDataErased(Event):
    producer = "retention"
    event_type: Literal["PersonalDataErased"] = "PersonalDataErased"
    schema_version: Literal[1] = 1

    request_id: uuid.UUID
    reason: ErasureReason
    trigger_event_id: uuid.UUID | None = None
    erased_at: AwareDatetime
    #: False when there was nothing to erase (e.g. the vault entry never existed).
    had_data: bool = True


# ---------------------------------------------------------------- audit
#: Lower-case hex of a raw Ed25519 public key (32 bytes) and of a signature (64 bytes).
Ed25519PublicKeyHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Ed25519SignatureHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]


class AuditCheckpoint(Event):
    """A signed seal over the stream up to ``checkpoint_seq`` (tamper evidence).

    ``chain_hash`` is the audit hash chain after message ``checkpoint_seq``:
    ``h_n = sha256(h_{n-1} || seq_n (8 bytes big-endian) || subject_n || sha256(body_n))`` with
    ``h_0`` = 32 zero bytes; ``signature`` is Ed25519 over ``checkpoint_seq (8 bytes big-endian)
    || chain_hash (32 raw bytes)``.
    """

    producer = "audit"
    event_type: Literal["AuditCheckpoint"] = "AuditCheckpoint"
    schema_version: Literal[1] = 1

    checkpoint_seq: int = Field(ge=0)
    chain_hash: Sha256Hex
    public_key: Ed25519PublicKeyHex
    signature: Ed25519SignatureHex
    signed_at: AwareDatetime
