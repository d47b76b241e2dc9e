"""Line breaking of the invoice PDF: long texts wrap inside their column, nothing is lost."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from fw_billing.adapters.pdf import _Pdf, render_pdf
from fw_contracts.events import InvoiceKind, InvoiceLine

from .documents_support import contains, document, pdf_text


def test_wrap_keeps_every_word_and_respects_the_width() -> None:
    doc = document(InvoiceKind.SMALL, intervals=1)
    pdf = _Pdf(doc)
    pdf.set_font("DejaVu", "", 9)
    text = "Fernwartung " * 12 + "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen Ende"
    lines = pdf.wrap(text, 40)
    assert len(lines) > 3
    assert all(pdf.get_string_width(line) <= 40 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost or added
    assert pdf.wrap("kurz", 40) == ["kurz"]


def test_a_long_line_description_wraps_inside_the_table() -> None:
    description = ("Fernwartung mit Einrichtung eines neuen Druckers, Prüfung der Netzwerkfreigaben und "
                   "Aktualisierung der Virenschutzsoftware auf drei Arbeitsplätzen")
    base = document(InvoiceKind.FULL, intervals=2, e_invoice=False)
    line = InvoiceLine(description=description, quantity=Decimal(2), unit="C62", unit_price=Decimal("24.00"),
                       net=Decimal("48.00"))
    text = pdf_text(render_pdf(replace(base, lines=(line,))))
    for word in description.split():
        assert word.strip(",") in text
    assert contains(text, "48,00 €")
