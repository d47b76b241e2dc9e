"""Shared builders and checks for the document tests (PDF text, Factur-X, schematron)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import facturx
import pypdf
from lxml import etree

from fw_contracts.events import InvoiceKind, InvoiceLine

from fw_billing.domain.documents import Document, Party, invoice_document
from fw_billing.domain.issuer import EXAMPLE_ISSUER, Issuer

ISSUED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RECIPIENT = Party(name="Muster GmbH", contact="Erika Mustermann", street="Hauptstr. 1",
                  postal_code="10115", city="Berlin")


def lines(intervals: int, surcharge: Decimal | None = None) -> tuple[InvoiceLine, ...]:
    out = [InvoiceLine(description="Fernwartung je angefangene 15 Min.", quantity=Decimal(intervals),
                       unit="C62", unit_price=Decimal("24.00"), net=Decimal("24.00") * intervals)]
    if surcharge is not None:
        out.append(InvoiceLine(description="Abendzuschlag 25 % auf den Zeitanteil", quantity=Decimal(1),
                               unit="C62", unit_price=surcharge, net=surcharge))
    return tuple(out)


def document(kind: InvoiceKind = InvoiceKind.FULL, *, intervals: int = 10, e_invoice: bool = True,
             issuer: Issuer = EXAMPLE_ISSUER, vat_rate: Decimal = Decimal("0.19"),
             surcharge: Decimal | None = None, number: str = "FW-2026-000001") -> Document:
    items = lines(intervals, surcharge)
    net = sum((x.net for x in items), Decimal("0.00"))
    vat = (net * vat_rate).quantize(Decimal("0.01"))
    return invoice_document(
        kind=kind, number=number, issued_at=ISSUED, service_date=ISSUED - timedelta(hours=2),
        issuer=issuer, recipient=RECIPIENT, lines=items, net_total=net, vat_rate=vat_rate,
        vat_total=vat, gross_total=net + vat, customer_number="K00001", raw_seconds=intervals * 900 - 5,
        billed_seconds=intervals * 900, tariff_version="2026-01", e_invoice=e_invoice)


def pdf_text(pdf: bytes) -> str:
    """All pages' text, whitespace collapsed (line breaks fall where the layout puts them)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def contains(text: str, value: str) -> bool:
    """Whether ``value`` is printed (a wrapped line may split it at a space)."""
    return re.sub(r"\s+", " ", value) in text


def check_xsd(xml: bytes) -> bool:
    return bool(facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931"))


def schematron_failures(xml: bytes) -> list[str] | None:
    """Failed EN 16931 schematron asserts (Factur-X 1.0x EN16931), or None without saxonche."""
    try:
        from saxonche import PySaxonProcessor
    except ImportError:
        return None
    xslt = Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
    with PySaxonProcessor(license=False) as proc:
        exe = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(xslt))
        node = proc.parse_xml(xml_text=xml.decode())
        report = exe.transform_to_string(xdm_node=node)
    ns: dict[str, Any] = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    root = etree.fromstring(report.encode())
    assert root.findall(".//svrl:fired-rule", ns), "the schematron fired no rule: wrong document?"
    return [f"{f.get('id')}: {f.findtext('svrl:text', namespaces=ns)}"
            for f in root.findall(".//svrl:failed-assert", ns)]
