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
    """A new support request.

    v2: ``download_sha256``, the SHA-256 (hex) of the random download code (≥ 256 bits,
    ``secrets.token_urlsafe(32)``) intake gave the customer once, for fetching the invoice
    without any personal data (issue 21). Only the hash travels; billing checks a code against
    it. A v1 event is upcast with ``None`` (no download code).
    """

    producer = "intake"
    event_type: Literal["SupportRequestCreated"] = "SupportRequestCreated"
    schema_version: Literal[2] = 2

    request_id: uuid.UUID
    ticket: TicketCode
    customer_type: CustomerType = CustomerType.BUSINESS
    terms: TermsAcceptance
    has_billing_address: bool = False
    has_email: bool = False
    download_sha256: Sha256Hex | None = None


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


class SessionTakenOver(Event):
    """A running session changed hands: from now on it belongs to ``to_technician``.

    A session belongs to the technician who started it; only this explicit, recorded takeover
    moves it. ``taken_over_by`` is who did it: the new technician, or a lead handing it on.
    Pseudonymous staff handles only.
    """

    producer = "session"
    event_type: Literal["SessionTakenOver"] = "SessionTakenOver"
    schema_version: Literal[1] = 1

    session_id: uuid.UUID
    request_id: uuid.UUID
    from_technician: TechnicianId
    to_technician: TechnicianId
    taken_over_by: TechnicianId
    taken_over_at: AwareDatetime


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
    """Which invoice a session got; names and values in one language (English).

    ``small`` was written ``kleinbetrag`` before ``InvoiceIssued`` v3 (and is still stored so in
    billing's invoice rows, which are never edited): that legacy value still reads as ``SMALL``.
    """

    #: §33 UStDV (Kleinbetragsrechnung), gross <= 250 EUR: no recipient data on the invoice.
    SMALL = "small"
    #: §14 Abs. 4 UStG: recipient name and address on the invoice.
    FULL = "full"

    @classmethod
    def _missing_(cls, value: object) -> InvoiceKind | None:
        return cls.SMALL if value == LEGACY_SMALL_KIND else None


#: How ``InvoiceKind.SMALL`` was written up to ``InvoiceIssued`` v2 (and in billing's tables).
LEGACY_SMALL_KIND = "kleinbetrag"


class TaxCase(StrEnum):
    """Which VAT rule an invoice follows (LEGAL.md L17); decided by billing, no personal data."""

    #: Recipient in Germany (business or consumer): German VAT at the tariff's rate.
    DOMESTIC = "domestic"
    #: A consumer (or a business without a VAT id) abroad: German VAT as at home (§3a Abs. 1 UStG).
    FOREIGN_CONSUMER = "foreign_consumer"
    #: An EU business with a VAT id outside Germany: the recipient owes the VAT (§13b UStG), rate 0.
    REVERSE_CHARGE = "reverse_charge"
    #: A business outside the EU: not taxable in Germany (§3a Abs. 2 UStG), rate 0.
    NOT_TAXABLE = "not_taxable"
    #: The office is a small business (§19 UStG): no VAT at all (the tariff's rate is 0).
    SMALL_BUSINESS = "small_business"

    @property
    def zero_rated(self) -> bool:
        """No German VAT on the invoice, whatever the tariff's rate."""
        return self in (TaxCase.REVERSE_CHARGE, TaxCase.NOT_TAXABLE)


class CorrectionReason(StrEnum):
    """Why a cancelled invoice was replaced by a corrected one."""

    WRONG_DURATION = "wrong_duration"
    WRONG_RECIPIENT = "wrong_recipient"
    WRONG_TAX_CASE = "wrong_tax_case"


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
    ("not known": it was issued before billing published its tariffs). The optional ``tax_case``,
    ``corrects``, ``correction_reason`` and ``priced_seconds`` came in v1 already (defaults for
    older events) and are kept as they are.

    v3: ``kind`` is ``small`` or ``full`` (one language); v1/v2 wrote ``kleinbetrag`` for
    ``small`` and are upcast to it.
    """

    producer = "billing"
    event_type: Literal["InvoiceIssued"] = "InvoiceIssued"
    schema_version: Literal[3] = 3

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
    #: Added later; events written before it are domestic (or §19 with a 0 % tariff).
    tax_case: TaxCase = TaxCase.DOMESTIC
    #: A corrected invoice (Rechnungskorrektur, LEGAL.md L18): the cancelled invoice it
    #: replaces for the same session, and why (a code, never free text).
    corrects: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")] | None = None
    correction_reason: CorrectionReason | None = None
    #: The corrected duration the pricing used instead of ``raw_seconds`` (a correction of the
    #: billed duration); ``None``: priced from ``raw_seconds`` as usual.
    priced_seconds: int | None = Field(default=None, ge=0)
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
    event_type: Literal["SessionNotBilled"] = "SessionNotBilled"
    schema_version: Literal[2] = 2

    session_id: uuid.UUID
    request_id: uuid.UUID
    reason: NotBilledReason
    tariff_version: str
    raw_seconds: int = Field(ge=0)


class BlockReason(StrEnum):
    """Why billing cannot issue a session's invoice (a code, never data)."""

    #: A full invoice needs the recipient's address, which the request lacks (v1's only case):
    #: the technician can provide it (``BillingAddressProvided``).
    BILLING_ADDRESS_MISSING = "billing_address_missing"
    #: The invoice document (PDF or e-invoice XML) could not be rendered from the request's data,
    #: e.g. a character no document format can hold in data stored before the edge refused it.
    DOCUMENT_RENDER_FAILED = "document_render_failed"
    #: Any other permanent failure while issuing (e.g. a mandatory field of the document missing).
    ISSUING_FAILED = "issuing_failed"


class BillingBlocked(Event):
    """Billing cannot issue the session's invoice and says why; nobody waits in silence.

    Retention holds the request's data for a bounded time after the first block (the purpose
    "billing" is still pending), then erases them; billing then closes the session as not billed
    (``recipient_data_erased``, a lost claim).

    v2: ``reason``. v1 knew only the missing address, so a v1 event is upcast with
    ``billing_address_missing`` (derived, not guessed). With any other reason ``missing`` is
    empty: there is nothing the technician could provide.
    """

    producer = "billing"
    event_type: Literal["BillingBlocked"] = "BillingBlocked"
    schema_version: Literal[2] = 2

    session_id: uuid.UUID
    request_id: uuid.UUID
    missing: tuple[Literal["billing_address"], ...]
    reason: BlockReason = BlockReason.BILLING_ADDRESS_MISSING


DocumentNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    #: Handed over another way (printed, in person); recorded by the office.
    MANUAL = "manual"


class DeliveryFailure(StrEnum):
    """Why an e-mail delivery was given up: a code, never a server's message (it may quote the
    address). The office reads it in German (``fw_billing.domain.delivery_texts``)."""

    SMTP_DISABLED = "smtp_disabled"            # no SMTP server configured
    MAILBOX_UNKNOWN = "mailbox_unknown"        # 550 & co.: the recipient does not exist
    REJECTED = "rejected"                      # another permanent 5xx refusal
    SERVER_UNREACHABLE = "server_unreachable"  # connection refused, timeouts, DNS
    TEMPORARY_FAILURE = "temporary_failure"    # 4xx until the retries ran out
    LOGIN_FAILED = "login_failed"              # SMTP authentication refused
    TLS_FAILED = "tls_failed"
    ADDRESS_UNAVAILABLE = "address_unavailable"  # no e-mail address (any more) in the vault
    OTHER = "other"


class InvoiceDelivered(Event):
    """A document (invoice or Storno) reached the customer (§14 Abs. 1 UStG: "übermittelt")."""

    producer = "billing"
    event_type: Literal["InvoiceDelivered"] = "InvoiceDelivered"
    schema_version: Literal[1] = 1

    document_number: DocumentNumber
    document_type: Literal["invoice", "cancellation"]
    request_id: uuid.UUID
    channel: DeliveryChannel
    delivered_at: AwareDatetime
    #: E-mail attempts it took (0 for a manual hand-over without an attempt).
    attempts: int = Field(ge=0)


class InvoiceDeliveryFailed(Event):
    """The e-mail delivery of a document was given up (after its retries, or at once)."""

    producer = "billing"
    event_type: Literal["InvoiceDeliveryFailed"] = "InvoiceDeliveryFailed"
    schema_version: Literal[1] = 1

    document_number: DocumentNumber
    document_type: Literal["invoice", "cancellation"]
    request_id: uuid.UUID
    failure: DeliveryFailure
    failed_at: AwareDatetime
    attempts: int = Field(ge=0)


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


class AccountField(StrEnum):
    """A category of a customer account's personal fields (never the value)."""

    EMAIL = "email"
    ADDRESS = "address"


class CustomerAccountChanged(Event):
    """The office changed personal fields of an open customer account (e.g. a new address).

    Says which categories changed and by whom (staff id), never the old or new values: those
    stay encrypted in billing's table.
    """

    producer = "billing"
    event_type: Literal["CustomerAccountChanged"] = "CustomerAccountChanged"
    schema_version: Literal[1] = 1

    customer_number: Annotated[str, StringConstraints(pattern=r"^K[0-9]{5,10}$")]
    request_id: uuid.UUID
    changed: Annotated[tuple[AccountField, ...], Field(min_length=1)]
    changed_by: TechnicianId
    changed_at: AwareDatetime


# ---------------------------------------------------------------- retention
class ErasureReason(StrEnum):
    INVOICE_ISSUED = "invoice_issued"
    NOT_BILLED = "not_billed"
    WITHDRAWN = "withdrawn"
    ABANDONED = "abandoned"
    #: (v2) The second step after an invoice: the e-mail address kept for its delivery goes when
    #: the delivery succeeded, was given up, or at the latest when the delivery hold ended.
    INVOICE_DELIVERED = "invoice_delivered"
    INVOICE_DELIVERY_FAILED = "invoice_delivery_failed"
    DELIVERY_HOLD_ENDED = "delivery_hold_ended"


class ErasureScope(StrEnum):
    """(v2) Which of the request's personal data an erasure removed."""

    #: Everything (every v1 erasure was this).
    ALL = "all"
    #: Everything except the e-mail address the customer gave for the invoice (LEGAL.md L21):
    #: company, name, phone, address and statement are gone; the address goes in a second step.
    ALL_BUT_DELIVERY_EMAIL = "all_but_delivery_email"
    #: The second step: the e-mail address kept for the delivery (nothing is left afterwards).
    DELIVERY_EMAIL = "delivery_email"


class PersonalDataErased(Event):
    """Retention erased (some of) a request's personal data.

    v2: ``scope`` says what was erased (a v1 event always erased everything: upcast to
    ``all``), ``reason`` may be one of the delivery reasons of the second step, and
    ``delivery_hold_until`` (only with ``all_but_delivery_email``) is when the kept e-mail
    address is erased at the latest.
    """

    producer = "retention"
    event_type: Literal["PersonalDataErased"] = "PersonalDataErased"
    schema_version: Literal[2] = 2

    request_id: uuid.UUID
    reason: ErasureReason
    trigger_event_id: uuid.UUID | None = None
    erased_at: AwareDatetime
    #: False when there was nothing to erase (e.g. the vault entry never existed).
    had_data: bool = True
    scope: ErasureScope = ErasureScope.ALL
    delivery_hold_until: AwareDatetime | None = None


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
