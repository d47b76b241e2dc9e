"""Check ``invoice_documents`` (bundle only): the archived invoice XMLs equal their events.

``fernwartung audit export --database-url … --archive-key …`` puts billing's archived EN 16931
XMLs (UN/CEFACT CII, ZUGFeRD/Factur-X) into ``invoices/<number>.xml`` and describes the archive
in the manifest's ``invoice_documents`` section: per document number its type, year, whether
billing issued it as an e-invoice (``billing.invoices.e_invoice``; the event does not say so) and
the bundle files; the years whose archive was destroyed after the retention period; and any
problem the export met (a document missing from the archive, one that did not decrypt).

The check then requires, for every ``InvoiceIssued`` (and ``InvoiceCancelled``) in the bundle:

* an entry in the index, or a destroyed archive year for the document's year (office time) whose
  retention period (8 years from the end of the year, §147 Abs. 3 AO) was over at the export;
* an XML where billing issued an e-invoice, and none for a Kleinbetragsrechnung;
* each XML: readable CII, its number (BT-1), type code (BT-3: 380 invoice, 381 credit note),
  issue date (BT-2) and totals (BT-109 net, BT-110 VAT, BT-112 gross, as Decimal) equal to the
  event's (a credit note carries the cancellation's amounts positive; it references the
  cancelled invoice, BT-25);
* every file under ``invoices/`` matches its SHA-256 in the manifest and belongs to an event.

A finding names the document number and the event's sequence, and quotes only numbers, dates
and amounts: the XML names the recipient (personal data), which a report must never repeat.
Without the section (exported without archive access) the check is SKIPPED, which is not a pass.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fw_audit.checks import Seen
from fw_audit.model import CheckResult
from fw_contracts.events import InvoiceCancelled, InvoiceIssued, InvoiceKind
from fw_contracts.reference import IssuerDetails, IssuerDetailsChanged, issuer_sha256

NAME = "invoice_documents"
TITLE = "Invoice XMLs in the bundle equal their InvoiceIssued events"

#: The manifest section the export writes.
SECTION = "invoice_documents"
#: Where the documents are in the bundle.
FOLDER = "invoices"
#: Office time zone of the document dates when the manifest names none (billing's default).
DEFAULT_TIMEZONE = "Europe/Berlin"
#: §147 Abs. 3 AO, §14b Abs. 1 UStG: kept 8 years from the end of the calendar year of issue.
RETENTION_YEARS = 8
#: An invoice XML is a few KiB; anything this large is not one of ours.
MAX_XML_BYTES = 5 * 1024 * 1024
#: Document numbers (fw_contracts: ``^[A-Z0-9][A-Z0-9-]{2,31}$``) double as file names.
NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"
_SUMS = ("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
         "ram:SpecifiedTradeSettlementHeaderMonetarySummation")


def xml_name(number: str) -> str:
    return f"{FOLDER}/{number}.xml"


def pdf_name(number: str) -> str:
    return f"{FOLDER}/{number}.pdf"


class UnreadableXml(ValueError):
    """The file is not a CII invoice we can read; the message names elements, never contents."""


@dataclass(frozen=True)
class CiiFacts:
    """What the check compares, read from a CII XML."""

    number: str
    type_code: str
    issue_date: date
    net: Decimal
    vat: Decimal
    gross: Decimal
    #: BT-25, the invoice a credit note refers to (None on an invoice).
    referenced: str | None
    #: The seller as printed (BT-27, BT-35/38/37/40, BT-32, BT-31, BT-30, BT-84); field names of
    #: :class:`fw_contracts.reference.IssuerDetails`. Compared with the issuer details in force.
    seller: dict[str, str | None] = field(default_factory=dict)


def _text(root: ET.Element, path: str, what: str) -> str:
    node = root.find(path, NS)
    if node is None or node.text is None or not node.text.strip():
        raise UnreadableXml(f"{what} missing")
    return node.text.strip()


def _amount(root: ET.Element, name: str, what: str) -> Decimal:
    nodes = root.findall(f"{_SUMS}/ram:{name}", NS)
    if not nodes:
        raise UnreadableXml(f"{what} ({name}) missing")
    # BT-110 may occur twice (document and accounting currency): take the one in EUR.
    node = next((n for n in nodes if n.get("currencyID") in (None, "EUR")), nodes[0])
    try:
        value = Decimal((node.text or "").strip())
    except InvalidOperation:
        raise UnreadableXml(f"{what} ({name}) is not a number") from None
    if not value.is_finite():
        raise UnreadableXml(f"{what} ({name}) is not a number")
    return value


def parse_cii(data: bytes) -> CiiFacts:
    """Read number, type, date and totals of a CII XML; :class:`UnreadableXml` otherwise.

    The bundle may have been edited by anyone: a DTD (entity expansion, external entities) is
    refused before parsing, and so is an oversized file.
    """
    if len(data) > MAX_XML_BYTES:
        raise UnreadableXml(f"larger than {MAX_XML_BYTES} bytes")
    head = data.upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise UnreadableXml("carries a DTD (refused)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise UnreadableXml(f"not well-formed XML (line {exc.position[0]})") from None
    if root.tag != f"{{{NS['rsm']}}}CrossIndustryInvoice":
        raise UnreadableXml("not a CII CrossIndustryInvoice")
    day = _text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", "issue date (BT-2)")
    try:
        issue_date = datetime.strptime(day, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date, no time
    except ValueError:
        raise UnreadableXml("issue date (BT-2) is not YYYYMMDD") from None
    ref = root.find("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
                    "ram:InvoiceReferencedDocument/ram:IssuerAssignedID", NS)
    return CiiFacts(
        number=_text(root, "rsm:ExchangedDocument/ram:ID", "invoice number (BT-1)"),
        type_code=_text(root, "rsm:ExchangedDocument/ram:TypeCode", "type code (BT-3)"),
        issue_date=issue_date,
        net=_amount(root, "TaxBasisTotalAmount", "net total (BT-109)"),
        vat=_amount(root, "TaxTotalAmount", "VAT total (BT-110)"),
        gross=_amount(root, "GrandTotalAmount", "gross total (BT-112)"),
        referenced=ref.text.strip() if ref is not None and ref.text else None,
        seller=_seller(root))


_SELLER = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"


def _seller(root: ET.Element) -> dict[str, str | None]:
    """The seller's printed details (absent ones are None)."""
    def text(path: str) -> str | None:
        node = root.find(f"{_SELLER}/{path}", NS)
        return node.text.strip() if node is not None and node.text and node.text.strip() else None

    tax = {n.get("schemeID"): (n.text or "").strip()
           for n in root.findall(f"{_SELLER}/ram:SpecifiedTaxRegistration/ram:ID", NS)}
    iban = root.find("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
                     "ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID", NS)
    return {
        "name": text("ram:Name"), "street": text("ram:PostalTradeAddress/ram:LineOne"),
        "postal_code": text("ram:PostalTradeAddress/ram:PostcodeCode"),
        "city": text("ram:PostalTradeAddress/ram:CityName"),
        "country": text("ram:PostalTradeAddress/ram:CountryID"),
        "trade_register": text("ram:SpecifiedLegalOrganization/ram:ID"),
        "tax_number": tax.get("FC") or None, "vat_id": tax.get("VA") or None,
        "iban": iban.text.strip() if iban is not None and iban.text else None,
    }


#: The issuer fields an archived XML must print as the IssuerDetailsChanged in force says.
ISSUER_FIELDS = ("name", "street", "postal_code", "city", "country", "trade_register", "tax_number", "vat_id")


@dataclass(frozen=True, slots=True)
class _Doc:
    """A document number as the events tell it."""

    seq: int
    type: str  # "invoice" or "cancellation"
    issued_at: datetime
    net: Decimal
    vat: Decimal
    gross: Decimal
    small: bool = False
    references: str | None = None
    #: The issuer details in force when the document was issued (the last IssuerDetailsChanged
    #: before it in the stream); None in a history from before billing published them.
    issuer: IssuerDetails | None = None


def destroyable_from(year: int, timezone: str) -> datetime:
    """First instant at which the archive of ``year`` may be destroyed (billing's rule)."""
    return datetime(year + 1 + RETENTION_YEARS, 1, 1, tzinfo=ZoneInfo(timezone))


class InvoiceDocumentsCheck:
    """Collects the invoices and cancellations of the bundle, then checks their documents."""

    def __init__(self, directory: Path, index: dict[str, Any] | None, exported_at: datetime, *,
                 file_problems: dict[str, str] | None = None, complete: bool = True) -> None:
        """``index``: the manifest's section (None: absent); ``file_problems``: manifest problems
        of files under ``invoices/`` (path -> problem); ``complete``: the whole bundle is checked
        (False with ``--until``: documents of later events are then not "without event")."""
        self.dir = directory
        self.index = index
        self.exported_at = exported_at
        self.file_problems = dict(file_problems or {})
        self.complete = complete
        self._docs: dict[str, _Doc] = {}
        self._issuer: IssuerDetails | None = None
        #: Documents whose printed issuer was compared with the details in force.
        self.issuer_compared = 0
        self.res = CheckResult(NAME, TITLE)
        tz = str((index or {}).get("timezone") or DEFAULT_TIMEZONE)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.res.fail("manifest: unknown time zone for the document dates")
            tz = DEFAULT_TIMEZONE
        self.timezone = tz

    def feed(self, seen: Seen) -> None:
        """Remember each invoice and cancellation (the first event per number counts)."""
        e = seen.event
        if isinstance(e, IssuerDetailsChanged):
            # an altered one (hash mismatch) is the invoice_totals check's finding; not in force
            if issuer_sha256(e.issuer) == e.issuer_sha256:
                self._issuer = e.issuer
        elif isinstance(e, InvoiceIssued):
            self._docs.setdefault(e.invoice_number, _Doc(
                seen.seq, "invoice", e.issued_at, e.net_total, e.vat_total, e.gross_total,
                small=e.kind is InvoiceKind.SMALL, issuer=self._issuer))
        elif isinstance(e, InvoiceCancelled):
            self._docs.setdefault(e.cancellation_number, _Doc(
                seen.seq, "cancellation", e.cancelled_at, e.net_total, e.vat_total, e.gross_total,
                references=e.invoice_number, issuer=self._issuer))

    # ------------------------------------------------------------------ verdict
    def result(self) -> CheckResult:
        res = self.res
        index = self.index
        if index is None or not index.get("included"):
            why = str((index or {}).get("reason") or "the bundle carries no invoice documents")
            res.skipped = why[:300]
            res.notes.append(f"skipped: {res.skipped} (export with --database-url and --archive-key)")
            for path in sorted(self.file_problems):
                res.fail(f"bundle manifest: {self.file_problems[path]}", file=path)
            return res
        entries: dict[str, Any] = index.get("documents") or {}
        if not isinstance(entries, dict):
            res.fail("manifest: invoice_documents.documents is not an object")
            entries = {}
        destroyed = self._destroyed_years(index)
        counts = {"xml": 0, "no_xml": 0, "pdf": 0}
        gone: dict[int, int] = {}
        claimed = {str(e.get(k)) for e in entries.values() if isinstance(e, dict) for k in ("xml", "pdf")
                   if e.get(k)}
        for number, doc in sorted(self._docs.items(), key=lambda kv: kv[1].seq):
            res.checked += 1
            entry = entries.get(number)
            year = doc.issued_at.astimezone(ZoneInfo(self.timezone)).year
            if entry is None:
                if year in destroyed:
                    gone[year] = gone.get(year, 0) + 1
                else:
                    res.fail(f"{number}: no archived document in the bundle (not in its index, and the "
                             f"archive of {year} is not reported destroyed)", doc.seq, number=number)
                continue
            if not isinstance(entry, dict):
                res.fail(f"{number}: index entry is not an object", doc.seq, number=number)
                continue
            self._check_entry(number, doc, entry, counts)
        self._check_unclaimed(entries, claimed)
        res.notes.append(
            f"{counts['xml']} XMLs equal their events (number, type, issue date, net/VAT/gross); "
            f"{counts['no_xml']} documents without XML (Kleinbetragsrechnung, consumer, or no e-invoice "
            f"issued); {counts['pdf']} PDFs present")
        res.notes.append(f"{self.issuer_compared} XMLs' printed issuer compared with the IssuerDetailsChanged in force"
                         + ("" if self.issuer_compared else " (none in the history before them: not compared)"))
        for year, info in sorted(destroyed.items()):
            res.notes.append(f"archive of {year} destroyed after its retention period (at "
                             f"{str(info.get('destroyed_at', '?'))[:40]}): {gone.get(year, 0)} documents of the "
                             "bundle's events are no longer available; not a failure")
        left_out = index.get("left_out") or 0
        if left_out:
            res.notes.append(f"{left_out} archived documents newer than the exported history were left out")
        if not self.complete:
            res.notes.append("checked up to --until only: documents of later events are not judged")
        return res

    def _destroyed_years(self, index: dict[str, Any]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        raw = index.get("destroyed_years") or {}
        if not isinstance(raw, dict):
            self.res.fail("manifest: invoice_documents.destroyed_years is not an object")
            return out
        for key, info in raw.items():
            try:
                year = int(key)
            except ValueError:
                self.res.fail("manifest: a destroyed year is not a year", year=str(key)[:12])
                continue
            info = info if isinstance(info, dict) else {}
            if self.exported_at < destroyable_from(year, self.timezone):
                # Billing (and its database) refuse this; a manifest that says so is wrong.
                self.res.fail(f"archive of {year} reported destroyed, but its retention period runs until "
                              f"{destroyable_from(year, self.timezone).date()} (export "
                              f"{self.exported_at.date()})", year=year)
                continue
            out[year] = info
        return out

    def _check_entry(self, number: str, doc: _Doc, entry: dict[str, Any], counts: dict[str, int]) -> None:
        res = self.res
        if entry.get("problem"):
            res.fail(f"{number}: {str(entry['problem'])[:200]} (reported by the export)", doc.seq, number=number)
            return
        if entry.get("type") not in (None, doc.type):
            res.fail(f"{number}: the index calls it a {str(entry.get('type'))[:20]}, the event a {doc.type}",
                     doc.seq, number=number)
        xml = entry.get("xml")
        if entry.get("pdf"):
            if self._file_ok(number, doc, str(entry["pdf"]), pdf_name(number)):
                counts["pdf"] += 1
        elif (self.index or {}).get("pdfs"):
            # billing archives a PDF of every document: exported with --with-pdfs, each has one
            res.fail(f"{number}: no PDF although the bundle was exported with PDFs", doc.seq, number=number)
        if not xml:
            if entry.get("e_invoice"):
                res.fail(f"{number}: billing issued it as an e-invoice, but the bundle holds no XML",
                         doc.seq, number=number)
            else:
                counts["no_xml"] += 1
            return
        if doc.small:
            res.fail(f"{number}: an XML for a Kleinbetragsrechnung (billing issues none)", doc.seq, number=number)
        if not self._file_ok(number, doc, str(xml), xml_name(number)):
            return
        try:
            facts = parse_cii((self.dir / xml_name(number)).read_bytes())
        except UnreadableXml as exc:
            res.fail(f"{number}: {xml_name(number)} unreadable: {exc}", doc.seq, number=number)
            return
        problems = self._compare(number, doc, facts)
        if problems:
            res.fail(f"{number}: XML differs from the event: {'; '.join(problems)}", doc.seq, number=number)
        else:
            counts["xml"] += 1

    def _file_ok(self, number: str, doc: _Doc, listed: str, expected: str) -> bool:
        """The indexed file is where it belongs, exists and matches the manifest."""
        if listed != expected:
            self.res.fail(f"{number}: index points to {listed[:80]!r}, expected {expected}", doc.seq, number=number)
            return False
        if expected in self.file_problems:
            self.res.fail(f"{number}: {self.file_problems.pop(expected)}", doc.seq, number=number)
            # a missing file cannot be compared; a changed one is compared still (evidence)
            return (self.dir / expected).is_file() and expected.endswith(".xml")
        if not (self.dir / expected).is_file():
            self.res.fail(f"{number}: {expected} is missing", doc.seq, number=number)
            return False
        return True

    def _compare(self, number: str, doc: _Doc, x: CiiFacts) -> list[str]:
        out = []
        if x.number != number:
            out.append("invoice number (BT-1) differs")
        want_type = TYPE_INVOICE if doc.type == "invoice" else TYPE_CREDIT_NOTE
        if x.type_code != want_type:
            out.append(f"type code {x.type_code[:8]} != {want_type}")
        day = doc.issued_at.astimezone(ZoneInfo(self.timezone)).date()
        if x.issue_date != day:
            out.append(f"issue date {x.issue_date} != {day}")
        # A credit note (381) states the cancellation's amounts positive: the type carries the sign.
        sign = (lambda v: v) if doc.type == "invoice" else abs
        for label, got, want in (("net", x.net, doc.net), ("VAT", x.vat, doc.vat), ("gross", x.gross, doc.gross)):
            if got != sign(want):
                out.append(f"{label} {got} != {sign(want)}")
        if doc.references is not None and x.referenced != doc.references:
            out.append(f"does not reference the cancelled invoice {doc.references} (BT-25)")
        if doc.issuer is not None:
            self.issuer_compared += 1
            # Field names only: the issuer's values are the office's, but a report quotes no XML.
            wrong = [f for f in ISSUER_FIELDS if x.seller.get(f) != getattr(doc.issuer, f)]
            if doc.type == "invoice" and x.seller.get("iban") != doc.issuer.iban:
                wrong.append("iban")
            if wrong:
                out.append(f"printed issuer differs from the IssuerDetailsChanged in force in: {', '.join(wrong)}")
        return out

    def _check_unclaimed(self, entries: dict[str, Any], claimed: set[str]) -> None:
        """Files and index entries that no event explains, and remaining manifest problems."""
        reported = set(self.file_problems)
        for path, problem in sorted(self.file_problems.items()):
            number = Path(path).stem if path.startswith(f"{FOLDER}/") else None
            if number in self._docs:
                self.res.fail(f"{number}: {problem}", self._docs[number].seq, number=number)
            else:
                self.res.fail(f"bundle manifest: {problem}", **({"number": number} if number else {"file": path}))
        folder = self.dir / FOLDER
        if folder.is_dir():
            for file in sorted(folder.iterdir()):
                name = f"{FOLDER}/{file.name}"
                if name in claimed or name in reported:
                    continue
                seqs = (self._docs[file.stem].seq,) if file.stem in self._docs else ()
                self.res.fail(f"{file.stem[:40]}: {name[:60]} is not in the document index", *seqs,
                              number=file.stem[:40])
        if not self.complete:
            return
        for number in sorted(set(entries) - set(self._docs)):
            self.res.fail(f"{str(number)[:40]}: a document in the bundle without an InvoiceIssued/InvoiceCancelled "
                          "event", number=str(number)[:40])
