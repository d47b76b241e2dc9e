"""Documents: every mandatory field in the PDF's text, per kind; Factur-X validates; PDF/A bits."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import facturx
import pypdf
import pytest
from lxml import etree

from fw_billing.adapters.cii import cii_xml
from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.domain.documents import (
    DocumentIncomplete,
    DocumentKind,
    cancellation_document,
    check_complete,
    mandatory_fields,
)
from fw_billing.domain.issuer import EXAMPLE_ISSUER
from fw_contracts.events import InvoiceKind

from .documents_support import ISSUED, check_xsd, contains, document, pdf_text, schematron_failures

RENDER = PdfRenderer()
CII = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
       "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}
SMALL_FIELDS = {"issuer_name", "issuer_address", "issue_date", "gross_total", "vat_rate"}
FULL_FIELDS = SMALL_FIELDS | {"number", "service_date", "net_total", "vat_total", "issuer_vat_id",
                              "issuer_tax_number", "recipient_name", "recipient_street", "recipient_city"}


def storno(kind: InvoiceKind) -> object:
    original = document(kind, intervals=10 if kind is InvoiceKind.FULL else 3)
    return cancellation_document(original, number="FW-S-2026-000001", issued_at=ISSUED + timedelta(days=2),
                                 reason_code="wrong_amount")


@pytest.mark.parametrize("doc", [
    document(InvoiceKind.SMALL, intervals=3),
    document(InvoiceKind.FULL, intervals=10, surcharge=Decimal("60.00")),
    document(InvoiceKind.FULL, intervals=10, e_invoice=False),
    storno(InvoiceKind.FULL),
    storno(InvoiceKind.SMALL),
], ids=["kleinbetrag", "full-e-invoice", "full-b2c", "storno-full", "storno-small"])
def test_pdf_text_contains_every_mandatory_field(doc: object) -> None:
    check_complete(doc)  # type: ignore[arg-type]
    fields = dict(mandatory_fields(doc))  # type: ignore[arg-type]
    expected = SMALL_FIELDS if doc.kind is DocumentKind.SMALL else FULL_FIELDS  # type: ignore[attr-defined]
    if doc.kind is DocumentKind.CANCELLATION:  # type: ignore[attr-defined]
        expected |= {"cancelled_invoice", "cancelled_invoice_date"}
        if doc.reference.kind is InvoiceKind.SMALL:  # type: ignore[attr-defined]
            expected -= {"recipient_name", "recipient_street", "recipient_city"}
    assert expected <= set(fields)
    text = pdf_text(RENDER.render(doc).pdf)  # type: ignore[arg-type]
    missing = [name for name, value in fields.items() if not contains(text, value)]
    assert missing == []


def test_full_invoice_pdf_shows_the_literal_legal_values() -> None:
    """Not only 'whatever the domain lists': the values a tax auditor looks for, spelled out."""
    text = pdf_text(RENDER.render(document(InvoiceKind.FULL, intervals=10)).pdf)
    for value in ("Beispiel Fernwartung GmbH (Beispiel)", "Beispielstraße 1, 10115 Berlin",
                  "Muster GmbH", "Erika Mustermann", "Hauptstr. 1", "10115 Berlin",
                  "Steuernummer: 12/345/67890", "USt-IdNr.: DE123456789",
                  "Rechnungsnummer: FW-2026-000001", "Rechnungsdatum: 10.03.2026",
                  "Leistungsdatum: 10.03.2026", "Fernwartung je angefangene 15 Min.",
                  "Summe netto (19 %) 240,00 €", "Umsatzsteuer 19 % 45,60 €",
                  "Gesamtbetrag brutto 285,60 €", "IBAN DE02120300000000202051", "BEISPIELDATEN"):
        assert contains(text, value), value


def test_kleinbetrag_pdf_carries_no_recipient_data() -> None:
    doc = document(InvoiceKind.SMALL, intervals=3)
    assert doc.recipient is None and not doc.e_invoice  # the builder drops what was passed
    rendered = RENDER.render(doc)
    text = pdf_text(rendered.pdf)
    for personal in ("Muster GmbH", "Erika", "Mustermann", "Hauptstr", "Rechnungsempfänger", "K00001"):
        assert personal not in text
    assert rendered.xml is None
    assert "Gesamtbetrag brutto 85,68 €" in text and "19 %" in text and "§ 33 UStDV" in text


def test_storno_pdf_has_negative_amounts_and_the_reference() -> None:
    text = pdf_text(RENDER.render(storno(InvoiceKind.FULL)).pdf)  # type: ignore[arg-type]
    for value in ("Stornorechnung", "Stornonummer: FW-S-2026-000001",
                  "Storno zu Rechnung: FW-2026-000001 vom 10.03.2026", "Rechnungsbetrag fehlerhaft",
                  "Gesamtbetrag brutto -285,60 €", "Umsatzsteuer 19 % -45,60 €", "-240,00 €"):
        assert contains(text, value), value


def test_rendering_is_deterministic() -> None:
    for doc in (document(InvoiceKind.SMALL, intervals=2), document(InvoiceKind.FULL)):
        first, second = RENDER.render(doc), RENDER.render(doc)
        assert first.pdf == second.pdf and first.xml == second.xml


def test_factur_x_xml_validates_and_is_embedded() -> None:
    rendered = RENDER.render(document(InvoiceKind.FULL, surcharge=Decimal("60.00")))
    assert rendered.xml is not None and check_xsd(rendered.xml)
    name, embedded = facturx.get_facturx_xml_from_pdf(rendered.pdf)  # also checks the XSD
    assert name == "factur-x.xml" and embedded == rendered.xml
    root = etree.fromstring(rendered.xml)
    assert facturx.get_level(root) == "en16931"
    assert root.findtext(".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", namespaces=CII) == \
        "urn:cen.eu:en16931:2017"
    assert root.findtext(".//ram:GrandTotalAmount", namespaces=CII) == "357.00"


def test_factur_x_passes_the_en16931_schematron() -> None:
    for doc in (document(InvoiceKind.FULL, surcharge=Decimal("60.00")), storno(InvoiceKind.FULL)):
        xml = RENDER.render(doc).xml  # type: ignore[arg-type]
        assert xml is not None
        assert schematron_failures(xml) == []


def test_the_schematron_check_does_catch_an_error() -> None:
    xml = RENDER.render(document(InvoiceKind.FULL)).xml
    assert xml is not None
    broken = xml.replace(b"<ram:GrandTotalAmount>285.60", b"<ram:GrandTotalAmount>285.61")
    assert any(f.startswith("BR-CO-15") for f in schematron_failures(broken))


def test_storno_of_an_e_invoice_is_a_credit_note_referencing_the_original() -> None:
    rendered = RENDER.render(storno(InvoiceKind.FULL))  # type: ignore[arg-type]
    assert rendered.xml is not None and check_xsd(rendered.xml)
    root = etree.fromstring(rendered.xml)
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=CII) == "381"
    assert root.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=CII) == "FW-2026-000001"
    assert root.findtext(".//ram:GrandTotalAmount", namespaces=CII) == "285.60"  # 381: positive


def test_b2c_full_invoice_has_no_xml_and_cii_refuses_small_invoices() -> None:
    assert RENDER.render(document(InvoiceKind.FULL, e_invoice=False)).xml is None
    with pytest.raises(ValueError, match="only full invoices get one"):
        cii_xml(document(InvoiceKind.SMALL, intervals=3))


def test_pdf_has_the_pdfa3_structure() -> None:
    """PDF/A-3b ingredients (not a conformance check: no veraPDF here): embedded fonts, an
    output intent with an ICC profile, XMP with pdfaid part 3, the Factur-X XMP extension."""
    for doc in (document(InvoiceKind.SMALL, intervals=2), document(InvoiceKind.FULL)):
        reader = pypdf.PdfReader(io.BytesIO(RENDER.render(doc).pdf))
        root = reader.trailer["/Root"]
        assert "/OutputIntents" in root and "/DestOutputProfile" in root["/OutputIntents"][0].get_object()
        xmp = root["/Metadata"].get_object().get_data().decode()
        assert re.search(r"pdfaid:part>3<", xmp) and re.search(r"pdfaid:conformance>B<", xmp)
        fonts = reader.pages[0]["/Resources"]["/Font"]
        assert all("/FontFile2" in f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                   for f in fonts.values())
        if doc.e_invoice:
            assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp and "EN 16931" in xmp
            assert "/AF" in root


def test_vat_exempt_invoice_prints_the_exemption_note_and_category_e() -> None:
    note = "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet."
    issuer = EXAMPLE_ISSUER.model_copy(update={"vat_exemption_note": note})
    doc = document(InvoiceKind.FULL, intervals=12, vat_rate=Decimal(0), issuer=issuer)
    rendered = RENDER.render(doc)
    assert contains(pdf_text(rendered.pdf), "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet.")
    assert rendered.xml is not None and b"<ram:CategoryCode>E</ram:CategoryCode>" in rendered.xml
    assert schematron_failures(rendered.xml) == []


def test_incomplete_documents_are_refused() -> None:
    with pytest.raises(DocumentIncomplete, match="recipient"):
        check_complete(replace(document(InvoiceKind.FULL), recipient=None))
    with pytest.raises(DocumentIncomplete, match="consistent_totals"):
        check_complete(replace(document(InvoiceKind.FULL), gross_total=Decimal("1.00")))
    with pytest.raises(ValueError, match="a cancellation cannot be cancelled"):
        cancellation_document(storno(InvoiceKind.FULL), number="X-1", issued_at=ISSUED,  # type: ignore[arg-type]
                              reason_code="other")
