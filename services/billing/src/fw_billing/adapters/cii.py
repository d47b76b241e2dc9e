"""UN/CEFACT Cross Industry Invoice (CII D16B) for ZUGFeRD 2 / Factur-X, profile EN 16931, or
the XRechnung 3.0 CIUS when the buyer gave a Leitweg-ID (BT-10).

Built from the :class:`~fw_billing.domain.documents.Document` alone, so the XML and the PDF say
the same. Business terms (BT-nn) are named where they are written. A cancellation becomes a
credit note (type code 381) with *positive* amounts and a reference to the cancelled invoice
(BT-25/26): in EN 16931 the type code carries the sign, the PDF shows the negated amounts.
The VAT category follows the tax case (``domain/tax.py``): S, AE (reverse charge, with the
buyer's VAT id BT-48), O (not taxable: no VAT ids, no line rate, BR-O-02/05) or E (§19 UStG).
"""

from __future__ import annotations

import re
from decimal import Decimal

from lxml import etree

from fw_billing.domain.documents import (
    CORRECTION_LABELS,
    REASON_LABELS,
    Document,
    DocumentKind,
    Profile,
    recipient_name,
    work_note_text,
)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
EN16931 = Profile.EN16931.value
XRECHNUNG = Profile.XRECHNUNG.value
TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"
SEPA_CREDIT_TRANSFER = "58"
#: UNTDID 4461 "1": instrument not defined (a refund, paid the way the invoice was paid).
REFUND_MEANS = "1"


#: Not a ``Char`` of XML 1.0: C0 controls but tab/LF/CR, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with every character XML cannot hold replaced by ``?`` (lxml would refuse it).

    The last line of defence: the edge refuses such text since issue 14, but vaults may still
    hold older data, and an invoice must not fail over a stray control character in a name.
    """
    return _NOT_XML.sub("?", text)


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _el(parent: etree._Element, path: str, text: str | None = None, **attrs: str) -> etree._Element:
    """Append ``ram:A/ram:B`` below ``parent`` (always new elements) and set the leaf's text."""
    node = parent
    for part in path.split("/"):
        prefix, name = part.split(":")
        node = etree.SubElement(node, _q(prefix, name))
    if text is not None:
        node.text = xml_text(text)
    for k, v in attrs.items():
        node.set(k, xml_text(v))
    return node


def _amount(value: Decimal) -> str:
    # ``+ 0`` turns a negative zero (the Storno of a 0 % invoice) into ``0.00`` (BR-E-09).
    return f"{value + 0:.2f}"


def _num(value: Decimal) -> str:
    """Quantities, prices and percentages without needless zeros (``3``, ``19``, ``24.00`` -> ``24``)."""
    normalized = value.normalize()
    return format(normalized, "f") if normalized != normalized.to_integral_value() else str(int(normalized))


def _date(parent: etree._Element, path: str, day: str, prefix: str = "udt") -> None:
    _el(parent, f"{path}/{prefix}:DateTimeString", day, format="102")


def _tax(parent: etree._Element, doc: Document, *, basis: Decimal | None = None,
         amount: Decimal | None = None) -> None:
    tax = _el(parent, "ram:ApplicableTradeTax")
    treatment = doc.tax
    header = basis is not None
    if amount is not None:
        _el(tax, "ram:CalculatedAmount", _amount(amount))
    _el(tax, "ram:TypeCode", "VAT")
    if treatment.note and header:
        _el(tax, "ram:ExemptionReason", treatment.note)                         # BT-120
    if basis is not None:
        _el(tax, "ram:BasisAmount", _amount(basis))
    # S: standard rate; AE: reverse charge; O: not subject to VAT here; E: exempt (§19 UStG).
    _el(tax, "ram:CategoryCode", treatment.category)
    if treatment.exemption_code and header:
        _el(tax, "ram:ExemptionReasonCode", treatment.exemption_code)           # BT-121
    if treatment.category != "O" or header:  # BR-O-05: no line rate for O
        _el(tax, "ram:RateApplicablePercent", _num(doc.vat_rate * 100))


def _address(party: etree._Element, street: str, postal_code: str, city: str, country: str) -> None:
    addr = _el(party, "ram:PostalTradeAddress")
    _el(addr, "ram:PostcodeCode", postal_code)
    _el(addr, "ram:LineOne", street)
    _el(addr, "ram:CityName", city)
    _el(addr, "ram:CountryID", country)


def cii_xml(doc: Document) -> bytes:
    """The EN 16931 CII XML of a full invoice or of its cancellation (UTF-8, deterministic)."""
    if doc.recipient is None or not doc.names_recipient:
        raise ValueError("an e-invoice names its recipient: only full invoices get one")
    credit = doc.kind is DocumentKind.CANCELLATION
    sign = Decimal(-1) if credit else Decimal(1)  # 381 carries positive amounts
    issuer, buyer = doc.issuer, doc.recipient
    root = etree.Element(_q("rsm", "CrossIndustryInvoice"), nsmap=NS)

    ctx = _el(root, "rsm:ExchangedDocumentContext")
    _el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", doc.profile.value)  # BT-24

    head = _el(root, "rsm:ExchangedDocument")
    _el(head, "ram:ID", doc.number)                                             # BT-1
    _el(head, "ram:TypeCode", TYPE_CREDIT_NOTE if credit else TYPE_INVOICE)     # BT-3
    _date(head, "ram:IssueDateTime", doc.issue_date.strftime("%Y%m%d"))         # BT-2
    if doc.reference is not None:
        note = f"Storno der Rechnung {doc.reference.number}: {REASON_LABELS[doc.reference.reason_code]}"
        _el(head, "ram:IncludedNote/ram:Content", note)                         # BT-22
    elif doc.correction is not None:
        _el(head, "ram:IncludedNote/ram:Content",
            f"Korrektur der stornierten Rechnung {doc.correction.number}: "
            f"{CORRECTION_LABELS[doc.correction.reason]}")                      # BT-22
    if issuer.trade_register:
        _el(head, "ram:IncludedNote/ram:Content", issuer.trade_register)
    if doc.tax.note and doc.tax.category != "E":
        _el(head, "ram:IncludedNote/ram:Content", doc.tax.note)                 # §14a Abs. 5 UStG

    trade = _el(root, "rsm:SupplyChainTradeTransaction")
    for i, line in enumerate(doc.lines, start=1):
        item = _el(trade, "ram:IncludedSupplyChainTradeLineItem")
        line_doc = _el(item, "ram:AssociatedDocumentLineDocument")
        _el(line_doc, "ram:LineID", str(i))                                     # BT-126
        if i == 1 and doc.work_note:
            # the session's line: the technician's note of the work done (BT-127)
            _el(line_doc, "ram:IncludedNote/ram:Content", work_note_text(doc))
        _el(item, "ram:SpecifiedTradeProduct/ram:Name", line.description)       # BT-153
        _el(item, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
            _num(line.unit_price * sign))                                       # BT-146
        _el(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", _num(line.quantity),
            unitCode=line.unit)                                                 # BT-129/130
        settle = _el(item, "ram:SpecifiedLineTradeSettlement")
        _tax(settle, doc)                                                       # BT-151/152
        _el(settle, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
            _amount(line.net * sign))                                           # BT-131

    agreement = _el(trade, "ram:ApplicableHeaderTradeAgreement")
    if buyer.buyer_reference:
        _el(agreement, "ram:BuyerReference", buyer.buyer_reference)             # BT-10 (Leitweg-ID)
    not_subject = doc.tax.category == "O"  # BR-O-02: no seller or buyer VAT id
    seller_vat_id = None if not_subject else issuer.vat_id
    seller = _el(agreement, "ram:SellerTradeParty")
    if seller_vat_id is None and issuer.seller_identifier:
        _el(seller, "ram:ID", issuer.seller_identifier)                         # BT-29 (BR-CO-26)
    _el(seller, "ram:Name", issuer.name)                                        # BT-27
    if issuer.trade_register:
        _el(seller, "ram:SpecifiedLegalOrganization/ram:ID", issuer.trade_register)   # BT-30
    contact = _el(seller, "ram:DefinedTradeContact")                            # BG-6
    _el(contact, "ram:PersonName", issuer.contact_label)                        # BT-41
    if issuer.phone:
        _el(contact, "ram:TelephoneUniversalCommunication/ram:CompleteNumber", issuer.phone)  # BT-42
    _el(contact, "ram:EmailURIUniversalCommunication/ram:URIID", issuer.email)  # BT-43
    _address(seller, issuer.street, issuer.postal_code, issuer.city, issuer.country)
    _el(seller, "ram:URIUniversalCommunication/ram:URIID", issuer.email, schemeID="EM")  # BT-34
    if issuer.tax_number:
        _el(seller, "ram:SpecifiedTaxRegistration/ram:ID", issuer.tax_number, schemeID="FC")  # BT-32
    if seller_vat_id:
        _el(seller, "ram:SpecifiedTaxRegistration/ram:ID", seller_vat_id, schemeID="VA")  # BT-31
    party = _el(agreement, "ram:BuyerTradeParty")
    if doc.customer_number:
        _el(party, "ram:ID", doc.customer_number)                               # BT-46
    _el(party, "ram:Name", recipient_name(buyer))                               # BT-44
    if buyer.contact and buyer.contact != recipient_name(buyer):
        _el(party, "ram:DefinedTradeContact/ram:PersonName", buyer.contact)     # BT-56
    _address(party, buyer.street, buyer.postal_code, buyer.city, buyer.country)  # BT-50..55
    if buyer.buyer_reference:
        # BT-49 (mandatory in XRechnung 3.0): the Leitweg-ID is the public buyer's address.
        _el(party, "ram:URIUniversalCommunication/ram:URIID", buyer.buyer_reference, schemeID="0204")
    if doc.tax.shows_buyer_vat_id and buyer.vat_id:
        _el(party, "ram:SpecifiedTaxRegistration/ram:ID", buyer.vat_id, schemeID="VA")  # BT-48

    delivery = _el(trade, "ram:ApplicableHeaderTradeDelivery")
    _date(delivery, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime",
          doc.service_date.astimezone(doc.issue_tz).strftime("%Y%m%d"))        # BT-72

    settlement = _el(trade, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:InvoiceCurrencyCode", doc.currency)                    # BT-5
    means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")        # BG-16 (BR-DE-1)
    if not credit:
        _el(means, "ram:TypeCode", SEPA_CREDIT_TRANSFER)                        # BT-81
        _el(means, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID", issuer.iban)  # BT-84
        if issuer.bic:
            _el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID", issuer.bic)  # BT-86
    else:
        # The office refunds what was paid to the account it was paid from: no account of ours.
        _el(means, "ram:TypeCode", REFUND_MEANS)                                # BT-81
        _el(means, "ram:Information", "Erstattung bereits gezahlter Beträge")   # BT-82
    _tax(settlement, doc, basis=doc.net_total * sign, amount=doc.vat_total * sign)  # BG-23
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    if doc.due_date is not None:
        _el(terms, "ram:Description",
            f"Zahlbar ohne Abzug bis {doc.due_date.strftime('%d.%m.%Y')}")     # BT-20
        _date(terms, "ram:DueDateDateTime", doc.due_date.strftime("%Y%m%d"))    # BT-9
    else:
        _el(terms, "ram:Description", "Bereits gezahlte Beträge werden erstattet.")
    sums = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(sums, "ram:LineTotalAmount", _amount(doc.net_total * sign))             # BT-106
    _el(sums, "ram:TaxBasisTotalAmount", _amount(doc.net_total * sign))         # BT-109
    _el(sums, "ram:TaxTotalAmount", _amount(doc.vat_total * sign), currencyID=doc.currency)  # BT-110
    _el(sums, "ram:GrandTotalAmount", _amount(doc.gross_total * sign))          # BT-112
    _el(sums, "ram:DuePayableAmount", _amount(doc.gross_total * sign))          # BT-115
    if doc.reference is None and doc.correction is not None:
        # A corrected invoice names the cancelled invoice it replaces (BT-25/26).
        ref = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", doc.correction.number)                 # BT-25
        _date(ref, "ram:FormattedIssueDateTime",
              doc.correction.issued_at.astimezone(doc.issue_tz).strftime("%Y%m%d"), prefix="qdt")  # BT-26
    if doc.reference is not None:
        ref = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", doc.reference.number)                  # BT-25
        _date(ref, "ram:FormattedIssueDateTime",
              doc.reference.issued_at.astimezone(doc.issue_tz).strftime("%Y%m%d"), prefix="qdt")  # BT-26
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
