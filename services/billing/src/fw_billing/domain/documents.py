"""The legal content of an invoice document, independent of its format (PDF, CII XML).

One place says which fields each kind of document must carry (LEGAL.md L1, L2): the PDF
prints exactly :func:`mandatory_fields`, and the tests check the PDF's text against it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from fw_billing.domain.formatting import date_de, local_date, money_de, percent_de, quantity_de
from fw_billing.domain.issuer import Issuer
from fw_billing.domain.tariff import DEFAULT_TIMEZONE
from fw_billing.domain.tax import TaxTreatment, treatment
from fw_contracts.events import InvoiceIssued, InvoiceKind, InvoiceLine, TaxCase

ZERO = Decimal("0.00")


class DocumentKind(StrEnum):
    SMALL = "small"                # §33 UStDV (Kleinbetragsrechnung)
    FULL = "full"                  # §14 Abs. 4 UStG
    CANCELLATION = "cancellation"  # Storno: cancels one invoice, with its own number


#: ``InvoiceCancelled.reason_code`` -> the reason printed on the cancellation.
REASON_LABELS: dict[str, str] = {
    "wrong_amount": "Rechnungsbetrag fehlerhaft",
    "wrong_recipient": "Rechnungsempfänger fehlerhaft",
    "duplicate": "Doppelt ausgestellte Rechnung",
    "goodwill": "Kulanz",
    "other": "Sonstiger Grund",
}


#: ``InvoiceIssued.correction_reason`` -> the reason printed on a corrected invoice.
CORRECTION_LABELS: dict[str, str] = {
    "wrong_duration": "Abgerechnete Dauer berichtigt",
    "wrong_recipient": "Rechnungsempfänger berichtigt",
    "wrong_tax_case": "Steuerliche Behandlung berichtigt",
}


class DocumentIncomplete(ValueError):
    """A document lacks a mandatory field; names the fields, never their values."""


@dataclass(frozen=True)
class Party:
    """The recipient as printed (personal data)."""

    name: str
    contact: str | None
    street: str
    postal_code: str
    city: str
    country: str = "DE"
    #: The recipient's USt-IdNr. (printed and BT-48 under reverse charge).
    vat_id: str | None = None
    #: Leitweg-ID of a public buyer (BT-10): the e-invoice is an XRechnung.
    buyer_reference: str | None = None


class Profile(StrEnum):
    """The e-invoice's specification (BT-24)."""

    EN16931 = "urn:cen.eu:en16931:2017"
    XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


@dataclass(frozen=True)
class Reference:
    """What a cancellation cancels."""

    number: str
    issued_at: datetime
    kind: InvoiceKind
    reason_code: str


@dataclass(frozen=True)
class Correction:
    """What a corrected invoice replaces (§31 Abs. 5 UStDV: a specific, unambiguous reference)."""

    number: str
    issued_at: datetime
    reason: str


@dataclass(frozen=True)
class Document:
    kind: DocumentKind
    number: str
    issued_at: datetime
    service_date: datetime
    issuer: Issuer
    recipient: Party | None
    lines: tuple[InvoiceLine, ...]
    net_total: Decimal
    vat_rate: Decimal
    vat_total: Decimal
    gross_total: Decimal
    currency: str = "EUR"
    customer_number: str | None = None
    raw_seconds: int = 0
    billed_seconds: int = 0
    tariff_version: str = ""
    reference: Reference | None = None
    #: A ZUGFeRD/Factur-X EN 16931 XML accompanies this document.
    e_invoice: bool = False
    timezone: str = DEFAULT_TIMEZONE
    tax_case: TaxCase = TaxCase.DOMESTIC
    #: The regular customer's name on the account (printed with the customer number).
    customer_name: str | None = None
    #: A corrected invoice: the cancelled invoice it replaces.
    correction: Correction | None = None
    #: The technician's "work done" note on the session's line (personal data: free text). Part
    #: of the invoice as issued; printed below the first line and as its note (BT-127).
    work_note: str | None = None

    @property
    def title(self) -> str:
        return {DocumentKind.SMALL: "Rechnung (Kleinbetragsrechnung)", DocumentKind.FULL: "Rechnung",
                DocumentKind.CANCELLATION: "Stornorechnung"}[self.kind]

    @property
    def names_recipient(self) -> bool:
        """Full invoices and the cancellation of one name the recipient; small ones never do."""
        if self.kind is DocumentKind.CANCELLATION:
            return self.reference is not None and self.reference.kind is InvoiceKind.FULL
        return self.kind is DocumentKind.FULL

    @property
    def issue_tz(self) -> ZoneInfo:
        """The office's time zone: dates on the document are its local dates."""
        return ZoneInfo(self.timezone)

    @property
    def issue_date(self) -> date:
        return local_date(self.issued_at, self.timezone)

    @property
    def due_date(self) -> date | None:
        """Payment due date; a cancellation asks for no payment."""
        if self.kind is DocumentKind.CANCELLATION or self.gross_total <= 0:
            return None
        return self.issue_date + timedelta(days=self.issuer.payment_days)

    @property
    def vat_exempt(self) -> bool:
        return self.vat_rate == 0

    @property
    def tax(self) -> TaxTreatment:
        """How the tax case shows; a 0 % invoice from before tax cases is a §19 one."""
        case = self.tax_case
        if self.vat_exempt and not case.zero_rated:
            case = TaxCase.SMALL_BUSINESS
        return treatment(case, self.issuer.vat_exemption_note)

    @property
    def profile(self) -> Profile:
        """XRechnung when the buyer gave a Leitweg-ID, else EN 16931 (Factur-X)."""
        if self.recipient is not None and self.recipient.buyer_reference:
            return Profile.XRECHNUNG
        return Profile.EN16931

    @property
    def rate_label(self) -> str:
        return percent_de(self.vat_rate)


def invoice_document(*, kind: InvoiceKind, number: str, issued_at: datetime, service_date: datetime,
                     issuer: Issuer, recipient: Party | None, lines: tuple[InvoiceLine, ...],
                     net_total: Decimal, vat_rate: Decimal, vat_total: Decimal, gross_total: Decimal,
                     customer_number: str | None, raw_seconds: int, billed_seconds: int,
                     tariff_version: str, e_invoice: bool, tax_case: TaxCase = TaxCase.DOMESTIC,
                     customer_name: str | None = None, correction: Correction | None = None,
                     work_note: str | None = None) -> Document:
    """The document of an issued invoice (a small one never carries the recipient).

    ``work_note``: the technician's note of the work done, printed with the session's line
    (also on a Kleinbetragsrechnung: it describes the service, it names nobody by itself).
    """
    small = kind is InvoiceKind.SMALL
    return Document(tax_case=tax_case, customer_name=customer_name if customer_number and not small else None,
        correction=correction, work_note=work_note or None,
        kind=DocumentKind.SMALL if small else DocumentKind.FULL, number=number, issued_at=issued_at,
        service_date=service_date, issuer=issuer, recipient=None if small else recipient,
        lines=lines, net_total=net_total, vat_rate=vat_rate, vat_total=vat_total,
        gross_total=gross_total, customer_number=customer_number, raw_seconds=raw_seconds,
        billed_seconds=billed_seconds, tariff_version=tariff_version, e_invoice=e_invoice and not small)


#: Printed before the note on the invoice line.
WORK_NOTE_LABEL = "Ausgeführte Arbeiten"


def work_note_text(doc: Document) -> str | None:
    """The note as printed below the first line (``None`` without a note)."""
    return f"{WORK_NOTE_LABEL}: {doc.work_note}" if doc.work_note else None


def issued_invoice_document(issued: InvoiceIssued, *, issuer: Issuer, recipient: Party | None,
                            e_invoice: bool, customer_name: str | None = None,
                            correction: Correction | None = None, work_note: str | None = None) -> Document:
    """The document of ``issued``: every amount and date as the event states it."""
    return invoice_document(
        kind=issued.kind, number=issued.invoice_number, issued_at=issued.issued_at,
        service_date=issued.service_date, issuer=issuer, recipient=recipient, lines=issued.lines,
        net_total=issued.net_total, vat_rate=issued.vat_rate, vat_total=issued.vat_total,
        gross_total=issued.gross_total, customer_number=issued.customer_number,
        raw_seconds=issued.raw_seconds, billed_seconds=issued.billed_seconds,
        tariff_version=issued.tariff_version, e_invoice=e_invoice, tax_case=issued.tax_case,
        customer_name=customer_name, correction=correction, work_note=work_note)


def _negated(line: InvoiceLine) -> InvoiceLine:
    return InvoiceLine(description=line.description, quantity=line.quantity, unit=line.unit,
                       unit_price=-line.unit_price, net=-line.net)


def cancellation_document(original: Document, *, number: str, issued_at: datetime,
                          reason_code: str) -> Document:
    """The Storno of ``original``: same lines and recipient, every amount negated."""
    if original.kind is DocumentKind.CANCELLATION:
        raise ValueError("a cancellation cannot be cancelled")
    if reason_code not in REASON_LABELS:
        raise ValueError("unknown reason code")
    invoice_kind = InvoiceKind.SMALL if original.kind is DocumentKind.SMALL else InvoiceKind.FULL
    return replace(
        original, kind=DocumentKind.CANCELLATION, number=number, issued_at=issued_at,
        lines=tuple(_negated(line) for line in original.lines), net_total=-original.net_total,
        vat_total=-original.vat_total, gross_total=-original.gross_total,
        reference=Reference(number=original.number, issued_at=original.issued_at, kind=invoice_kind,
                            reason_code=reason_code))


#: What a form may hold as "company" for a private person: never printed as a name.
_NO_NAME = {"privat", "privatperson", "private", "privatkunde"}


def recipient_name(party: Party) -> str:
    """The name the invoice is addressed to: a consumer is named, not labelled "Privat"."""
    if party.name.strip().casefold() in _NO_NAME and party.contact:
        return party.contact
    return party.name


def recipient_lines(party: Party) -> list[str]:
    """The recipient block as printed."""
    name = recipient_name(party)
    out = [name]
    if party.contact and party.contact != name:
        out.append(party.contact)
    out += [party.street, f"{party.postal_code} {party.city}"]
    if party.country != "DE":
        out.append(party.country)
    return out


def mandatory_fields(doc: Document) -> list[tuple[str, str]]:
    """``(field, text as printed)`` for every field the law requires on this document.

    Kleinbetragsrechnung (§33 UStDV): issuer name and address, issue date, quantity and kind of
    the service, gross amount, tax rate. Full invoice (§14 Abs. 4 UStG) adds the recipient's name
    and address, tax number or VAT id, the unique number, the time of the service, the net
    amount per rate and the tax amount. A cancellation also names the invoice it cancels.
    """
    issuer = doc.issuer
    fields: list[tuple[str, str]] = [
        ("issuer_name", issuer.name),
        ("issuer_address", issuer.address_line),
        ("issue_date", date_de(doc.issued_at, doc.timezone)),
    ]
    for i, line in enumerate(doc.lines, start=1):
        fields.append((f"line_{i}_description", line.description))
        fields.append((f"line_{i}_quantity", quantity_de(line.quantity)))
    fields.append(("gross_total", money_de(doc.gross_total)))
    fields.append(("vat_rate", doc.tax.note or doc.rate_label))
    if doc.customer_number and doc.customer_name:
        fields.append(("customer_number", doc.customer_number))
        fields.append(("customer_name", doc.customer_name))
    if doc.kind is DocumentKind.SMALL:
        return fields
    fields.append(("number", doc.number))
    fields.append(("service_date", date_de(doc.service_date, doc.timezone)))
    fields.append(("net_total", money_de(doc.net_total)))
    fields.append(("vat_total", money_de(doc.vat_total)))
    if issuer.vat_id:
        fields.append(("issuer_vat_id", issuer.vat_id))
    if issuer.tax_number:
        fields.append(("issuer_tax_number", issuer.tax_number))
    if doc.names_recipient and doc.recipient is not None:
        r = doc.recipient
        fields += [("recipient_name", recipient_name(r)), ("recipient_street", r.street),
                   ("recipient_city", f"{r.postal_code} {r.city}")]
        if doc.tax.shows_buyer_vat_id and r.vat_id:
            fields.append(("recipient_vat_id", r.vat_id))  # §14a Abs. 1 UStG
        if r.buyer_reference:
            fields.append(("buyer_reference", r.buyer_reference))
    if doc.correction is not None and doc.kind is not DocumentKind.CANCELLATION:
        fields.append(("corrected_invoice", doc.correction.number))
        fields.append(("corrected_invoice_date", date_de(doc.correction.issued_at, doc.timezone)))
    if doc.reference is not None:
        fields.append(("cancelled_invoice", doc.reference.number))
        fields.append(("cancelled_invoice_date", date_de(doc.reference.issued_at, doc.timezone)))
    return fields


def check_complete(doc: Document) -> None:
    """Refuse a document that could not carry every mandatory field (or breaks §33 UStDV)."""
    missing: list[str] = []
    if doc.names_recipient and doc.recipient is None:
        missing.append("recipient")
    if doc.kind is DocumentKind.SMALL and doc.recipient is not None:
        missing.append("no_recipient_on_small_invoice")
    if doc.kind is not DocumentKind.SMALL and not (doc.issuer.tax_number or doc.issuer.vat_id):
        missing.append("issuer_tax_id")
    if doc.kind is DocumentKind.CANCELLATION and doc.reference is None:
        missing.append("reference")
    if not doc.lines:
        missing.append("lines")
    if doc.e_invoice and doc.profile is Profile.XRECHNUNG and not doc.issuer.phone:
        missing.append("issuer_phone")  # XRechnung BR-DE-6: the seller contact's phone
    if doc.kind is DocumentKind.SMALL and doc.tax_case.zero_rated:
        missing.append("full_invoice_for_tax_case")  # §33 S. 3 UStDV
    if doc.tax.shows_buyer_vat_id and doc.names_recipient and (doc.recipient is None or not doc.recipient.vat_id):
        missing.append("recipient_vat_id")
    if doc.net_total + doc.vat_total != doc.gross_total or sum((x.net for x in doc.lines), ZERO) != doc.net_total:
        missing.append("consistent_totals")
    if missing:
        raise DocumentIncomplete("document incomplete: " + ", ".join(missing))
