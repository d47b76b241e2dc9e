"""The :class:`DocumentRenderer`: PDF for every document; for an e-invoice the CII XML, checked
against the Factur-X EN 16931 schema and embedded with the ``factur-x`` package (PDF/A-3,
``factur-x.xml``, AFRelationship Data, Factur-X XMP extension schema).
"""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from typing import Any

import facturx
from facturx import facturx as _fx

from fw_billing.adapters.cii import cii_xml
from fw_billing.adapters.pdf import render_pdf
from fw_billing.application.ports import RenderedDocument
from fw_billing.domain.documents import Document

# factur-x stamps "now" into the PDF's dates. We need the issue time instead, so that a document
# re-created from the stored invoice is byte-identical to the archived one. Its two timestamp
# helpers are swapped for the duration of one call, under a lock (renders run in threads).
_STAMP_LOCK = threading.Lock()


def _embed(pdf: bytes, xml: bytes, doc: Document) -> bytes:
    at = doc.issued_at.astimezone(UTC)
    pdf_stamp = at.strftime("D:%Y%m%d%H%M%S+00'00'")
    xmp_stamp = at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    metadata = {
        "author": doc.issuer.name,
        "keywords": "Factur-X, ZUGFeRD, EN 16931, Rechnung",
        "title": f"{doc.title} {doc.number}",
        "subject": f"{doc.title} {doc.number} vom {doc.issue_date.strftime('%d.%m.%Y')}",
    }
    original: dict[str, Any] = {"_get_pdf_timestamp": _fx._get_pdf_timestamp,
                                "_get_metadata_timestamp": _fx._get_metadata_timestamp}

    def pdf_timestamp(date: datetime | None = None) -> str:
        return original["_get_pdf_timestamp"](date) if date is not None else pdf_stamp

    with _STAMP_LOCK:
        _fx._get_pdf_timestamp = pdf_timestamp
        _fx._get_metadata_timestamp = lambda: xmp_stamp
        try:
            return _generate(pdf, xml, metadata)
        finally:
            _fx._get_pdf_timestamp = original["_get_pdf_timestamp"]
            _fx._get_metadata_timestamp = original["_get_metadata_timestamp"]


def _generate(pdf: bytes, xml: bytes, metadata: dict[str, str]) -> bytes:
    """``facturx.generate_from_binary`` in memory: that function writes the PDF to a named
    temporary file, which pypdf then reads through ``tempfile``'s wrapper a few bytes at a time
    (a third of the embedding's CPU). The same steps on a ``BytesIO`` (written, handed to
    ``generate_from_file``, which writes the result into it, read from the start) give the
    same bytes (tested against ``generate_from_binary``)."""
    buffer = io.BytesIO()
    buffer.write(pdf)
    facturx.generate_from_file(buffer, xml, flavor="factur-x", level="en16931", check_xsd=True,
                               pdf_metadata=metadata, lang="de-DE")
    buffer.seek(0)
    return buffer.read()


class PdfRenderer:
    """Renders documents; stateless and thread-safe."""

    def render(self, document: Document) -> RenderedDocument:
        """PDF (plus XML for an e-invoice). Deterministic for the same document."""
        pdf = render_pdf(document)
        if not document.e_invoice:
            return RenderedDocument(pdf=pdf)
        xml = cii_xml(document)
        return RenderedDocument(pdf=_embed(pdf, xml, document), xml=xml)
